/** `ingot static-delta list`: the static deltas of a repository. */
import type { Command } from 'commander';
import { listStaticDeltas } from '../../../transport/delta.js';
import { describeDelta } from '../../../transport/delta-generate.js';
import { action, addRepoOption, humanBytes, openRepo } from '../../util.js';

export function register(group: Command): void {
  addRepoOption(group.command('list'))
    .description('list static deltas (FROM-TO or TO for deltas from scratch)')
    .action(
      action((opts: { repo?: string }) => {
        const repo = openRepo(opts);
        const deltas = listStaticDeltas(repo).map((d) => describeDelta(repo, d));
        return {
          data: deltas,
          text: (l) => (l.length === 0 ? '(no static deltas)' : l.map((d) => `${d.name}  ${humanBytes(d.size)} in ${d.files} files`).join('\n')),
        };
      }),
    );
}
