/**
 * A tmpfiles.d snippet that makes the usual package database location work on a booted
 * system: the database is part of the versioned tree (`/usr/lib/sysimage/rpm` or
 * `/usr/lib/sysimage/dpkg`), and systemd-tmpfiles links `/var/lib/rpm` or `/var/lib/dpkg` to it
 * at boot (`L`: only when nothing is there yet). The link is relative, so it also resolves
 * inside a checkout or a container root.
 */
import * as path from 'node:path';
import { atomicWrite, mkdirp } from '../../platform/fs.js';
import type { PackageFamily } from '../../sources/package.js';

export const PKGDB_TMPFILES = 'usr/lib/tmpfiles.d/ingot-pkgdb.conf';

const LINKS: Record<PackageFamily, string> = {
  rpm: 'L /var/lib/rpm - - - - ../../usr/lib/sysimage/rpm',
  deb: 'L /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg',
};

/** The snippet for one package family (only that family's line). */
export function pkgdbTmpfilesSnippet(family: PackageFamily): string {
  return [
    '# Written by ingot compose. The package database is part of the read-only, versioned /usr;',
    '# link the location the package tools use by default to it.',
    LINKS[family],
    '',
  ].join('\n');
}

/** Writes `<root>/usr/lib/tmpfiles.d/ingot-pkgdb.conf` for `family`; returns its path. */
export function writePkgdbTmpfiles(root: string, family: PackageFamily): string {
  const target = path.join(root, PKGDB_TMPFILES);
  mkdirp(path.dirname(target));
  atomicWrite(target, pkgdbTmpfilesSnippet(family), { mode: 0o644 });
  return target;
}
