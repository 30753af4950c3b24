import type { Command } from 'commander';
import { pipeline } from 'node:stream/promises';
import { cat } from '../../../repo/inspect.js';
import { addRepoOption, openRepo } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('cat'))
    .description('write the contents of a file in a commit to standard output')
    .argument('<rev>', 'ref or commit')
    .argument('<path>', 'file path inside the commit')
    .action(async (rev: string, p: string, opts: { repo?: string }) => {
      await pipeline(cat(openRepo(opts), rev, p), process.stdout, { end: false });
    });
}
