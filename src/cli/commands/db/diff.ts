/**
 * `ingot db diff A [B]`: which packages two targets differ in (added, removed, upgraded,
 * downgraded, changed). Any two targets of one package family compare: two commits (from
 * their metadata, no checkout), a commit against an image, a deployment against a registry
 * image, two directories. With one commit, its parent is compared with it.
 */
import type { Command } from 'commander';
import { diffInventories, evrOf, readInventory, type Inventory, type InventoryPackage, type PackageChange } from '../../../compose/inventory.js';
import type { Repo } from '../../../repo/repo.js';
import { NO_DISTRO, packageEvr } from '../../../inventory/types.js';
import { resolveTarget, type ResolvedTarget } from '../../targets.js';
import { action } from '../../util.js';

const pkgJson = (p: InventoryPackage) => ({ ...p, evr: evrOf(p) });
const changeJson = (c: PackageChange) => ({
  name: c.name,
  arch: c.to.arch,
  from: evrOf(c.from),
  to: evrOf(c.to),
  ...(c.from.arch !== c.to.arch && { fromArch: c.from.arch }),
  ...(c.from.digest !== c.to.digest && { fromDigest: c.from.digest, toDigest: c.to.digest }),
});

/** A target's inventory in compose's shape; digests only when both sides know them, so that "changed" means another package file. */
function asInventory(t: ResolvedTarget, withDigests: boolean): Inventory {
  return {
    family: t.inventory.family,
    packages: t.inventory.packages.map((p) => ({
      name: p.name,
      epoch: p.epoch,
      version: p.version,
      release: p.release,
      arch: p.arch,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
      digest: withDigests ? t.digests?.get(`${p.name}\0${p.arch}\0${packageEvr(p)}`) ?? '' : '',
    })),
    inputHash: t.meta?.inputHash ?? null,
    version: t.meta?.version ?? null,
  };
}

const side = (t: ResolvedTarget) => (t.identity.kind === 'commit' ? { commit: t.identity.id, version: t.meta?.version ?? null } : { [t.identity.kind]: t.identity.id, name: t.identity.name, version: t.meta?.version ?? null });

/** The data `ingot db diff --json` prints for two resolved targets. */
export function diffTargets(a: ResolvedTarget, b: ResolvedTarget) {
  const digests = a.digests !== null && b.digests !== null;
  const d = diffInventories(asInventory(a, digests), asInventory(b, digests));
  return {
    from: side(a),
    to: side(b),
    family: a.inventory.family,
    added: d.added.map(pkgJson),
    removed: d.removed.map(pkgJson),
    upgraded: d.upgraded.map(changeJson),
    downgraded: d.downgraded.map(changeJson),
    changed: d.changed.map(changeJson),
  };
}

/** A composed commit as a target, from its metadata alone (synchronous; `ingot demo` uses it). */
function composedCommit(repo: Repo, rev: string): ResolvedTarget {
  const ci = readInventory(repo, rev);
  const digests = new Map(ci.inventory.packages.map((p) => [`${p.name}\0${p.arch}\0${evrOf(p)}`, p.digest]));
  return {
    identity: { kind: 'commit', name: rev, id: ci.checksum },
    inventory: { family: ci.inventory.family, packages: ci.inventory.packages.map((p) => ({ ...p, purl: '' })), distro: NO_DISTRO, source: 'commit-metadata', databasePath: null },
    digests,
    meta: { version: ci.inventory.version, inputHash: ci.inventory.inputHash },
  };
}

/** The data `ingot db diff --json` prints for two composed commits of a repository. */
export function dbDiffData(repo: Repo, revA: string, revB: string) {
  return diffTargets(composedCommit(repo, revA), composedCommit(repo, revB));
}

type DiffData = ReturnType<typeof diffTargets>;

const label = (s: DiffData['from']): string => {
  const [k, v] = Object.entries(s).find(([key]) => key !== 'version' && key !== 'name')!;
  return `${k === 'commit' ? '' : `${k} `}${String(v)}${s.version ? ` (${s.version})` : ''}`;
};

/** The text `ingot db diff` prints (also shown by `ingot demo`). */
export function dbDiffText(x: DiffData): string {
  const lines = [`from: ${label(x.from)}`, `to:   ${label(x.to)}`];
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
  db.command('diff')
    .option('--repo <dir>', 'repository for REV targets (default: $INGOT_REPO)')
    .description('compare the package sets of two targets (commits from their metadata, deployments, images, directories)')
    .argument('<from>', 'older target (with no <to>: a commit, compared with its parent)')
    .argument('[to]', 'newer target')
    .action(
      action(async (from: string, to: string | undefined, opts: { repo?: string }) => {
        const [a, b] = to === undefined ? [`${from}^`, from] : [from, to];
        const ta = await resolveTarget(a, opts);
        const tb = await resolveTarget(b, opts);
        return { data: diffTargets(ta, tb), text: dbDiffText };
      }),
    );
}
