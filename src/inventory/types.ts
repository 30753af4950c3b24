/**
 * The inventory model shared by extraction, SBOMs, scanning and the fleet index: the installed
 * packages of one target (a commit, a deployment, an image, a directory), each with its source
 * package and purl, and the target's distribution as its os-release names it.
 */

export type PackageFamily = 'rpm' | 'deb';

export interface InstalledPackage {
  name: string;
  /** 0 when the package has none (rpm: no EPOCH tag; Debian: no `N:` prefix). */
  epoch: number;
  version: string;
  /** rpm release or Debian revision ('' when the Debian version has none). */
  release: string;
  arch: string;
  /** Debian `Source:` (or the binary name); rpm: the name in SOURCERPM (or the binary name). */
  sourceName: string;
  /** Debian: the source version (with epoch); rpm: `V-R` from SOURCERPM, which carries no epoch. */
  sourceVersion: string;
  /** Package URL (purl-spec), e.g. `pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12`. */
  purl: string;
}

/** What os-release says about the target (all null when it has none). */
export interface Distro {
  /** `ID` (debian, fedora, rhel, almalinux, ...). */
  id: string | null;
  /** `VERSION_ID` (12, 9.4, 39, ...). */
  versionId: string | null;
  /** `VERSION_CODENAME` (bookworm, ...). */
  codename: string | null;
  /** `PRETTY_NAME`. */
  prettyName: string | null;
}

/** Where an inventory was read from. */
export type InventorySource = 'commit-metadata' | 'rpmdb-sqlite' | 'rpmdb-bdb' | 'rpmdb-ndb' | 'dpkg-status' | 'dpkg-status.d' | 'image-label' | 'none';

export interface TargetInventory {
  family: PackageFamily;
  /** Sorted by name, then architecture, then version (byte order). */
  packages: InstalledPackage[];
  distro: Distro;
  source: InventorySource;
  /** The database path inside the target (relative to its root), when read from one. */
  databasePath: string | null;
}

/** What a target is, for SBOMs, scans and the index. */
export interface TargetIdentity {
  kind: 'commit' | 'deployment' | 'image' | 'directory';
  /** The name the user gave (`REF`, `deployment:/sysroot:0`, `oci:dir:tag`, a path). */
  name: string;
  /** The stable identity: the commit checksum, `CHECKSUM.SERIAL` of a deployment, the image manifest digest, or the absolute path. */
  id: string;
}

export interface Target {
  identity: TargetIdentity;
  inventory: TargetInventory;
}

export const NO_DISTRO: Distro = { id: null, versionId: null, codename: null, prettyName: null };

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The version as the family writes it: `[E:]V[-R]`. */
export function packageEvr(p: Pick<InstalledPackage, 'epoch' | 'version' | 'release'>): string {
  const e = p.epoch ? `${p.epoch}:` : '';
  return p.release ? `${e}${p.version}-${p.release}` : `${e}${p.version}`;
}

export function sortPackages<T extends Pick<InstalledPackage, 'name' | 'arch' | 'epoch' | 'version' | 'release'>>(ps: readonly T[]): T[] {
  return [...ps].sort((a, b) => byteCmp(a.name, b.name) || byteCmp(a.arch, b.arch) || byteCmp(packageEvr(a), packageEvr(b)));
}
