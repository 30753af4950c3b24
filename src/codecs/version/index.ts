/**
 * Version ordering for both package families, behind one entry point for `ingot pkg vercmp`.
 * The format modules hold the details: `rpm.ts` (rpmvercmp, EVR, dependency ranges) and
 * `deb.ts` (dpkg versions and relations).
 */
import { IngotError } from '../../core/errors.js';
import { compareRpmEvrStrings } from './rpm.js';
import { checkDebVersion, dpkgCompareVersions, DPKG_UNKNOWN_VERSION } from './deb.js';

export * as rpm from './rpm.js';
export * as deb from './deb.js';

export type VersionFormat = 'rpm' | 'deb';
export const VERSION_FORMATS: readonly VersionFormat[] = ['rpm', 'deb'];

/** `<` when a is older than b, `=` when they are the same version, `>` when a is newer. */
export type VercmpResult = '<' | '=' | '>';

const SYMBOL: Record<number, VercmpResult> = { [-1]: '<', 0: '=', 1: '>' };

/**
 * Compares two version strings the way the format's own tool does: rpm's Lua `rpm.vercmp`
 * (full EVR order) or `dpkg --compare-versions` (where '' means "no version", the oldest).
 * Throws VERSION_INVALID for a string the tool rejects.
 */
export function vercmp(format: VersionFormat, a: string, b: string): VercmpResult {
  const c = format === 'rpm' ? compareRpmEvrStrings(a, b) : dpkgCompareVersions(a, b);
  return SYMBOL[c]!;
}

/** dpkg's warnings about the two versions (each is still compared); always none for rpm. */
export function vercmpWarnings(format: VersionFormat, a: string, b: string): string[] {
  if (format !== 'deb') return [];
  const out: string[] = [];
  for (const v of [a, b]) {
    if (v === '' || v === DPKG_UNKNOWN_VERSION) continue;
    const r = checkDebVersion(v);
    if (r.ok && r.warning) out.push(`version '${v}' has bad syntax: ${r.warning}`);
  }
  return out;
}

export function assertVersionFormat(format: string): asserts format is VersionFormat {
  if (!(VERSION_FORMATS as readonly string[]).includes(format)) {
    throw new IngotError('INVALID_ARGUMENT', `unknown version format '${format}'`, {
      hint: "use 'rpm' or 'deb'",
      data: { format },
    });
  }
}
