/**
 * RPM version ordering, as rpm ≥ 4.15 implements it (checked against rpm 4.18 and rpm git HEAD):
 *
 * - `rpmvercmp(a, b)`: one version or release string against another (`rpmio/rpmvercmp.c`),
 *   with `~` (sorts before everything, even the end) and `^` (sorts after the end, before
 *   anything else).
 * - `parseRpmEvr` / `compareRpmEvr`: `[epoch:]version[-release]` as `rpmverParse` and
 *   `rpmverCmp` (`rpmio/rpmver.c`) do; this is what Lua's `rpm.vercmp(a, b)` answers.
 * - `rpmEvrOverlap` / `rpmDepsOverlap`: whether a provide and a require (each `name op EVR`)
 *   overlap, as `rpmverOverlap` and `rpmdsCompare` (`lib/rpmds.c`) decide. This is not the
 *   sort order: a side without a release matches any release when the other side's range
 *   includes EQUAL, and an epoch is only compared when both sides give one.
 *
 * Strings are compared as rpm compares C strings: only ASCII letters and digits (and `~`, `^`)
 * carry weight, everything else separates segments, and a NUL ends the string.
 */
import { IngotError } from '../../core/errors.js';

export type Cmp = -1 | 0 | 1;

const C_0 = 0x30;
const C_9 = 0x39;
const C_TILDE = 0x7e;
const C_CARET = 0x5e;
const C_COLON = 0x3a;

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Characters that are not separators: ASCII alphanumerics, `~` and `^`. */
function isSegmentChar(c: number): boolean {
  return isDigit(c) || isAlpha(c) || c === C_TILDE || c === C_CARET;
}

/** The string as C sees it: up to the first NUL. */
function cstr(s: string): string {
  const i = s.indexOf('\0');
  return i < 0 ? s : s.slice(0, i);
}

/**
 * rpm's `rpmvercmp`: 1 when `a` is newer, -1 when `b` is newer, 0 when they are the same
 * version. Allocation-free; numeric segments of any length compare exactly.
 */
