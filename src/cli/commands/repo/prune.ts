import type { Command } from 'commander';
import { prune } from '../../../repo/prune.js';
import { action, addRepoOption, humanBytes, openRepo, parseIntOption, parseTimestamp } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('prune'))
    .description('delete objects that no commit (or, with --refs-only, no ref) keeps')
    .option('--refs-only', 'keep only what refs reach (deletes unreferenced commits)')
    .option('--depth <n>', 'with --refs-only: parent commits to keep per ref (-1 = all)', parseIntOption('--depth'))
    .option('--keep-younger-than <date>', 'delete commits older than this date that no ref points at')
    .option('--no-prune', 'only report what would be deleted')
    .action(
      action(async (opts: { repo?: string; refsOnly?: boolean; depth?: number; keepYoungerThan?: string; prune: boolean }) => {
        const res = await prune(openRepo(opts), {
          refsOnly: !!opts.refsOnly,
          ...(opts.depth !== undefined && { depth: opts.depth }),
          ...(opts.keepYoungerThan !== undefined && { keepYoungerThan: Number(parseTimestamp(opts.keepYoungerThan, '--keep-younger-than')) }),
          dryRun: !opts.prune,
        });
        return {
          data: res,
          text: (d) =>
            `Total objects: ${d.objectsTotal}\n` +
            (d.objectsDeleted === 0
              ? 'No unreachable objects'
              : `${d.dryRun ? 'Would delete' : 'Deleted'} ${d.objectsDeleted} objects (${d.commitsDeleted.length} commits), ${humanBytes(d.bytesFreed)} freed`),
        };
      }),
    );
}
