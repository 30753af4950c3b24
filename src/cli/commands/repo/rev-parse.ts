import type { Command } from 'commander';
import { revParse } from '../../../repo/inspect.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('rev-parse'))
    .description('print the commit checksum a rev names (ref, remote:ref, checksum prefix, rev^)')
    .argument('<rev>', 'rev to resolve')
    .action(
      action((rev: string, opts: { repo?: string }) => {
        const c = revParse(openRepo(opts), rev);
        return { data: { rev, commit: c }, text: (d) => d.commit };
      }),
    );
}
