import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { readSummary, updateSummary, type SummaryView } from '../../../repo/summary.js';
import { action, addRepoOption, openRepo } from '../../util.js';

function render(d: SummaryView): string {
  let s = '';
  for (const r of d.refs) {
    s += `* ${r.name}\n    Latest Commit (${r.commitSize} bytes):\n      ${r.checksum}\n`;
    if (r.version) s += `    Version (ostree.commit.version): ${r.version}\n`;
    if (r.timestamp !== null) s += `    Timestamp (ostree.commit.timestamp): ${new Date(r.timestamp * 1000).toISOString()}\n`;
  }
  s += '\n' + d.metadata.map(([k, v]) => `${k}: ${v}`).join('\n');
  return s;
}

export function register(repo: Command): void {
  addRepoOption(repo.command('summary'))
    .description('write (-u) or show (--view) the repository summary')
    .option('-u, --update', 'regenerate the summary from the refs (removes summary.sig)')
    .option('-v, --view', 'show the summary')
    .action(
      action(async (opts: { repo?: string; update?: boolean; view?: boolean }) => {
        const r = openRepo(opts);
        if (!opts.update && !opts.view) {
          throw new IngotError('USAGE', 'summary needs -u (update) or --view', { hint: 'ingot repo summary -u --repo DIR' });
        }
        const v = opts.update ? await updateSummary(r) : readSummary(r);
        return { data: v, text: (d) => (opts.view ? render(d) : `updated summary: ${d.refs.length} refs`) };
      }),
    );
}
