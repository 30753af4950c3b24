import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { readSummary, updateSummary, type SummaryView } from '../../../repo/summary.js';
import { readSecretKeysFile } from '../../../repo/sign.js';
import { action, addRepoOption, collect, openRepo } from '../../util.js';

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
    .option('--sign', 'with -u: sign the new summary (writes summary.sig) with the secret keys of --keys-file')
    .option('--keys-file <file>', 'with --sign: ed25519 secret key file (one base64 key per line, as ingot keygen writes); repeatable', collect)
    .action(
      action(async (opts: { repo?: string; update?: boolean; view?: boolean; sign?: boolean; keysFile?: string[] }) => {
        const r = openRepo(opts);
        if (!opts.update && !opts.view) {
          throw new IngotError('USAGE', 'summary needs -u (update) or --view', { hint: 'ingot repo summary -u --repo DIR' });
        }
        if (opts.sign && (!opts.update || !opts.keysFile?.length)) {
          throw new IngotError('USAGE', '--sign needs -u and --keys-file', { hint: 'ingot repo summary -u --sign --keys-file SECRET --repo DIR' });
        }
        const signKeys = opts.sign ? opts.keysFile!.flatMap((f) => readSecretKeysFile(f)) : undefined;
        const v = opts.update ? await updateSummary(r, undefined, signKeys ? { signKeys } : {}) : readSummary(r);
        return { data: v, text: (d) => (opts.view ? render(d) : `updated summary: ${d.refs.length} refs`) };
      }),
    );
}
