import type { Command } from 'commander';
import { updateRefs } from '../../../repo/inspect.js';
import type { Rendered } from '../../output.js';
import { action, addRepoOption, collect, openRepo, splitKeyValue } from '../../util.js';

interface RefsOut {
  created: [string, string][];
  deleted: string[];
  refs: Record<string, string>;
}

export function register(repo: Command): void {
  addRepoOption(repo.command('refs'))
    .description('list refs, or create (NAME=COMMIT) and delete them')
    .argument('[names...]', 'with --delete: refs to delete')
    .option('--create <name=commit>', 'create or move a ref', collect, [])
    .option('--delete', 'delete the named refs')
    .action(
      action(async (names: string[], opts: { repo?: string; create: string[]; delete?: boolean }): Promise<Rendered<RefsOut>> => {
        const r = openRepo(opts);
        if (opts.create.length || opts.delete) {
          const res = await r.withLock('shared', () =>
            updateRefs(
              r,
              opts.create.map((s) => splitKeyValue(s, '--create')),
              opts.delete ? names : [],
            ),
          );
          return {
            data: { ...res, refs: {} as Record<string, string> },
            text: (d) => [...d.created.map(([n, c]) => `${n} -> ${c}`), ...d.deleted.map((n) => `deleted ${n}`)].join('\n'),
          };
        }
        const refs = [...r.listRefs()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return {
          data: { created: [] as [string, string][], deleted: [] as string[], refs: Object.fromEntries(refs) },
          text: () => refs.map(([n]) => n).join('\n'),
        };
      }),
    );
}