export function rpmvercmp(a: string, b: string): Cmp {
  a = cstr(a);
  b = cstr(b);
  if (a === b) return 0;
  const la = a.length;
  const lb = b.length;
  let i = 0;
  let j = 0;
  while (i < la || j < lb) {
    while (i < la && !isSegmentChar(a.charCodeAt(i))) i++;
    while (j < lb && !isSegmentChar(b.charCodeAt(j))) j++;
    const ca = i < la ? a.charCodeAt(i) : 0;
    const cb = j < lb ? b.charCodeAt(j) : 0;

    // Tilde sorts before everything else, the end of the string included.
    if (ca === C_TILDE || cb === C_TILDE) {
      if (ca !== C_TILDE) return 1;
      if (cb !== C_TILDE) return -1;
      i++;
      j++;
      continue;
    }
    // Caret is like tilde, except that the end of the string sorts before it.
    if (ca === C_CARET || cb === C_CARET) {
      if (i >= la) return -1;
      if (j >= lb) return 1;
      if (ca !== C_CARET) return 1;
      if (cb !== C_CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (i >= la || j >= lb) break;

    // A maximal run of digits, or of letters, of the kind `a` starts with.
    let ea = i;
    let eb = j;
    const isnum = isDigit(ca);
    if (isnum) {
      while (ea < la && isDigit(a.charCodeAt(ea))) ea++;
      while (eb < lb && isDigit(b.charCodeAt(eb))) eb++;
    } else {
      while (ea < la && isAlpha(a.charCodeAt(ea))) ea++;
      while (eb < lb && isAlpha(b.charCodeAt(eb))) eb++;
    }
    // `b` has a segment of the other kind: numeric segments are newer than alpha ones.
    if (eb === j) return isnum ? 1 : -1;

    let x = i;
    let y = j;
    if (isnum) {
      while (x < ea && a.charCodeAt(x) === C_0) x++;
      while (y < eb && b.charCodeAt(y) === C_0) y++;
      const lx = ea - x;
      const ly = eb - y;
      if (lx > ly) return 1;
      if (ly > lx) return -1;
    }
    // strcmp of the two segments.
    while (x < ea && y < eb) {
      const d = a.charCodeAt(x) - b.charCodeAt(y);
      if (d !== 0) return d < 0 ? -1 : 1;
      x++;
      y++;
    }
    if (x < ea) return 1;
    if (y < eb) return -1;
    i = ea;
    j = eb;
  }
  if (i >= la && j >= lb) return 0;
  return i >= la ? -1 : 1;
}

/** `[epoch:]version[-release]` split as `rpmverParse` splits it. */
export interface RpmEvr {
  /** The epoch's digits as written (`''` before a `:` reads as `'0'`), or null when absent. */
  epoch: string | null;
  version: string;
  /** What follows the last `-`, or null when there is none (`''` for a trailing `-`). */
  release: string | null;
}

/**
 * Splits an EVR string: the epoch is the leading digits when a `:` follows them, the release
 * is what follows the last `-`. Any non-empty string is an EVR to rpm; the empty string is
 * refused (VERSION_INVALID), as `rpm.vercmp` refuses it.
 */
export function parseRpmEvr(evr: string): RpmEvr {
  const s = cstr(evr);
  if (s.length === 0) {
    throw new IngotError('VERSION_INVALID', 'invalid rpm version: the EVR is empty', {
      hint: 'an rpm EVR is [epoch:]version[-release], e.g. 1:2.3-4.fc40',
      data: { format: 'rpm', version: evr },
    });
  }
  let k = 0;
  while (k < s.length && isDigit(s.charCodeAt(k))) k++;
  let epoch: string | null = null;
  let vstart = 0;
  if (k < s.length && s.charCodeAt(k) === C_COLON) {
    epoch = k === 0 ? '0' : s.slice(0, k);
    vstart = k + 1;
  }
  const dash = s.lastIndexOf('-');
  if (dash >= vstart) return { epoch, version: s.slice(vstart, dash), release: s.slice(dash + 1) };
  return { epoch, version: s.slice(vstart), release: null };
}

/** The EVR as rpm prints it: `epoch:` only when present, `-release` only when present. */
export function formatRpmEvr(evr: RpmEvr): string {
  return `${evr.epoch !== null ? evr.epoch + ':' : ''}${evr.version}${evr.release !== null ? '-' + evr.release : ''}`;
}

/** null sorts before any string, even the empty one. */
function compareNullable(a: string | null, b: string | null): Cmp {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  return rpmvercmp(a, b);
}

/**
 * Sort order of two EVRs (`rpmverCmp`): a missing epoch is 0, then version, then release with
 * rpmvercmp; a missing release sorts before any release (`1.0 < 1.0-0`, and `1.0 < 1.0-`).
 */
export function compareRpmEvr(a: RpmEvr, b: RpmEvr): Cmp {
  return (
    rpmvercmp(a.epoch ?? '0', b.epoch ?? '0') || rpmvercmp(a.version, b.version) || compareNullable(a.release, b.release)
  );
}

/** `rpm.vercmp(a, b)` of rpm's Lua: parses both EVRs and compares them. */
export function compareRpmEvrStrings(a: string, b: string): Cmp {
  return compareRpmEvr(parseRpmEvr(a), parseRpmEvr(b));
}

// ---------------------------------------------------------------------------------------------
// Dependency ranges

/** rpmsenseFlags bits that make up a range (`RPMSENSE_SENSEMASK` is 15). */
export const RPMSENSE_LESS = 1 << 1;
export const RPMSENSE_GREATER = 1 << 2;
export const RPMSENSE_EQUAL = 1 << 3;
export const RPMSENSE_SENSEMASK = 15;

/**
 * Range flags for an operator: `<`, `<=`/`=<`, `=`/`==`, `>=`/`=>`, `>` as rpm's spec parser
 * knows them, and any other combination of `<`, `=`, `>` the way rpm's Python bindings read
 * it (`<>` is LESS|GREATER). The empty string is no range (an unversioned dependency).
 */
export function rpmSenseFromOp(op: string): number {
  let f = 0;
  for (let i = 0; i < op.length; i++) {
    const c = op.charCodeAt(i);
    if (c === 0x3c) f |= RPMSENSE_LESS;
    else if (c === 0x3e) f |= RPMSENSE_GREATER;
    else if (c === 0x3d) f |= RPMSENSE_EQUAL;
    else {
      throw new IngotError('VERSION_RELATION_INVALID', `invalid rpm dependency operator '${op}'`, {
        hint: "use one of '<', '<=', '=', '>=', '>'",
        data: { format: 'rpm', op },
      });
    }
  }
  return f;
}

/** The operator for range flags: '' when none of LESS, GREATER, EQUAL is set. */
export function rpmOpFromSense(flags: number): string {
  return `${flags & RPMSENSE_LESS ? '<' : ''}${flags & RPMSENSE_GREATER ? '>' : ''}${flags & RPMSENSE_EQUAL ? '=' : ''}`;
}

function epochNonZero(e: string): boolean {
  for (let i = 0; i < e.length; i++) {
    const c = e.charCodeAt(i);
    if (c > C_0 && c <= C_9) return true;
  }
  return false;
}

/**
 * Whether the ranges `flagsA evrA` and `flagsB evrB` overlap (`rpmverOverlap`). Symmetric.
 * - Epochs are compared only when both sides have one; otherwise the side with a non-zero
 *   epoch is the greater.
 * - When the versions are equal and only one side has a (non-empty) release, the ranges
 *   overlap as soon as the other side's flags include EQUAL: `Requires: foo >= 1.0` and
 *   `Requires: foo = 1.0` are met by `foo = 1.0-5`.
 */
export function rpmEvrOverlap(a: RpmEvr, flagsA: number, b: RpmEvr, flagsB: number): boolean {
  let sense: number = 0;
  if (a.epoch !== null && a.epoch !== '' && b.epoch !== null && b.epoch !== '') sense = rpmvercmp(a.epoch, b.epoch);
  else if (a.epoch !== null && a.epoch !== '' && epochNonZero(a.epoch)) sense = 1;
  else if (b.epoch !== null && b.epoch !== '' && epochNonZero(b.epoch)) sense = -1;

  if (sense === 0) {
    sense = rpmvercmp(a.version, b.version);
    if (sense === 0) {
      const ra = a.release !== null && a.release !== '';
      const rb = b.release !== null && b.release !== '';
      if (ra && rb) {
        sense = rpmvercmp(a.release!, b.release!);
      } else if ((ra && flagsB & RPMSENSE_EQUAL) || (rb && flagsA & RPMSENSE_EQUAL)) {
        return true;
      }
    }
  }
  if (sense < 0) return (flagsA & RPMSENSE_GREATER) !== 0 || (flagsB & RPMSENSE_LESS) !== 0;
  if (sense > 0) return (flagsA & RPMSENSE_LESS) !== 0 || (flagsB & RPMSENSE_GREATER) !== 0;
  return (
    (flagsA & flagsB & RPMSENSE_EQUAL) !== 0 || (flagsA & flagsB & RPMSENSE_LESS) !== 0 || (flagsA & flagsB & RPMSENSE_GREATER) !== 0
  );
}

/** One dependency entry: `name`, or `name op evr` (flags as in the header's *FLAGS tags). */
export interface RpmDep {
  name: string;
  /** rpmsenseFlags; only the bits in RPMSENSE_SENSEMASK matter here. 0 for an unversioned entry. */
  flags: number;
  /** The EVR string; '' for an unversioned entry. */
  evr: string;
}

/** Builds a dependency from an operator string (see `rpmSenseFromOp`). */
export function rpmDep(name: string, op = '', evr = ''): RpmDep {
  return { name, flags: rpmSenseFromOp(op), evr };
}

/**
 * `rpmdsCompare`: whether a provide and a require (in either order) match. Different names
 * never match; an entry without range flags or without an EVR matches every version of its
 * name; otherwise `rpmEvrOverlap` decides.
 */
export function rpmDepsOverlap(a: RpmDep, b: RpmDep): boolean {
  if (a.name !== b.name) return false;
  if ((a.flags & RPMSENSE_SENSEMASK) === 0 || (b.flags & RPMSENSE_SENSEMASK) === 0) return true;
  if (cstr(a.evr) === '' || cstr(b.evr) === '') return true;
  return rpmEvrOverlap(parseRpmEvr(a.evr), a.flags, parseRpmEvr(b.evr), b.flags);
}

/** Whether `provide` satisfies `require` (rpm's rule is symmetric; the names say the intent). */
export function rpmProvideSatisfies(provide: RpmDep, require: RpmDep): boolean {
  return rpmDepsOverlap(provide, require);
}
