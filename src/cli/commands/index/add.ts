/** `ingot index add TARGET...`: records the targets' inventories in the fleet index (one transaction). */
import type { Command } from 'commander';
import { resolveTargets } from '../../targets.js';
import { action } from '../../util.js';
import { addIndexDbOption, openIndex } from '../inventory/common.js';

export function register(group: Command): void {
  addIndexDbOption(group.command('add'))
    .description('record the inventories of targets (commits, deployments, images, directories) in the fleet index')
    .argument('<targets...>', 'REV (with --repo), directories, deployment:SYSROOT[:INDEX], image references')
    .option('--repo <dir>', 'repository for REV targets and the default index (REPO/ingot-index.sqlite)')
    .option('--distro <key>', "the distribution to record for targets without os-release (e.g. debian:12), as 'scan --distro' matches them")
    .action(
      action(async (targets: string[], opts: { db?: string; repo?: string; distro?: string }) => {
        // Every inventory is read before the index is touched: a bad target changes nothing.
        const resolved = await resolveTargets(targets, opts);
        const idx = await openIndex(opts);
        try {
          const r = await idx.add(resolved, opts.distro !== undefined ? { distro: opts.distro } : {});
          const data = { ...r, targets: resolved.map((t) => ({ ...t.identity, family: t.inventory.family, packages: t.inventory.packages.length })) };
          return {
            data,
            text: (d: typeof data) => [...d.targets.map((t) => `indexed ${t.kind} ${t.id} (${t.packages} ${t.family} packages)`), `${d.added} added, ${d.replaced} replaced`].join('\n'),
          };
        } finally {
          await idx.close();
        }
      }),
    );
}
