import type { Command } from 'commander';
import { checkout } from '../../../repo/checkout.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('checkout'))
    .description('check out a commit into a directory (hardlinks from bare and bare-user repositories)')
    .argument('<rev>', 'ref or commit')
    .argument('<dest>', 'destination directory (must not exist unless --union)')
    .option('--subpath <path>', 'check out only this path of the commit')
    .option('--union', 'write into an existing directory, replacing files')
    .option('--require-hardlinks', 'fail instead of copying when a file cannot be hardlinked')
    .option('-U, --user-mode', 'do not restore ownership and xattrs (hardlinks from bare-user)')
    .option('--force-copy', 'never hardlink')
    .action(
      action(async (rev: string, dest: string, opts: { repo?: string; subpath?: string; union?: boolean; requireHardlinks?: boolean; userMode?: boolean; forceCopy?: boolean }) => {
        const r = openRepo(opts);
        const res = await checkout(r, rev, dest, {
          ...(opts.subpath !== undefined && { subpath: opts.subpath }),
          union: !!opts.union,
          requireHardlinks: !!opts.requireHardlinks,
          userMode: !!opts.userMode,
          forceCopy: !!opts.forceCopy,
        });
        return {
          data: res,
          text: (d) => `checked out ${d.commit.slice(0, 12)} into ${d.destination}: ${d.files} files (${d.hardlinked} hardlinked, ${d.copied} copied, ${d.symlinks} symlinks), ${d.dirs} directories`,
        };
      }),
    );
}
