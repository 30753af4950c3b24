/**
 * Whether one installed package is affected by one advisory entry, with the family's exact
 * version order:
 *
 * - Debian entries are keyed by source package: the package's source name and source version
 *   (binNMUs `+bN` and binaries whose version differs from their source compare by the
 *   source's version) are compared with dpkg's order.
 * - Red Hat entries name binary or source RPMs: a binary match compares the full EVR (a missing
 *   epoch is 0); a source match compares `V-R` from SOURCERPM, which has no epoch, with the
 *   fixed version's epoch dropped, since assuming 0 on the installed side would be wrong.
 * - updateinfo entries are binary, limited to their architecture (noarch matches any).
 * - `not-affected` and `unimportant` never flag; a version at or above `fixed` never flags,
 *   whatever the upstream version says (backports count by the distribution's version).
 */
import { compareDebVersions, parseDebVersion, type DebVersion } from '../codecs/version/deb.js';
import { compareRpmEvr, parseRpmEvr, type RpmEvr } from '../codecs/version/rpm.js';
import type { AffectedEntry, RangeEvent } from './advisories.js';
import type { InstalledPackage, PackageFamily } from './types.js';

/**
 * Parsed versions, memoized: a scan or an index lookup compares the same few thousand strings
 * hundreds of thousands of times. Bounded; cleared when full.
 */
const DEB_CACHE = new Map<string, DebVersion>();
const RPM_CACHE = new Map<string, RpmEvr>();
const CACHE_MAX = 200_000;

function debParsed(v: string): DebVersion {
  let p = DEB_CACHE.get(v);
  if (p === undefined) {
    p = parseDebVersion(v);
    if (DEB_CACHE.size >= CACHE_MAX) DEB_CACHE.clear();
    DEB_CACHE.set(v, p);
  }
  return p;
}

function rpmParsed(v: string): RpmEvr {
  let p = RPM_CACHE.get(v);
  if (p === undefined) {
    p = parseRpmEvr(v);
    if (RPM_CACHE.size >= CACHE_MAX) RPM_CACHE.clear();
    RPM_CACHE.set(v, p);
  }
  return p;
}

/** The family's order (dpkg's, or rpm's EVR order); VERSION_INVALID for a version it rejects. */
export function compareVersions(family: PackageFamily, a: string, b: string): number {
  if (a === b) return 0;
  return family === 'deb' ? compareDebVersions(debParsed(a), debParsed(b)) : compareRpmEvr(rpmParsed(a), rpmParsed(b));
}

const stripEpoch = (v: string): string => v.replace(/^\d+:/, '');

/** OSV's evaluation of one range: events in version order, introduced sets, fixed / past last_affected clears. */
export function inRange(family: PackageFamily, v: string, events: readonly RangeEvent[], map: (x: string) => string = (x) => x): boolean {
  const ver = (e: RangeEvent): string => e.introduced ?? e.fixed ?? e.last_affected ?? '';
  const sorted = [...events].sort((a, b) => {
    const va = ver(a);
    const vb = ver(b);
    if (a.introduced === '0') return b.introduced === '0' ? 0 : -1;
    if (b.introduced === '0') return 1;
    return compareVersions(family, map(va), map(vb));
  });
  let vulnerable = false;
  for (const e of sorted) {
    if (e.introduced !== undefined) {
      if (e.introduced === '0' || compareVersions(family, v, map(e.introduced)) >= 0) vulnerable = true;
    } else if (e.fixed !== undefined) {
      if (compareVersions(family, v, map(e.fixed)) >= 0) vulnerable = false;
    } else if (e.last_affected !== undefined) {
      if (compareVersions(family, v, map(e.last_affected)) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

/** Whether an entry's distribution covers the target's (`debian` covers `debian:12`; '' covers all). */
export function distroCovers(entryDistro: string, targetDistro: string | null): boolean {
  if (entryDistro === '') return true;
  if (targetDistro === null) return false;
  return targetDistro === entryDistro || targetDistro.startsWith(`${entryDistro}:`);
}

export interface MatchResult {
  /** The installed version that was compared (source or binary). */
  compared: string;
  via: 'source' | 'binary';
}

/**
 * Whether `p` is affected by `e` (already known to be of the target's family and distribution).
 * Returns how it matched, or null.
 */
export function matchEntry(family: PackageFamily, e: AffectedEntry, p: InstalledPackage): MatchResult | null {
  if (e.status !== 'affected') return null;
  if (e.arch !== null && p.arch !== e.arch && p.arch !== 'noarch') return null;
  const tries: MatchResult[] = [];
  const evr = `${p.epoch ? `${p.epoch}:` : ''}${p.version}${p.release ? `-${p.release}` : ''}`;
  if ((e.keyed === 'binary' || e.keyed === 'either') && e.name === p.name) tries.push({ compared: evr, via: 'binary' });
  if ((e.keyed === 'source' || e.keyed === 'either') && e.name === p.sourceName) {
    // For Debian the source version carries the epoch; SOURCERPM does not.
    tries.push({ compared: p.sourceVersion, via: 'source' });
  }
  for (const t of tries) {
    const map = family === 'rpm' && t.via === 'source' ? stripEpoch : (x: string) => x;
    if (e.versions.some((v) => compareVersions(family, t.compared, map(v)) === 0)) return t;
    if (e.ranges.some((r) => inRange(family, t.compared, r, map))) return t;
  }
  return null;
}
