/**
 * Finding and reading a target's package database, wherever the root file system comes from
 * (a directory, a commit, image layers), and turning it into an inventory.
 *
 * Search order (the first database found wins; a tree has one package manager):
 * - rpm: `usr/lib/sysimage/rpm` (Fedora ≥ 36, openSUSE, ingot), `var/lib/rpm` (RHEL, CentOS,
 *   Amazon Linux), `usr/share/rpm` (rpm-ostree); in each, `rpmdb.sqlite`, then `Packages.db`
 *   (ndb), then `Packages` (Berkeley DB).
 * - dpkg: `var/lib/dpkg/status`, `usr/lib/sysimage/dpkg/status` (ingot's composed trees keep
 *   the database below /usr), then `var/lib/dpkg/status.d/` (distroless).
 * The distribution comes from `etc/os-release`, else `usr/lib/os-release`.
 */
import { IngotError } from '../core/errors.js';
import { purlOf, parseOsRelease } from './purl.js';
import { readDpkgStatus, readDpkgStatusD, type DpkgEntry } from './dpkg.js';
import { readRpmdbBdb, readRpmdbNdb, readRpmdbSqlite, type RpmDbEntry } from './rpmdb.js';
import type { TreeReader } from './tree.js';
import { NO_DISTRO, sortPackages, type Distro, type InventorySource, type PackageFamily, type TargetInventory } from './types.js';

export const RPMDB_DIRS = ['usr/lib/sysimage/rpm', 'var/lib/rpm', 'usr/share/rpm'] as const;
export const RPMDB_FILES = [
  ['rpmdb.sqlite', 'rpmdb-sqlite'],
  ['Packages.db', 'rpmdb-ndb'],
  ['Packages', 'rpmdb-bdb'],
] as const;
export const DPKG_STATUS_FILES = ['var/lib/dpkg/status', 'usr/lib/sysimage/dpkg/status'] as const;
export const DPKG_STATUS_D = 'var/lib/dpkg/status.d';
export const OS_RELEASE_FILES = ['etc/os-release', 'usr/lib/os-release'] as const;

/** Every path a package database or os-release can live at (for picking files out of layers). */
export function isInventoryPath(rel: string): boolean {
  const p = rel.replace(/^\.?\/+/, '');
  if ((OS_RELEASE_FILES as readonly string[]).includes(p)) return true;
  if ((DPKG_STATUS_FILES as readonly string[]).includes(p)) return true;
  if (p.startsWith(`${DPKG_STATUS_D}/`) && !p.slice(DPKG_STATUS_D.length + 1).includes('/')) return true;
  for (const d of RPMDB_DIRS) {
    for (const [f] of RPMDB_FILES) if (p === `${d}/${f}`) return true;
    if (p === `${d}/rpmdb.sqlite-wal`) return true;
  }
  return false;
}

export async function readDistro(tree: TreeReader): Promise<Distro> {
  for (const f of OS_RELEASE_FILES) {
    const b = await tree.readFile(f);
    if (b) return parseOsRelease(b.toString('utf8'));
  }
  return NO_DISTRO;
}

export interface RawInventory {
  family: PackageFamily;
  source: InventorySource;
  databasePath: string;
  rpm?: RpmDbEntry[];
  deb?: DpkgEntry[];
}

/** The first package database in the tree, read; null when there is none. */
export async function readPackageDatabase(tree: TreeReader): Promise<RawInventory | null> {
  for (const d of RPMDB_DIRS) {
    for (const [f, source] of RPMDB_FILES) {
      const rel = `${d}/${f}`;
      const bytes = await tree.readFile(rel);
      if (!bytes) continue;
      const label = `${tree.label}: /${rel}`;
      let rpm: RpmDbEntry[];
      if (source === 'rpmdb-sqlite') rpm = readRpmdbSqlite(bytes, label, await tree.readFile(`${rel}-wal`));
      else if (source === 'rpmdb-ndb') rpm = readRpmdbNdb(bytes, label);
      else rpm = readRpmdbBdb(bytes, label);
      return { family: 'rpm', source, databasePath: rel, rpm };
    }
  }
  for (const rel of DPKG_STATUS_FILES) {
    const bytes = await tree.readFile(rel);
    if (bytes) return { family: 'deb', source: 'dpkg-status', databasePath: rel, deb: readDpkgStatus(bytes, `${tree.label}: /${rel}`) };
  }
  const names = await tree.readDir(DPKG_STATUS_D);
  if (names) {
    const files: { name: string; bytes: Buffer }[] = [];
    for (const n of names) {
      const b = await tree.readFile(`${DPKG_STATUS_D}/${n}`);
      if (b) files.push({ name: n, bytes: b });
    }
    return { family: 'deb', source: 'dpkg-status.d', databasePath: DPKG_STATUS_D, deb: readDpkgStatusD(files, `${tree.label}: /${DPKG_STATUS_D}`) };
  }
  return null;
}

/** Adds purls and sorts: the inventory of a raw database read. */
export function buildInventory(raw: RawInventory, distro: Distro): TargetInventory {
  const packages =
    raw.family === 'rpm'
      ? (raw.rpm ?? []).map(({ sourceRpm, ...p }) => ({ ...p, purl: purlOf('rpm', p, distro, sourceRpm ?? undefined) }))
      : (raw.deb ?? []).map(({ state: _s, ...p }) => ({ ...p, purl: purlOf('deb', p, distro) }));
  return { family: raw.family, packages: sortPackages(packages), distro, source: raw.source, databasePath: raw.databasePath };
}

/** The inventory of a root file system; PKGDB_NOT_FOUND when it has no package database. */
export async function extractInventory(tree: TreeReader): Promise<TargetInventory> {
  const raw = await readPackageDatabase(tree);
  if (!raw) {
    throw new IngotError('PKGDB_NOT_FOUND', `${tree.label}: no package database (no rpmdb in ${RPMDB_DIRS.map((d) => `/${d}`).join(', ')}, no dpkg status)`, {
      hint: 'point at the root of an RPM- or Debian-based file system',
      data: { target: tree.label },
    });
  }
  return buildInventory(raw, await readDistro(tree));
}
