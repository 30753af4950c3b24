/**
 * Debian version ordering, as dpkg implements it (`lib/dpkg/parsehelp.c` parseversion,
 * `lib/dpkg/version.c` verrevcmp; checked against dpkg 1.21.23):
 *
 * - `checkDebVersion` / `parseDebVersion`: `[epoch:]upstream[-revision]` with dpkg's errors
 *   (empty, embedded blanks, bad epoch, empty upstream or revision) and its warnings (upstream
 *   not starting with a digit, characters outside `[A-Za-z0-9.+~:-]` / `[A-Za-z0-9.+~]`).
 *   dpkg refuses a version with an error and still uses one with a warning.
 * - `compareDebVersions`: epoch numerically, then upstream, then revision with `verrevcmp`
 *   (`~` sorts before everything, even the end; letters before other characters).
 * - `debRelationSatisfied`: `<<`, `<=`, `=`, `>=`, `>>`, and the obsolete `<` / `>`, which
 *   mean `<=` / `>=`.
 * - `dpkgCompareVersions`: what `dpkg --compare-versions` answers, where the empty string and
 *   `<unknown>` stand for "no version", which sorts before every version.
 *
 * Strings are compared as dpkg compares C strings, byte for byte (a JS string's code units are
 * weighted so that the order is that of its UTF-8 bytes), and a NUL ends the string.
 */
import { IngotError } from '../../core/errors.js';

export type Cmp = -1 | 0 | 1;

export interface DebVersion {
  /** 0 when absent (dpkg does not distinguish `0:1.0` from `1.0`). */
  epoch: number;
  upstream: string;
  /** '' when absent; an absent revision compares like `0`. */
  revision: string;
}

export type DebVersionCheck =
  | { ok: true; version: DebVersion; /** dpkg's first warning, when there is one. */ warning?: string }
  | { ok: false; error: string };

const C_0 = 0x30;
const C_9 = 0x39;
const C_TILDE = 0x7e;
const INT_MAX = 2147483647;

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** c_isblank: space and tab. */
function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** isspace in the C locale, as strtol skips it: space, \t \n \v \f \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function cstr(s: string): string {
  const i = s.indexOf('\0');
  return i < 0 ? s : s.slice(0, i);
}

function upstreamCharOk(c: number): boolean {
  // [A-Za-z0-9] and ".-+~:"
  return isDigit(c) || isAlpha(c) || c === 0x2e || c === 0x2d || c === 0x2b || c === C_TILDE || c === 0x3a;
}

function revisionCharOk(c: number): boolean {
  // [A-Za-z0-9] and ".+~"
  return isDigit(c) || isAlpha(c) || c === 0x2e || c === 0x2b || c === C_TILDE;
}

/**
 * Parses a version as dpkg's parseversion does, without throwing. Leading and trailing blanks
 * are dropped; the epoch is read like strtol reads it (so `+1:2` has epoch 1), and must be at
 * most INT_MAX.
 */
export function checkDebVersion(input: string): DebVersionCheck {
  const s = cstr(input);
  const len = s.length;
  let start = 0;
  while (start < len && isBlank(s.charCodeAt(start))) start++;
  if (start === len) return { ok: false, error: 'version string is empty' };
  let end = start;
  while (end < len && !isBlank(s.charCodeAt(end))) end++;
  let p = end;
  while (p < len && isBlank(s.charCodeAt(p))) p++;
  if (p < len) return { ok: false, error: 'version string has embedded spaces' };

  let epoch = 0;
  let vstart = start;
  const colon = s.indexOf(':', start);
  if (colon >= 0) {
    // strtol(string, &end, 10)
    let k = start;
    while (k < len && isSpace(s.charCodeAt(k))) k++;
    let negative = false;
    const sign = s.charCodeAt(k);
    if (sign === 0x2b || sign === 0x2d) {
      negative = sign === 0x2d;
      k++;
    }
    const digits = k;
    while (k < len && isDigit(s.charCodeAt(k))) k++;
    if (k === digits) return { ok: false, error: 'epoch in version is empty' };
    if (colon !== k) return { ok: false, error: 'epoch in version is not number' };
    let z = digits;
    while (z < k && s.charCodeAt(z) === C_0) z++;
    const significant = k - z;
    if (negative && significant > 0) return { ok: false, error: 'epoch in version is negative' };
    if (!negative && (significant > 10 || (significant > 0 && Number(s.slice(z, k)) > INT_MAX))) {
      return { ok: false, error: 'epoch in version is too big' };
    }
    if (colon + 1 === len) return { ok: false, error: 'nothing after colon in version number' };
    epoch = significant === 0 ? 0 : Number(s.slice(z, k));
    vstart = colon + 1;
  }

  let upstream = s.slice(vstart, end);
  let revision = '';
  const hyphen = upstream.lastIndexOf('-');
  if (hyphen >= 0) {
    revision = upstream.slice(hyphen + 1);
    upstream = upstream.slice(0, hyphen);
    if (revision === '') return { ok: false, error: 'revision number is empty' };
  }
  if (upstream === '') return { ok: false, error: 'version number is empty' };
  const version: DebVersion = { epoch, upstream, revision };

  if (!isDigit(upstream.charCodeAt(0))) return { ok: true, version, warning: 'version number does not start with digit' };
  for (let i = 1; i < upstream.length; i++) {
    if (!upstreamCharOk(upstream.charCodeAt(i))) return { ok: true, version, warning: 'invalid character in version number' };
  }
  for (let i = 0; i < revision.length; i++) {
    if (!revisionCharOk(revision.charCodeAt(i))) return { ok: true, version, warning: 'invalid character in revision number' };
  }
  return { ok: true, version };
}

