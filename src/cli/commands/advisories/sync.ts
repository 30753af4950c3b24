/** `ingot advisories sync SOURCE...`: loads OSV, Debian tracker and updateinfo advisories (incrementally). */
import type { Command } from 'commander';
import { syncAdvisories, type SyncResult } from '../../../inventory/advisory-db.js';
import { action } from '../../util.js';
import { addAdvisoryDbOption, advisoryDbPath } from '../inventory/common.js';

export function register(group: Command): void {
  addAdvisoryDbOption(group.command('sync'))
    .description('load advisories from files, directories or URLs into the local advisory database (unchanged sources are skipped)')
    .argument('<sources...>', 'OSV JSON (file, array, or directory of records), Debian security tracker JSON, or updateinfo.xml[.gz]; files or http(s) URLs')
    .option('--repo <dir>', 'keep the database in this repository folder (REPO/ingot-advisories.sqlite)')
    .option('--distro <key>', 'the distribution an updateinfo.xml is for (e.g. fedora:39, rhel:9); default: any RPM target')
    .option('--force', 'parse and apply sources even when they have not changed')
    .action(
      action(async (sources: string[], opts: { advisoryDb?: string; repo?: string; distro?: string; force?: boolean }) => {
        const file = advisoryDbPath(opts);
        const results = await syncAdvisories(file, sources, { ...(opts.distro !== undefined && { distro: opts.distro }), ...(opts.force && { force: true }) });
        return {
          data: { database: file, sources: results },
          text: (d: { database: string; sources: SyncResult[] }) =>
            [
              `advisory database ${d.database}`,
              ...d.sources.map((s) =>
                s.skipped
                  ? `  ${s.source}: unchanged since the last sync (${s.advisories} advisories)`
                  : `  ${s.source}: ${s.format}, ${s.advisories} advisories: ${s.added} added, ${s.updated} updated, ${s.removed} removed, ${s.unchanged} unchanged`,
              ),
            ].join('\n'),
        };
      }),
    );
}
