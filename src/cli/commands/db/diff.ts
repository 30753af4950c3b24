/**
 * `ingot db diff A [B]`: which packages two composed commits differ in (added, removed,
 * upgraded, downgraded, changed), read from their metadata (no checkout). With one rev, its
 * parent is compared with it.
 */
import type { Command } from 'commander';
import { diffInventories, evrOf, readInventory, type InventoryPackage, type PackageChange } from '../../../compose/inventory.js';
import type { Repo } from '../../../repo/repo.js';
import { action, addRepoOption, openRepo } from '../../util.js';

const pkgJson = (p: InventoryPackage) => ({ ...p, evr: evrOf(p) });
const changeJson = (c: PackageChange) => ({
  name: c.name,
  arch: c.to.arch,
  from: evrOf(c.from),
  to: evrOf(c.to),
  ...(c.from.arch !== c.to.arch && { fromArch: c.from.arch }),
  ...(c.from.digest !== c.to.digest && { fromDigest: c.from.digest, toDigest: c.to.digest }),
});

/** The data `ingot db diff --json` prints for two revs of a repository. */
export function dbDiffData(repo: Repo, revA: string, revB: string) {
  const a = readInventory(repo, revA);
  const b = readInventory(repo, revB);
  const d = diffInventories(a.inventory, b.inventory);
  return {
    from: { commit: a.checksum, version: a.inventory.version },
    to: { commit: b.checksum, version: b.inventory.version },
    family: a.inventory.family,
    added: d.added.map(pkgJson),
    removed: d.removed.map(pkgJson),
    upgraded: d.upgraded.map(changeJson),
    downgraded: d.downgraded.map(changeJson),
    changed: d.changed.map(changeJson),
  };
}

/** The text `ingot db diff` prints (also shown by `ingot demo`). */
export function dbDiffText(x: ReturnType<typeof dbDiffData>): string {
  const lines = [
    `from: ${x.from.commit}${x.from.version ? ` (${x.from.version})` : ''}`,
    `to:   ${x.to.commit}${x.to.version ? ` (${x.to.version})` : ''}`,
  ];
  const section = (title: string, rows: string[]): void => {
    if (rows.length) lines.push(`${title}:`, ...rows.map((r) => `  ${r}`));
  };
  const arrow = (c: ReturnType<typeof changeJson>): string => `${c.name} ${c.from} → ${c.to}${c.fromArch ? ` (${c.fromArch} → ${c.arch})` : ''}`;
  section('Upgraded', x.upgraded.map(arrow));
  section('Downgraded', x.downgraded.map(arrow));
  section('Changed (same version, another package file)', x.changed.map((c) => `${c.name} ${c.to}${c.fromArch ? ` (${c.fromArch} → ${c.arch})` : ''}`));
  section('Removed', x.removed.map((p) => `${p.name} ${p.evr} ${p.arch}`));
  section('Added', x.added.map((p) => `${p.name} ${p.evr} ${p.arch}`));
  const n = x.added.length + x.removed.length + x.upgraded.length + x.downgraded.length + x.changed.length;
  if (n === 0) lines.push('no package changes');
  return lines.join('\n');
}

export function register(db: Command): void {
  addRepoOption(db.command('diff'))
    .description('compare the package sets of two composed commits (from their metadata, without a checkout)')
    .argument('<from>', 'older ref or commit (with no <to>: the commit whose parent it is compared with)')
    .argument('[to]', 'newer ref or commit')
    .action(
      action((fromRev: string, toRev: string | undefined, opts: { repo?: string }) => {
        const repo = openRepo(opts);
        const [revA, revB] = toRev === undefined ? [`${fromRev}^`, fromRev] : [fromRev, toRev];
        return { data: dbDiffData(repo, revA, revB), text: dbDiffText };
      }),
    );
}
