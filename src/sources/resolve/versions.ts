/**
 * The resolver's view of version ordering: a thin adapter over codecs/version (rpm.ts: EVR
 * order and rpmverOverlap ranges; deb.ts: dpkg order and relations). It adds only what a
 * solver needs on top: parsing once per distinct string, and "no match" instead of an
 * exception for a version the format rejects (a malformed version in repository metadata makes
 * that one relation unsatisfiable, it does not abort a resolution).
 */
import type { PackageFamily, RelOp } from '../package.js';
import {
  compareRpmEvr,
  parseRpmEvr,
  rpmEvrOverlap,
  RPMSENSE_EQUAL,
  RPMSENSE_GREATER,
  RPMSENSE_LESS,
  type RpmEvr,
} from '../../codecs/version/rpm.js';
import { checkDebVersion, compareDebVersions, type DebVersion } from '../../codecs/version/deb.js';

export interface VersionScheme {
  readonly family: PackageFamily;
  /** Sort order of two version strings (rpm `E:V-R`, deb `E:U-R`); an invalid one sorts first. */
  compare(a: string, b: string): number;
  /** Whether a package of exact version `have` meets `op want` (a versioned Depends/Requires). */
  satisfies(have: string, op: RelOp, want: string): boolean;
  /**
   * Whether a provide `name [provOp provVersion]` meets a requirement `name [reqOp reqVersion]`
   * of the same name. rpm: range overlap, where an unversioned side matches everything. deb:
   * an unversioned requirement is met by any provide; a versioned one only by `(= v)` with a
   * matching `v` (dpkg ≥ 1.17.11).
   */
  provideMatches(provOp: RelOp | undefined, provVersion: string | undefined, reqOp: RelOp | undefined, reqVersion: string | undefined): boolean;
  /** Whether the string is a version the format accepts. */
  valid(v: string): boolean;
}

/** rpm range bits of a relation; the deb spellings `<<`/`>>` mean strictly less/greater. */
function rpmSense(op: RelOp): number {
  switch (op) {
    case '<':
    case '<<':
      return RPMSENSE_LESS;
    case '<=':
      return RPMSENSE_LESS | RPMSENSE_EQUAL;
    case '=':
      return RPMSENSE_EQUAL;
    case '>=':
      return RPMSENSE_GREATER | RPMSENSE_EQUAL;
    case '>':
    case '>>':
      return RPMSENSE_GREATER;
  }
}

class RpmScheme implements VersionScheme {
  readonly family = 'rpm' as const;
  private readonly cache = new Map<string, RpmEvr | null>();

  private parse(v: string): RpmEvr | null {
    let r = this.cache.get(v);
    if (r === undefined) {
      try {
        r = parseRpmEvr(v);
      } catch {
        r = null;
      }
      this.cache.set(v, r);
    }
    return r;
  }

  valid(v: string): boolean {
    return this.parse(v) !== null;
  }

  compare(a: string, b: string): number {
    const x = this.parse(a);
    const y = this.parse(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
    return compareRpmEvr(x, y);
  }

  satisfies(have: string, op: RelOp, want: string): boolean {
    return this.provideMatches('=', have, op, want);
  }

  provideMatches(provOp: RelOp | undefined, provVersion: string | undefined, reqOp: RelOp | undefined, reqVersion: string | undefined): boolean {
    // rpmdsCompare: an entry without flags or without an EVR matches every version.
    if (!provOp || !reqOp || !provVersion || !reqVersion) return true;
    const a = this.parse(provVersion);
    const b = this.parse(reqVersion);
    if (a === null || b === null) return false;
    return rpmEvrOverlap(a, rpmSense(provOp), b, rpmSense(reqOp));
  }
}

class DebScheme implements VersionScheme {
  readonly family = 'deb' as const;
  private readonly cache = new Map<string, DebVersion | null>();

  private parse(v: string): DebVersion | null {
    let r = this.cache.get(v);
    if (r === undefined) {
      const c = checkDebVersion(v);
      r = c.ok ? c.version : null;
      this.cache.set(v, r);
    }
    return r;
  }

  valid(v: string): boolean {
    return this.parse(v) !== null;
  }

  compare(a: string, b: string): number {
    const x = this.parse(a);
    const y = this.parse(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
    return compareDebVersions(x, y);
  }

  satisfies(have: string, op: RelOp, want: string): boolean {
    const x = this.parse(have);
    const y = this.parse(want);
    if (x === null || y === null) return false;
    const c = compareDebVersions(x, y);
    switch (op) {
      case '<<':
        return c < 0;
      case '<=':
      case '<': // obsolete spelling of <=
        return c <= 0;
      case '=':
        return c === 0;
      case '>=':
      case '>': // obsolete spelling of >=
        return c >= 0;
      case '>>':
        return c > 0;
    }
  }

  provideMatches(provOp: RelOp | undefined, provVersion: string | undefined, reqOp: RelOp | undefined, reqVersion: string | undefined): boolean {
    if (!reqOp || !reqVersion) return true;
    if (provOp !== '=' || !provVersion) return false;
    return this.satisfies(provVersion, reqOp, reqVersion);
  }
}

/** A scheme with its own parse cache; share one per universe. */
export function versionScheme(family: PackageFamily): VersionScheme {
  return family === 'rpm' ? new RpmScheme() : new DebScheme();
}

const shared: Record<PackageFamily, VersionScheme> = { rpm: new RpmScheme(), deb: new DebScheme() };

/** Sort order of two versions of `family` (see VersionScheme.compare). */
export function compare(family: PackageFamily, a: string, b: string): number {
  return shared[family].compare(a, b);
}

/** Whether `version` meets `op constraint` in `family`'s semantics. */
export function satisfies(family: PackageFamily, version: string, op: RelOp, constraint: string): boolean {
  return shared[family].satisfies(version, op, constraint);
}
