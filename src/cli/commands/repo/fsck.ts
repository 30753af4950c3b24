import type { Command } from 'commander';
import { fsck } from '../../../repo/fsck.js';
import { ERROR_CODES } from '../../../core/codes.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('fsck'))
    .description('verify every object that the commits in the repository reach')
    .option('--delete', 'delete corrupt objects and mark their commits partial')
    .action(
      action(async (opts: { repo?: string; delete?: boolean }) => {
        const res = await fsck(openRepo(opts), { delete: !!opts.delete });
        return {
          data: res,
          exitCode: res.problems.length ? ERROR_CODES.FSCK_FAILED.exit : 0,
          text: (d) => {
            let s = `checked ${d.commits} commits (${d.partialCommits} partial), ${d.objects} objects\n`;
            for (const p of d.problems) s += `error[${p.code}]: ${p.message}\n`;
            if (d.deleted.length) s += `deleted ${d.deleted.length} corrupt objects\n`;
            if (d.markedPartial.length) s += `marked ${d.markedPartial.length} commits partial: ${d.markedPartial.join(', ')}\n`;
            s += d.problems.length ? `fsck found ${d.problems.length} problems` : 'fsck: no problems found';
            return s;
          },
        };
      }),
    );
}
