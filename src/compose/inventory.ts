/**
 * The package inventory of a composed commit, kept in the commit's metadata so that a commit
 * can be listed and compared without checking anything out:
 *
 * | key                | type          | value |
 * |--------------------|---------------|-------|
 * | `ingot.packages`   | `a(ssssssss)` | one entry per package: name, epoch (decimal, `0` when none), version, release (rpm) or revision (deb, '' when none), architecture, source package name, source package version, digest of the package file (`ALGO:HEX`, e.g. `sha256:…`) |
 * | `ingot.family`     | `s`           | `rpm` or `deb`: which version ordering applies |
 * | `ingot.input-hash` | `s`           | hex SHA-256 over the compose inputs (flattened manifest, added files, package digests) |
 * | `version`          | `s`           | the commit's version, as `ostree log` shows it |
 *
 * Entries of `ingot.packages` are sorted by name, then architecture, then version (byte
 * order), so equal package sets give equal bytes. The tuple layout is fixed; a later layout
 * would get a new key. Every field is a string, as in rpm-ostree's `rpmostree.rpmdb.pkglist`
 * (`a(sssss)`): ostree's own printers (`ostree show --print-metadata-key`) byte-swap integers
 * of metadata, so an integer epoch would read wrong there.
 */
import { IngotError } from '../core/errors.js';
import { variant, type VarDict } from '../codecs/gvariant/value.js';
import { vercmp } from '../codecs/version/index.js';
import type { PackageFamily } from '../sources/package.js';
import { formatVersion } from '../sources/package.js';
import type { Repo } from '../repo/repo.js';

export const INVENTORY_KEYS = {
  packages: 'ingot.packages',
  family: 'ingot.family',
  inputHash: 'ingot.input-hash',
  version: 'version',
} as const;

export const INVENTORY_PACKAGES_TYPE = 'a(ssssssss)';

export interface InventoryPackage {
  name: string;
  epoch: number;
  version: string;
  /** rpm release or Debian revision; '' when the Debian version has none. */
  release: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
  /** `ALGO:HEX` of the package file. */
  digest: string;
}

