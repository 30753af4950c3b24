/** `ingot advisories list [--cve ID] [--package NAME]`: what the advisory database holds. */
import type { Command } from 'commander';
import { AdvisoryDb } from '../../../inventory/advisory-db.js';
import { action, parseIntOption } from '../../util.js';
import { addAdvisoryDbOption, advisoryDbPath } from '../inventory/common.js';

export function register(group: Command): void {
  addAdvisoryDbOption(group.command('list'))
    .description('list the sources and advisories in the local advisory database')
    .option('--repo <dir>', 'the database in this repository folder (REPO/ingot-advisories.sqlite)')
    .option('--cve <id>', 'only advisories for this CVE (or with this advisory id)')
    .option('--package <name>', 'only advisories naming this (source or binary) package')
    .option('--limit <n>', 'at most N advisories (default 1000)', parseIntOption('--limit'))
    .action(
      action((opts: { advisoryDb?: string; repo?: string; cve?: string; package?: string; limit?: number }) => {
        const db = AdvisoryDb.open(advisoryDbPath(opts));
        try {
          const stats = db.stats();
          const advisories = db.list({ ...(opts.cve && { cve: opts.cve }), ...(opts.package && { package: opts.package }), ...(opts.limit !== undefined && { limit: opts.limit }) });
          const data = { ...stats, listed: advisories };
          return {
            data,
            text: (d: typeof data) =>
              [
                `${d.advisories} advisories, ${d.cves} CVEs, from ${d.sources.length} source(s)`,
                ...d.sources.map((s) => `  ${s.name} (${s.format}, ${s.advisories})`),
                ...d.listed.map((a) => `${a.id}  ${a.severity}  ${a.cves.join(',') || '-'}  ${a.packages.join(', ')}`),
              ].join('\n'),
          };
        } finally {
          db.close();
        }
      }),
    );
}
