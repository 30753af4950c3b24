import type { Command } from 'commander';
import { deleteRemote } from '../../../repo/remotes.js';
import type { Rendered } from '../../output.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(remote: Command): void {
  addRepoOption(remote.command('delete'))
    .description("delete a remote from the repository config (its refs under refs/remotes stay)")
    .argument('<name>', 'remote name')
    .option('--if-exists', 'succeed when there is no such remote')
    .action(
      action(async (name: string, opts: { repo?: string; ifExists?: boolean }): Promise<Rendered<{ name: string; deleted: boolean }>> => {
        const repo = openRepo(opts);
        const deleted = await repo.withLock('shared', () => deleteRemote(repo, name, { ifExists: !!opts.ifExists }));
        return { data: { name, deleted }, text: (d) => (d.deleted ? `deleted remote '${d.name}'` : `no remote '${d.name}'`) };
      }),
    );
}
