import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { loadSysroot, openSysrootRepo } from '../../../sysroot/layout.js';
import { sysrootStatus } from '../../../sysroot/status.js';
import { action } from '../../util.js';
import { dbDiffData, dbDiffText } from '../db/diff.js';
import { addSysrootOption, statusText } from './common.js';

export function register(admin: Command): void {
  addSysrootOption(admin.command('status'))
    .description('list the deployments in boot order: checksum, version, origin, pin, booted/pending/rollback')
    .option('--diff', 'with each deployment, its package changes against the booted one (else the default)')
    .action(
      action(async (opts: { sysroot: string; diff?: boolean }) => {
        const s = loadSysroot(opts.sysroot);
        const repo = openSysrootRepo(s.root);
        const st = sysrootStatus(s, repo);
        const base = st.deployments.find((d) => d.booted) ?? st.deployments[0];
        const diffs = new Map<number, ReturnType<typeof dbDiffData> | { error: string }>();
        if (opts.diff && base) {
          for (const d of st.deployments) {
            if (d.index === base.index) continue;
            try {
              diffs.set(d.index, dbDiffData(repo, base.checksum, d.checksum));
            } catch (e) {
              if (!(e instanceof IngotError)) throw e;
              diffs.set(d.index, { error: `${e.code}: ${e.message}` });
            }
          }
        }
        const data = { ...st, ...(opts.diff && { diffs: Object.fromEntries(diffs) }) };
        return {
          data,
          text: () => {
            let out = statusText(st);
            for (const [i, d] of diffs) {
              out += `\nPackages of deployment ${i} against deployment ${base!.index}:\n`;
              out += 'error' in d ? `  (no package inventory: ${d.error})\n` : dbDiffText(d) + '\n';
            }
            return out;
          },
        };
      }),
    );
}