export interface Inventory {
  family: PackageFamily;
  packages: InventoryPackage[];
  inputHash: string | null;
  version: string | null;
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The full version as the family writes it: `E:V-R` (epoch and release only when present). */
export function evrOf(p: Pick<InventoryPackage, 'epoch' | 'version' | 'release'>): string {
  return formatVersion(p);
}

export function sortInventory(packages: readonly InventoryPackage[]): InventoryPackage[] {
  return [...packages].sort((a, b) => byteCmp(a.name, b.name) || byteCmp(a.arch, b.arch) || byteCmp(evrOf(a), evrOf(b)));
}

function checkString(s: string, what: string): string {
  if (s.includes('\0')) throw new IngotError('INVENTORY_INVALID', `${what} contains a NUL character`, { data: { value: s } });
  return s;
}

/**
 * The metadata entries of an inventory, in a fixed order: `version` (when given),
 * `ingot.family`, `ingot.input-hash` (when given), `ingot.packages`.
 */
export function encodeInventory(inv: { family: PackageFamily; packages: readonly InventoryPackage[]; inputHash?: string | null; version?: string | null }): VarDict {
  const out: VarDict = [];
  if (inv.version != null) out.push([INVENTORY_KEYS.version, variant('s', checkString(inv.version, 'version'))]);
  out.push([INVENTORY_KEYS.family, variant('s', inv.family)]);
  if (inv.inputHash != null) out.push([INVENTORY_KEYS.inputHash, variant('s', checkString(inv.inputHash, 'input hash'))]);
  const rows = sortInventory(inv.packages).map((p) => {
    if (!Number.isInteger(p.epoch) || p.epoch < 0 || p.epoch > 0xffffffff) {
      throw new IngotError('INVENTORY_INVALID', `package ${p.name}: epoch ${p.epoch} is not an unsigned 32-bit integer`);
    }
    const w = `package ${p.name}`;
    return [checkString(p.name, w), String(p.epoch), checkString(p.version, w), checkString(p.release, w), checkString(p.arch, w), checkString(p.sourceName, w), checkString(p.sourceVersion, w), checkString(p.digest, w)];
  });
  out.push([INVENTORY_KEYS.packages, variant(INVENTORY_PACKAGES_TYPE, rows)]);
  return out;
}

/**
 * Reads the inventory from commit metadata. INVENTORY_MISSING when there is no
 * `ingot.packages`; INVENTORY_INVALID when a key has the wrong type or the family is unknown.
 */
export function decodeInventory(meta: VarDict, what = 'the commit'): Inventory {
  const get = (k: string) => meta.find(([key]) => key === k)?.[1];
  const pk = get(INVENTORY_KEYS.packages);
  if (!pk) {
    throw new IngotError('INVENTORY_MISSING', `${what} has no package inventory (no '${INVENTORY_KEYS.packages}' metadata)`, {
      hint: "only commits made by 'ingot compose tree' carry one; 'ingot repo show' prints a commit's metadata",
    });
  }
  const bad = (msg: string): IngotError => new IngotError('INVENTORY_INVALID', `${what}: ${msg}`, { hint: 'the commit was written by another tool or a different ingot version' });
  if (pk.type !== INVENTORY_PACKAGES_TYPE) throw bad(`'${INVENTORY_KEYS.packages}' has type '${pk.type}', expected '${INVENTORY_PACKAGES_TYPE}'`);
  const fam = get(INVENTORY_KEYS.family);
  if (!fam || fam.type !== 's' || (fam.value !== 'rpm' && fam.value !== 'deb')) {
    throw bad(`'${INVENTORY_KEYS.family}' must be the string 'rpm' or 'deb'${fam ? `, got ${fam.type === 's' ? `'${String(fam.value)}'` : `type '${fam.type}'`}` : ', and is missing'}`);
  }
  const str = (k: string): string | null => {
    const v = get(k);
    if (!v) return null;
    if (v.type !== 's') throw bad(`'${k}' has type '${v.type}', expected 's'`);
    return v.value as string;
  };
  const packages = (pk.value as unknown[][]).map((row) => {
    const [name, epoch, version, release, arch, sourceName, sourceVersion, digest] = row as string[] as [string, string, string, string, string, string, string, string];
    if (!/^(0|[1-9]\d{0,9})$/.test(epoch) || Number(epoch) > 0xffffffff) throw bad(`package ${name}: epoch '${epoch}' is not a decimal number`);
    return { name, epoch: Number(epoch), version, release, arch, sourceName, sourceVersion, digest };
  });
  return { family: fam.value, packages, inputHash: str(INVENTORY_KEYS.inputHash), version: str(INVENTORY_KEYS.version) };
}

export interface CommitInventory {
  checksum: string;
  timestamp: number;
  subject: string;
  inventory: Inventory;
}

/** The inventory of the commit a rev names, read from its metadata alone. */
export function readInventory(repo: Repo, rev: string): CommitInventory {
  const checksum = repo.resolveRev(rev);
  const c = repo.loadCommit(checksum);
  return { checksum, timestamp: Number(c.timestamp), subject: c.subject, inventory: decodeInventory(c.metadata, `commit ${checksum}`) };
}

/**
 * What a compose needs to know about a ref's current commit: its checksum, `version` and
 * `ingot.input-hash` (each null when absent). Null when the ref does not exist.
 */
export function refState(repo: Repo, ref: string): { commit: string; version: string | null; inputHash: string | null } | null {
  const commit = repo.readRef(ref);
  if (commit === null) return null;
  const meta = repo.loadCommit(commit).metadata;
  const str = (k: string): string | null => {
    const v = meta.find(([key]) => key === k)?.[1];
    return v && v.type === 's' ? (v.value as string) : null;
  };
  return { commit, version: str(INVENTORY_KEYS.version), inputHash: str(INVENTORY_KEYS.inputHash) };
}

export interface PackageChange {
  name: string;
  from: InventoryPackage;
  to: InventoryPackage;
}

export interface InventoryDiff {
  added: InventoryPackage[];
  removed: InventoryPackage[];
  /** The version went up by the family's ordering (epochs included). */
  upgraded: PackageChange[];
  downgraded: PackageChange[];
  /** Same version, but another package file (digest) or architecture. */
  changed: PackageChange[];
}

/**
 * Compares two inventories of one family. Packages are paired by name: entries identical in
 * architecture and version first, then by architecture, then a lone entry on each side (an
 * architecture change); whatever is left is added or removed. RPM allows several versions of
 * one name (kernels): a version present on both sides pairs with itself first, so replacing
 * the oldest of two kernels shows as one upgrade, and replacing both as two removals and two
 * additions.
 */
export function diffInventories(a: Inventory, b: Inventory): InventoryDiff {
  if (a.family !== b.family) {
    throw new IngotError('INVALID_ARGUMENT', `cannot compare a ${a.family} inventory with a ${b.family} one`, {
      hint: 'compare two commits composed from the same package family',
    });
  }
  const group = (ps: readonly InventoryPackage[]): Map<string, InventoryPackage[]> => {
    const m = new Map<string, InventoryPackage[]>();
    for (const p of ps) {
      const l = m.get(p.name);
      if (l) l.push(p);
      else m.set(p.name, [p]);
    }
    return m;
  };
  const ga = group(a.packages);
  const gb = group(b.packages);
  const d: InventoryDiff = { added: [], removed: [], upgraded: [], downgraded: [], changed: [] };
  const pair = (from: InventoryPackage, to: InventoryPackage): void => {
    const c = vercmp(a.family, evrOf(from), evrOf(to));
    const ch = { name: from.name, from, to };
    if (c === '<') d.upgraded.push(ch);
    else if (c === '>') d.downgraded.push(ch);
    else if (from.digest !== to.digest || from.arch !== to.arch) d.changed.push(ch);
  };
  const names = [...new Set([...ga.keys(), ...gb.keys()])].sort(byteCmp);
  for (const name of names) {
    const xs = [...(ga.get(name) ?? [])];
    const ys = [...(gb.get(name) ?? [])];
    const take = (match: (x: InventoryPackage, y: InventoryPackage) => boolean, unique = false): void => {
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        const cands = ys.filter((y) => match(x, y));
        if (cands.length === 0 || (unique && (cands.length > 1 || xs.filter((x2) => match(x2, cands[0]!)).length > 1))) continue;
        const y = cands[0]!;
        ys.splice(ys.indexOf(y), 1);
        xs.splice(i, 1);
        i--;
        pair(x, y);
      }
    };
    take((x, y) => x.arch === y.arch && evrOf(x) === evrOf(y) && x.digest === y.digest);
    take((x, y) => x.arch === y.arch && evrOf(x) === evrOf(y));
    take((x, y) => x.arch === y.arch, true);
    if (xs.length === 1 && ys.length === 1) pair(xs.pop()!, ys.pop()!);
    d.removed.push(...xs);
    d.added.push(...ys);
  }
  return d;
}
