/**
 * `ingot sign`: add an ed25519 signature to a commit's detached metadata, or (--verify) check
 * the commit's signatures against trusted and revoked public keys, as `ostree sign` does.
 */
import type { Command } from 'commander';
import { IngotError } from '../../core/errors.js';
import { revParse } from '../../repo/inspect.js';
import { readPublicKeysFile, readSecretKeysFile, signCommit, signSummary, verifyRepoCommit, verifyRepoSummary } from '../../repo/sign.js';
import type { Rendered } from '../output.js';
import { action, addRepoOption, collect, openRepo } from '../util.js';

interface SignResult {
  commit?: string;
  summary?: boolean;
  verified?: boolean;
  keyId?: string;
  keyIds?: string[];
}

interface Opts {
  repo?: string;
  keysFile?: string[];
  revokedKeysFile?: string[];
  verify?: boolean;
  summary?: boolean;
}

export function register(program: Command): void {
  addRepoOption(program.command('sign'))
    .description("sign a commit with ed25519 keys (ostree's ostree.sign.ed25519), or --verify its signatures")
    .argument('[commit]', 'commit checksum or ref (not with --summary)')
    .option('--keys-file <file>', 'secret key file (signing) or public key file (--verify); one base64 key per line; repeatable', collect)
    .option('--verify', 'verify the signatures instead of signing')
    .option('--revoked-keys-file <file>', 'with --verify: public keys that must not be accepted; repeatable', collect)
    .option('--summary', "sign (or --verify) the repository's summary (summary.sig) instead of a commit")
    .action(
      action(async (rev: string | undefined, opts: Opts): Promise<Rendered<SignResult>> => {
        const repo = openRepo(opts);
        if (!opts.keysFile?.length) {
          throw new IngotError('USAGE', 'sign needs --keys-file', { hint: 'ingot sign --repo DIR COMMIT --keys-file FILE [--verify]' });
        }
        if (opts.revokedKeysFile?.length && !opts.verify) throw new IngotError('USAGE', '--revoked-keys-file needs --verify');
        if (opts.summary) {
          if (rev !== undefined) throw new IngotError('USAGE', '--summary takes no COMMIT argument');
          if (opts.verify) {
            const trusted = opts.keysFile.flatMap((f) => readPublicKeysFile(f));
            const revoked = (opts.revokedKeysFile ?? []).flatMap((f) => readPublicKeysFile(f));
            const r = verifyRepoSummary(repo, { trusted, revoked });
            return { data: { summary: true, verified: true, keyId: r.keyId }, text: () => `ed25519: summary signature verified with key '${r.keyId}'` };
          }
          const ids = signSummary(repo, opts.keysFile.flatMap((f) => readSecretKeysFile(f)));
          return { data: { summary: true, keyIds: ids }, text: () => ids.map((id) => `signed summary with key '${id}'`).join('\n') };
        }
        if (rev === undefined) throw new IngotError('USAGE', 'sign needs a COMMIT (or --summary)', { hint: 'ingot sign --repo DIR COMMIT --keys-file FILE' });
        const checksum = revParse(repo, rev);
        if (opts.verify) {
          const trusted = opts.keysFile.flatMap((f) => readPublicKeysFile(f));
          const revoked = (opts.revokedKeysFile ?? []).flatMap((f) => readPublicKeysFile(f));
          const r = verifyRepoCommit(repo, checksum, { trusted, revoked });
          return { data: { commit: checksum, verified: true, keyId: r.keyId }, text: () => `ed25519: signature of ${checksum} verified with key '${r.keyId}'` };
        }
        const keys = opts.keysFile.flatMap((f) => readSecretKeysFile(f));
        const ids = await signCommit(repo, checksum, keys);
        return { data: { commit: checksum, keyIds: ids }, text: () => ids.map((id) => `signed ${checksum} with key '${id}'`).join('\n') };
      }),
    );
}
