import type { Command } from 'commander';
import { diff } from '../../../repo/inspect.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('diff'))
    .description('paths added (A), removed (D) and modified (M) between two commits')
    .argument('<from>', 'older rev')
    .argument('<to>', 'newer rev')
    .action(
      action((a: string, b: string, opts: { repo?: string }) => {
        const res = diff(openRepo(opts), a, b);
        return {
          data: res,
          text: (d) =>
            [
              ...d.modified.map((p) => `M    ${p}`),
              ...d.removed.map((p) => `D    ${p}`),
              ...d.added.map((p) => `A    ${p}`),
            ].join('\n'),
        };
      }),
    );
}
