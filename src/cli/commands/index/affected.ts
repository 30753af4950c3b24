/** `ingot index affected CVE-ID`: every indexed target that an advisory for the CVE affects. */
import type { Command } from 'commander';
import { AdvisoryDb } from '../../../inventory/advisory-db.js';
import type { AffectedHit, QueryHit } from '../../../inventory/fleet.js';
import { action } from '../../util.js';
import { addAdvisoryDbOption, addIndexDbOption, advisoryDbPath, openIndex } from '../inventory/common.js';
import { hitsText } from './query.js';

export function register(group: Command): void {
  addAdvisoryDbOption(addIndexDbOption(group.command('affected')))
    .description('list indexed targets affected by a CVE (or advisory id), from the advisory database')
    .argument('<id>', 'CVE id (CVE-2024-1234) or advisory id (DSA-5000-1, RHSA-2024:1234)')
    .option('--repo <dir>', 'use REPO/ingot-index.sqlite and REPO/ingot-advisories.sqlite')
    .action(
      action(async (id: string, opts: { db?: string; repo?: string; advisoryDb?: string }) => {
        const adb = AdvisoryDb.open(advisoryDbPath(opts));
        try {
          const idx = await openIndex(opts);
          try {
            const hits = await idx.affected(adb, id);
            const targets = new Set(hits.map((h) => `${h.target.kind}:${h.target.id}`)).size;
            return {
              data: { id, targets, hits },
              text: (d: { targets: number; hits: AffectedHit[] }) =>
                d.hits.length ? `${hitsText(d.hits, (h: QueryHit) => ` ${(h as AffectedHit).advisory} fixed: ${(h as AffectedHit).fixed ?? 'no fix yet'}`)}\n${d.targets} target(s) affected` : `no indexed target is affected by ${id}`,
            };
          } finally {
            await idx.close();
          }
        } finally {
          adb.close();
        }
      }),
    );
}
