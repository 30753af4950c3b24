import type { Command } from 'commander';
import { listRemotes, type RemoteConfig } from '../../../repo/remotes.js';
import type { Rendered } from '../../output.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(remote: Command): void {
  addRepoOption(remote.command('list'))
    .description('list the remotes of the repository')
    .option('-u, --show-urls', 'show each remote URL and whether signatures are verified')
    .action(
      action(async (opts: { repo?: string; showUrls?: boolean }): Promise<Rendered<{ remotes: RemoteConfig[] }>> => {
        const remotes = listRemotes(openRepo(opts));
        return {
          data: { remotes },
          text: (d) =>
            d.remotes
              .map((r) => (opts.showUrls ? `${r.name}\t${r.url}${r.signVerify ? '\tsign-verify' : ''}` : r.name))
              .join('\n'),
        };
      }),
    );
}
