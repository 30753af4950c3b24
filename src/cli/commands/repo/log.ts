import type { Command } from 'commander';
import { log } from '../../../repo/inspect.js';
import { action, addRepoOption, openRepo } from '../../util.js';
import { renderCommit } from './show.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('log'))
    .description('show the history of a ref, newest first')
    .argument('<rev>', 'ref or commit')
    .action(
      action((rev: string, opts: { repo?: string }) => {
        const res = log(openRepo(opts), rev);
        return {
          data: res,
          text: (d) =>
            d.commits.map((c) => renderCommit(c, false)).join('\n') +
            (d.truncatedAt ? `\n<< History beyond this commit not fetched (parent ${d.truncatedAt}) >>` : ''),
        };
      }),
    );
}
