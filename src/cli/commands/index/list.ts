/** `ingot index list`: the targets the fleet index holds. */
import type { Command } from 'commander';
import type { IndexedTarget } from '../../../inventory/fleet.js';
import { action } from '../../util.js';
import { addIndexDbOption, openIndex } from '../inventory/common.js';

export function register(group: Command): void {
  addIndexDbOption(group.command('list'))
    .description('list the targets recorded in the fleet index')
    .option('--repo <dir>', 'use REPO/ingot-index.sqlite')
    .action(
      action(async (opts: { db?: string; repo?: string }) => {
        const idx = await openIndex(opts);
        try {
          const targets = await idx.targets();
          return {
            data: { count: targets.length, targets },
            text: (d: { targets: IndexedTarget[] }) => d.targets.map((t) => `${t.kind} ${t.id} ${t.name !== t.id ? `(${t.name}) ` : ''}${t.packages} ${t.family} packages${t.distro ? ` ${t.distro}` : ''}`).join('\n') || 'the index is empty',
          };
        } finally {
          await idx.close();
        }
      }),
    );
}