/**
 * Parses a Debian version, throwing VERSION_INVALID where dpkg reports an error. With
 * `strict`, dpkg's warnings (upstream not starting with a digit, stray characters) are errors
 * too, as Debian policy requires of new packages.
 */
export function parseDebVersion(input: string, opts: { strict?: boolean } = {}): DebVersion {
  const r = checkDebVersion(input);
  if (!r.ok || (opts.strict && r.warning)) {
    const reason = r.ok ? r.warning! : r.error;
    throw new IngotError('VERSION_INVALID', `invalid Debian version '${input}': ${reason}`, {
      hint: 'a Debian version is [epoch:]upstream[-revision], the upstream part starting with a digit, e.g. 1:2.36-9+deb12u4',
      data: { format: 'deb', version: input, reason },
    });
  }
  return r.version;
}

/** The version as dpkg writes it: `epoch:` only when non-zero, `-revision` only when present. */
export function formatDebVersion(v: DebVersion): string {
  return `${v.epoch ? `${v.epoch}:` : ''}${v.upstream}${v.revision ? `-${v.revision}` : ''}`;
}

/**
 * dpkg's weight of a character in a non-digit run: `~` -1, the end of the string and digits 0,
 * letters their code, other ASCII characters their code + 256. dpkg reads the string through
 * a signed `char`, so a byte >= 0x80 weighs `byte - 256 + 256`: between the letters and the
 * ASCII punctuation. Here non-ASCII code units keep that place and are ordered as their UTF-8
 * bytes would be (surrogates, i.e. code points above U+FFFF, after U+E000..U+FFFF); only the
 * sign of a difference is ever used.
 */
function order(c: number): number {
  if (c < 0 || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === C_TILDE) return -1;
  if (c < 0x80) return c + 0x20000;
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2800 + 0x100;
  return c + 0x100;
}

/** dpkg's verrevcmp on one part (upstream or revision). */
export function verrevcmp(a: string, b: string): Cmp {
  a = cstr(a);
  b = cstr(b);
  const la = a.length;
  const lb = b.length;
  let i = 0;
  let j = 0;
  while (i < la || j < lb) {
    let firstDiff = 0;
    // The non-digit prefixes, weighted by `order` (the end of a string weighs 0).
    for (;;) {
      const ca = i < la ? a.charCodeAt(i) : -1;
      const cb = j < lb ? b.charCodeAt(j) : -1;
      if ((ca < 0 || isDigit(ca)) && (cb < 0 || isDigit(cb))) break;
      const ac = order(ca);
      const bc = order(cb);
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    // The numeric runs: leading zeros do not count, a longer run is greater.
    while (i < la && a.charCodeAt(i) === C_0) i++;
    while (j < lb && b.charCodeAt(j) === C_0) j++;
    while (i < la && j < lb) {
      const ca = a.charCodeAt(i);
      const cb = b.charCodeAt(j);
      if (!isDigit(ca) || !isDigit(cb)) break;
      if (firstDiff === 0) firstDiff = ca - cb;
      i++;
      j++;
    }
    if (i < la && isDigit(a.charCodeAt(i))) return 1;
    if (j < lb && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/** dpkg_version_compare: epoch, then upstream, then revision. */
export function compareDebVersions(a: DebVersion, b: DebVersion): Cmp {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? 1 : -1;
  return verrevcmp(a.upstream, b.upstream) || verrevcmp(a.revision, b.revision);
}

/** Parses (as dpkg does, accepting warnings) and compares two version strings. */
export function compareDebVersionStrings(a: string, b: string): Cmp {
  return compareDebVersions(parseDebVersion(a), parseDebVersion(b));
}

/** Relation operators of Debian control fields; `<` and `>` are the obsolete `<=` and `>=`. */
export type DebRelation = '<<' | '<=' | '=' | '>=' | '>>' | '<' | '>';

const RELATIONS: ReadonlySet<string> = new Set(['<<', '<=', '=', '>=', '>>', '<', '>']);

export function isDebRelation(op: string): op is DebRelation {
  return RELATIONS.has(op);
}

/** Whether `a rel b` holds (dpkg_version_relate), e.g. installed `a` for `Depends: x (rel b)`. */
export function debRelationSatisfied(a: DebVersion | string, rel: DebRelation | string, b: DebVersion | string): boolean {
  if (!isDebRelation(rel)) {
    throw new IngotError('VERSION_RELATION_INVALID', `invalid Debian relation operator '${rel}'`, {
      hint: "use one of '<<', '<=', '=', '>=', '>>'",
      data: { format: 'deb', op: rel },
    });
  }
  const c = compareDebVersions(typeof a === 'string' ? parseDebVersion(a) : a, typeof b === 'string' ? parseDebVersion(b) : b);
  switch (rel) {
    case '<<':
      return c < 0;
    case '<=':
    case '<':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
    case '>':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}

/** The string `dpkg --compare-versions` reads as "no version" (besides the empty string). */
export const DPKG_UNKNOWN_VERSION = '<unknown>';

/**
 * `dpkg --compare-versions a OP b` as an ordering: '' and '<unknown>' are "no version", equal
 * to each other and older than every version; anything else must parse (warnings allowed),
 * else VERSION_INVALID.
 */
export function dpkgCompareVersions(a: string, b: string): Cmp {
  const na = a === '' || a === DPKG_UNKNOWN_VERSION;
  const nb = b === '' || b === DPKG_UNKNOWN_VERSION;
  const va = na ? null : parseDebVersion(a);
  const vb = nb ? null : parseDebVersion(b);
  if (va === null) return vb === null ? 0 : -1;
  if (vb === null) return 1;
  return compareDebVersions(va, vb);
}
