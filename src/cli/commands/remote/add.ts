import type { Command } from 'commander';
import { addRemote, type RemoteConfig } from '../../../repo/remotes.js';
import type { Rendered } from '../../output.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(remote: Command): void {
  addRepoOption(remote.command('add'))
    .description('add a remote to the repository config, with the keys ostree reads')
    .argument('<name>', 'remote name')
    .argument('<url>', 'URL of the remote archive repository (http://, https:// or file://)')
    .option('--sign-verify', 'verify ed25519 signatures of pulled commits (on by default with a verification key)')
    .option('--sign-verify-summary', 'also require a verified summary.sig')
    .option('--verification-key <key>', 'trusted ed25519 public key (base64), written as verification-ed25519-key')
    .option('--verification-file <path>', 'file of trusted public keys (one base64 key a line), written as verification-ed25519-file')
    .option('--contenturl <url>', 'fetch objects and deltas from this URL instead')
    .option('--force', 'replace a remote of the same name')
    .action(
      action(
        async (
          name: string,
          url: string,
          opts: { repo?: string; signVerify?: boolean; signVerifySummary?: boolean; verificationKey?: string; verificationFile?: string; contenturl?: string; force?: boolean },
        ): Promise<Rendered<RemoteConfig>> => {
          const repo = openRepo(opts);
          const r = await repo.withLock('shared', () =>
            addRemote(repo, name, url, {
              ...(opts.signVerify !== undefined && { signVerify: opts.signVerify }),
              ...(opts.signVerifySummary !== undefined && { signVerifySummary: opts.signVerifySummary }),
              ...(opts.verificationKey !== undefined && { verificationKey: opts.verificationKey }),
              ...(opts.verificationFile !== undefined && { verificationFile: opts.verificationFile }),
              ...(opts.contenturl !== undefined && { contentUrl: opts.contenturl }),
              ...(opts.force !== undefined && { force: opts.force }),
            }),
          );
          return { data: r, text: (d) => `added remote '${d.name}' (${d.url})${d.signVerify ? ', ed25519 signatures verified' : ''}` };
        },
      ),
    );
}
