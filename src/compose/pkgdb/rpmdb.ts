/**
 * The installed-package database of an RPM tree: `usr/lib/sysimage/rpm/rpmdb.sqlite` as rpm
 * 4.18's sqlite backend writes it (lib/backend/sqlite.c, lib/rpmdb.c, lib/psm.c), so that the
 * tree's own rpm, `rpm --root TREE`, libsolv and the scanners (go-rpmdb, syft, trivy) read it
 * without a `--rebuilddb`.
 *
 * What is stored for each package, as `rpm -i` stores it:
 * - `Packages.blob`: the package's main header (its immutable region, byte for byte), followed
 *   by the "dribble" entries rpm adds: the signature tags it merges into the header when it
 *   reads a package file (headerMergeLegacySigs: SIGSIZE, SIGMD5, SHA1HEADER, SHA256HEADER,
 *   ARCHIVESIZE, the OpenPGP signatures, ...), INSTPREFIXES for relocatable packages, and at
 *   install time FILESTATES, INSTALLTID, INSTALLTIME and INSTALLCOLOR (psm.c dbAdd). Dribbles
 *   are sorted by tag and their data aligned as headerExport does; il and dl cover them.
 * - The 18 index tables, in rpm's order, with its keys (tag2index): one row per array element
 *   with idx = the element's index; Requirename skips install-only requirements
 *   (isTransientReq); Triggername skips repeated names; (Trans)Filetriggername use
 *   FILETRIGGERINDEX as idx; rich dependencies in Requirename, Conflictname and the weak
 *   dependency tables add one row per leaf name, sorted and de-duplicated, names in a negated
 *   position (the condition of `if`/`unless`) prefixed with `!`; Group falls back to "Unknown";
 *   Installtid holds INSTALLTID as 4 bytes in the target's byte order, Sigmd5 the 16 MD5 bytes.
 *
 * Deliberate differences from rpm: the file is written in rollback-journal mode (rpm leaves it
 * in WAL mode with empty -wal/-shm files). A WAL database cannot be opened read-only without
 * its -shm file, and a composed tree's /usr is read-only; rpm switches back to WAL itself the
 * next time it opens the database for writing. No `sqlite_stat1` (rpm's closing `PRAGMA
 * optimize` leaves planner statistics; they change no result).
 *
 * Reproducibility: with SOURCE_DATE_EPOCH set, rpm 4.18 uses it as the transaction id and as
 * the first package's install time, adding one second per package (rpmtsGetTime); so does
 * `installTime` here. Given the same packages in the same order, the Packages blobs and the
 * index rows equal what `SOURCE_DATE_EPOCH=T rpm -i --justdb` writes, and two runs give the
 * same file bytes.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { IngotError, ioError } from '../../core/errors.js';
import { parseHeader, type RpmHeader } from '../../codecs/rpm/header.js';
import { parseRichDep, type RichDep } from '../../codecs/rpm/richdep.js';
import { HEADER_IMMUTABLE, HEADER_SIGNATURES, RpmType, SENSE, SIG, TAG, tagType } from '../../codecs/rpm/tags.js';
import { readRpmFile } from '../../sources/rpm-file.js';

/** Where Fedora ≥ 36, openSUSE and ingot keep the rpmdb (relative to the tree's root). */
export const RPMDB_DIR = 'usr/lib/sysimage/rpm';
export const RPMDB_FILE = 'rpmdb.sqlite';

/** One package to record. */
export interface RpmDbPackage {
  /**
   * The package's main header as in the package file (8-byte magic, il, dl, index, data) or
   * as rpm stores it (no magic): the immutable region and nothing else.
   */
  header: Uint8Array;
  /** The package file's signature header (with its magic); its digests are merged as rpm does. */
  signature?: Uint8Array;
  /** FILESTATES, one per file in header order (0 normal, 2 not installed, ...); default all 0. */
  fileStates?: ArrayLike<number>;
  /** What the package is, for messages (usually the file name). */
  label?: string;
}

export interface RpmDbOptions {
  /**
   * The install time in seconds since the epoch (use SOURCE_DATE_EPOCH): INSTALLTID of every
   * package and INSTALLTIME of the first; each later package's INSTALLTIME is one more.
   */
  installTime: number;
  /** The target's rpm architecture (`x86_64`, `aarch64`, `s390x`, ...), default x86_64: it gives the transaction color and the byte order of Installtid keys. */
  arch?: string;
  /** INSTALLCOLOR (rpm's %_transaction_color); default from `arch`. */
  color?: number;
  /** Installtid keys in big-endian order; default from `arch`. */
  bigEndian?: boolean;
  /** The database directory relative to the root; default usr/lib/sysimage/rpm. */
  dbPath?: string;
}

export interface RpmDbResult {
  /** The database file written. */
  path: string;
  /** The packages in hnum order. */
  packages: { hnum: number; name: string; nevra: string }[];
}

/** rpm's %_transaction_color for an architecture (installplatform: 3 on 64-bit multilib arches, 2 on ia64). */
export function rpmTransactionColor(arch: string): number {
  if (/^(x86_64|amd64|ia32e|aarch64|ppc64|ppc64p7|ppc64le|s390x|sparc64.*|mips64.*|riscv64|loongarch64)$/.test(arch)) return 3;
  if (arch === 'ia64') return 2;
  return 0;
}

/** Whether an rpm architecture is big-endian (rpm stores Installtid keys in host order). */
export function rpmArchIsBigEndian(arch: string): boolean {
  return /^(s390x?|ppc|ppc64|ppc64p7|sparc.*|mips|mips64|mipsr6|mips64r6|m68k|hppa.*)$/.test(arch);
}

function invalid(label: string | undefined, msg: string, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('RPM_INVALID', `${label ? `${label}: ` : ''}${msg}`, {
    hint: 'the package cannot be recorded as rpm would record it; check that it is a binary package built by rpmbuild',
    data: { ...(label ? { path: label } : {}), ...data },
  });
}

// ---------------------------------------------------------------------------------------------
// Raw header data

const TYPE_SIZE = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1];

/** An entry's type, count and data bytes exactly as stored (big-endian integers). */
interface RawEntry {
  tag: number;
  type: number;
  count: number;
  data: Uint8Array;
}

function dataStart(h: RpmHeader): number {
  return (h.hasMagic ? 16 : 8) + h.il * 16;
}

function rawEntry(h: RpmHeader, tag: number): RawEntry | undefined {
  const e = h.get(tag);
  if (!e) return undefined;
  const start = dataStart(h) + e.offset;
  let end: number;
  const size = TYPE_SIZE[e.type]!;
  if (size > 0) {
    end = start + size * e.count;
  } else {
    const n = e.type === RpmType.STRING ? 1 : e.count;
    end = start;
    for (let k = 0; k < n; k++) end = h.bytes.indexOf(0, end) + 1;
  }
  return { tag, type: e.type, count: e.count, data: h.bytes.subarray(start, end) };
}

/** A string entry's values with each byte as one code unit (latin1), so that no byte is lost or changed. */
function rawStrings(h: RpmHeader, tag: number): string[] | undefined {
  const r = rawEntry(h, tag);
  if (!r || (r.type !== RpmType.STRING && r.type !== RpmType.STRING_ARRAY && r.type !== RpmType.I18NSTRING)) return undefined;
  const text = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('latin1');
  return text.split('\0').slice(0, r.type === RpmType.STRING ? 1 : r.count);
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

// ---------------------------------------------------------------------------------------------
// The stored header

/** rpm's xlateTags (lib/package.c): signature tag, header tag, required count (0 any), quirk. */
const SIG_XLATE: readonly (readonly [number, number, number, boolean])[] = [
  [SIG.SIZE, 257, 1, false],
  [SIG.PGP, 259, 0, false],
  [SIG.MD5, 261, 16, false],
  [SIG.GPG, 262, 0, false],
  [SIG.PAYLOADSIZE, 1046, 1, true],
  [SIG.FILESIGNATURES, 5090, 0, true],
  [SIG.FILESIGNATURELENGTH, 5091, 1, true],
  [SIG.VERITYSIGNATURES, 276, 0, false],
  [SIG.VERITYSIGNATUREALGO, 277, 1, false],
  [SIG.SHA1, 269, 1, false],
  [SIG.SHA256, 273, 1, false],
  [SIG.DSA, 267, 0, false],
  [SIG.RSA, 268, 0, false],
  [SIG.LONGSIZE, 270, 1, false],
  [SIG.LONGARCHIVESIZE, 271, 1, false],
];

const FILESTATES = 1029;
const INSTALLTIME = 1008;
const INSTALLCOLOR = 1127;
const INSTALLTID = 1128;
const INSTPREFIXES = 1099;
const INSTALL_TAGS = [FILESTATES, INSTALLTIME, INSTALLCOLOR, INSTALLTID];

export interface InstalledHeaderOptions {
  installTime: number;
  installTid: number;
  color: number;
}

/** Parses a main header given with or without its magic; it must be one immutable region. */
function parseMain(bytes: Uint8Array, label: string | undefined): RpmHeader {
  const magic = bytes.length >= 3 && bytes[0] === 0x8e && bytes[1] === 0xad && bytes[2] === 0xe8;
  return parseHeader(bytes, { regionTag: HEADER_IMMUTABLE, magic, exact: true, requireRegion: true, label: `${label ? `${label}: ` : ''}main header` });
}

/**
 * The header blob rpm stores in Packages for `pkg`: the region unchanged, then the merged
 * signature tags and the install-time tags, sorted by tag. Pure.
 */
export function installedHeader(pkg: RpmDbPackage, opts: InstalledHeaderOptions): Uint8Array {
  const label = pkg.label;
  const h = parseMain(pkg.header, label);
  if (!h.has(TAG.SOURCERPM)) {
    throw invalid(label, 'the header has no SOURCERPM: it is a source package, which rpm does not record as installed', { tag: TAG.SOURCERPM });
  }
  for (const t of INSTALL_TAGS) {
    if (h.has(t)) throw invalid(label, `the main header already holds install-time tag ${t}`, { tag: t });
  }
  const sig = pkg.signature ? parseHeader(pkg.signature, { regionTag: HEADER_SIGNATURES, label: `${label ? `${label}: ` : ''}signature header` }) : undefined;
  const dribbles: RawEntry[] = [];

  // headerMergeLegacySigs: none of the header tags may be in the main header already (a few
  // may, when the signature header lacks them), then every signature tag is copied over.
  for (const [stag, xtag, , quirk] of SIG_XLATE) {
    if (!h.has(xtag)) continue;
    if (quirk && !sig?.has(stag)) continue;
    throw invalid(label, `invalid signature tag ${xtag}: the main header holds it too`, { tag: xtag });
  }
  if (sig) {
    for (const [stag, xtag, count] of SIG_XLATE) {
      const r = rawEntry(sig, stag);
      if (!r) continue;
      if (r.type !== tagType(xtag) || r.count < 1 || r.count > 16 * 1024 * 1024 || (count && r.count !== count)) {
        throw invalid(label, `invalid signature tag ${xtag}: signature tag ${stag} has type ${r.type} and count ${r.count}`, { tag: stag });
      }
      dribbles.push({ ...r, tag: xtag });
    }
  }

  // relocation.c addPrefixes: a relocatable package installed without relocations.
  if (h.has(TAG.PREFIXES) && !h.has(INSTPREFIXES)) dribbles.push({ ...rawEntry(h, TAG.PREFIXES)!, tag: INSTPREFIXES });

  // psm.c dbAdd.
  const fc = h.get(TAG.BASENAMES)?.count ?? 0;
  if (fc > 0) {
    const states = new Uint8Array(fc);
    if (pkg.fileStates) {
      if (pkg.fileStates.length !== fc) throw new Error(`installedHeader: ${fc} files but ${pkg.fileStates.length} file states`);
      for (let i = 0; i < fc; i++) states[i] = pkg.fileStates[i]!;
    }
    dribbles.push({ tag: FILESTATES, type: RpmType.CHAR, count: fc, data: states });
  }
  dribbles.push({ tag: INSTALLTID, type: RpmType.INT32, count: 1, data: u32(opts.installTid) });
  dribbles.push({ tag: INSTALLTIME, type: RpmType.INT32, count: 1, data: u32(opts.installTime) });
  dribbles.push({ tag: INSTALLCOLOR, type: RpmType.INT32, count: 1, data: u32(opts.color) });

  return exportHeader(h, dribbles);
}

/** headerExport for a region plus dribbles: region index and data verbatim, dribbles sorted by tag and aligned. */
function exportHeader(h: RpmHeader, dribbles: RawEntry[]): Uint8Array {
  dribbles.sort((a, b) => a.tag - b.tag);
  const start = dataStart(h);
  const regionIndex = h.bytes.subarray(h.hasMagic ? 16 : 8, start);
  const regionData = h.bytes.subarray(start, start + h.dl);
  let dl = h.dl;
  const offsets: number[] = [];
  for (const d of dribbles) {
    const size = TYPE_SIZE[d.type]!;
    if (size > 1) dl += (size - (dl % size)) % size;
    offsets.push(dl);
    dl += d.data.length;
  }
  const il = h.il + dribbles.length;
  const out = new Uint8Array(8 + il * 16 + dl);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, il);
  dv.setUint32(4, dl);
  out.set(regionIndex, 8);
  const dstart = 8 + il * 16;
  dribbles.forEach((d, i) => {
    const o = 8 + (h.il + i) * 16;
    dv.setUint32(o, d.tag);
    dv.setUint32(o + 4, d.type);
    dv.setInt32(o + 8, offsets[i]!);
    dv.setUint32(o + 12, d.count);
    out.set(d.data, dstart + offsets[i]!);
  });
  out.set(regionData, dstart);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Index tables

interface IndexDef {
  table: string;
  tag: number;
  /** TEXT keys (string tags) or BLOB keys. */
  text: boolean;
  /** rpm creates `<T>_hnum_idx` for array tags. */
  array: boolean;
}

/** rpm 4.18's dbiTags, in its order. */
export const RPMDB_INDEXES: readonly IndexDef[] = [
  { table: 'Name', tag: TAG.NAME, text: true, array: false },
  { table: 'Basenames', tag: TAG.BASENAMES, text: true, array: true },
  { table: 'Group', tag: TAG.GROUP, text: true, array: false },
  { table: 'Requirename', tag: TAG.REQUIRENAME, text: true, array: true },
  { table: 'Providename', tag: TAG.PROVIDENAME, text: true, array: true },
  { table: 'Conflictname', tag: TAG.CONFLICTNAME, text: true, array: true },
  { table: 'Obsoletename', tag: TAG.OBSOLETENAME, text: true, array: true },
  { table: 'Triggername', tag: TAG.TRIGGERNAME, text: true, array: true },
  { table: 'Dirnames', tag: TAG.DIRNAMES, text: true, array: true },
  { table: 'Installtid', tag: INSTALLTID, text: false, array: false },
  { table: 'Sigmd5', tag: 261, text: false, array: false },
  { table: 'Sha1header', tag: 269, text: true, array: false },
  { table: 'Filetriggername', tag: 5069, text: true, array: true },
  { table: 'Transfiletriggername', tag: 5079, text: true, array: true },
  { table: 'Recommendname', tag: TAG.RECOMMENDNAME, text: true, array: true },
  { table: 'Suggestname', tag: TAG.SUGGESTNAME, text: true, array: true },
  { table: 'Supplementname', tag: TAG.SUPPLEMENTNAME, text: true, array: true },
  { table: 'Enhancename', tag: TAG.ENHANCENAME, text: true, array: true },
];

const FILETRIGGERINDEX = 5070;
const TRANSFILETRIGGERINDEX = 5080;
const RICH_TABLES = new Set(['Requirename', 'Conflictname', 'Suggestname', 'Supplementname', 'Recommendname', 'Enhancename']);

/** rpmds.h isTransientReq: needed only while installing (scriptlet pre/post, rpmlib, pretrans/posttrans). */
function isTransientReq(flags: number): boolean {
  const installOnly = SENSE.SCRIPT_PRE | SENSE.SCRIPT_POST | SENSE.RPMLIB | SENSE.KEYRING | SENSE.PRETRANS | SENSE.POSTTRANS;
  const eraseOnly = SENSE.SCRIPT_PREUN | SENSE.SCRIPT_POSTUN;
  return (flags & installOnly) !== 0 && (flags & eraseOnly) === 0 && (flags & SENSE.META) === 0;
}

/**
 * The extra index keys of a rich dependency (lib/rpmdb.c updateRichDep): every leaf name but
 * `rpmlib(...)`, `!`-prefixed in a negated position (an if/unless condition; the condition is
 * repeated un-negated for an else branch), sorted bytewise, duplicates dropped. Undefined when
 * the text does not parse (rpm then adds no extra keys).
 */
export function richIndexKeys(text: string): string[] | undefined {
  let tree: RichDep;
  try {
    tree = parseRichDep(text);
  } catch {
    return undefined;
  }
  const argv: string[] = [];
  let neg = false;
  const simple = (name: string): void => {
    if (name.length === 0 || (name.length > 7 && name.startsWith('rpmlib('))) return;
    argv.push((neg ? '!' : ' ') + name);
  };
  // Replays rpmrichParse's callbacks (ENTER, SIMPLE, OP, LEAVE) over the tree. A level with a
  // single operand only records where it starts, which nothing reads, so the parentheses the
  // tree drops change nothing.
  const operand = (d: RichDep): void => {
    if (d.op === 'atom') simple(d.atom.name);
    else level(d);
  };
  const level = (d: RichDep): void => {
    switch (d.op) {
      case 'atom':
        return simple(d.atom.name);
      case 'if':
      case 'unless': {
        operand(d.then);
        const condStart = argv.length;
        neg = !neg;
        operand(d.cond);
        if (d.else) {
          const n = argv.length;
          for (let i = condStart; i < n; i++) argv.push((argv[i]![0] === '!' ? ' ' : '!') + argv[i]!.slice(1));
          neg = !neg;
          operand(d.else);
        } else {
          neg = !neg;
        }
        return;
      }
      default:
        for (const a of d.args) operand(a);
    }
  };
  level(tree);
  const sorted = argv.map((s) => Buffer.from(s, 'latin1')).sort(Buffer.compare);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i]!.equals(sorted[i - 1]!)) continue;
    const s = sorted[i]!.toString('latin1');
    out.push(s[0] === ' ' ? s.slice(1) : s);
  }
  return out;
}

/** One index row: a TEXT key (as latin1 code units, one per byte) or a BLOB key, and the element index. */
export interface RpmIndexRow {
  key: string | Uint8Array;
  idx: number;
}

/**
 * The rows rpm adds to each index table for a stored header blob (tag2index). Pure;
 * `bigEndian` is the target's byte order (for Installtid).
 */
export function rpmDbIndexRows(blob: Uint8Array, opts: { bigEndian?: boolean } = {}): Map<string, RpmIndexRow[]> {
  const h = parseHeader(blob, { regionTag: HEADER_IMMUTABLE, magic: false, requireRegion: true, label: 'rpmdb header' });
  const out = new Map<string, RpmIndexRow[]>();
  for (const def of RPMDB_INDEXES) out.set(def.table, tagRows(h, def, !!opts.bigEndian));
  return out;
}

function tagRows(h: RpmHeader, def: IndexDef, bigEndian: boolean): RpmIndexRow[] {
  const rows: RpmIndexRow[] = [];
  const e = h.get(def.tag);
  if (!e) {
    // "XXX preserve legacy behavior"
    if (def.table === 'Group') rows.push({ key: 'Unknown', idx: 0 });
    return rows;
  }
  if (!def.text) {
    if (e.type === RpmType.BIN) {
      rows.push({ key: Uint8Array.from(rawEntry(h, def.tag)!.data), idx: 0 });
    } else {
      for (let i = 0; i < e.count; i++) {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, (e.value as number[])[i]!, !bigEndian);
        rows.push({ key: b, idx: i });
      }
    }
    return rows;
  }
  let values = rawStrings(h, def.tag);
  if (!values) return rows;
  // headerGet without HEADERGET_RAW gives one string for an I18NSTRING (the C locale's, first).
  if (e.type === RpmType.I18NSTRING) values = values.slice(0, 1);
  const reqFlags = def.table === 'Requirename' ? h.numbers(TAG.REQUIREFLAGS) : undefined;
  const trigIndex =
    def.table === 'Filetriggername' ? h.numbers(FILETRIGGERINDEX) : def.table === 'Transfiletriggername' ? h.numbers(TRANSFILETRIGGERINDEX) : undefined;
  for (let i = 0; i < values.length; i++) {
    const key = values[i]!;
    let idx = i;
    if (trigIndex) {
      if (trigIndex[i] === undefined) throw invalid(undefined, `tag ${def.tag} has more elements than its trigger index`, { tag: def.tag });
      idx = trigIndex[i]!;
    }
    if (reqFlags && reqFlags[i] !== undefined && isTransientReq(reqFlags[i]!)) continue;
    if (def.table === 'Triggername' && values.slice(0, i).includes(key)) continue;
    rows.push({ key, idx });
    if (key.startsWith('(') && RICH_TABLES.has(def.table) && e.type === RpmType.STRING_ARRAY) {
      for (const k of richIndexKeys(key) ?? []) rows.push({ key: k, idx });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The database file

function packagesSql(): string {
  return "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)";
}

/** The schema statements in the order rpm runs them when it creates a database. */
export function rpmDbSchema(): string[] {
  const out = [packagesSql()];
  for (const d of RPMDB_INDEXES) {
    out.push(
      `CREATE TABLE IF NOT EXISTS '${d.table}' (key '${d.text ? 'TEXT' : 'BLOB'}' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))`,
    );
    if (d.text) out.push(`CREATE INDEX IF NOT EXISTS '${d.table}_key_idx' ON '${d.table}'(key ASC)`);
    if (d.text && d.array) out.push(`CREATE INDEX IF NOT EXISTS '${d.table}_hnum_idx' ON '${d.table}'(hnum ASC)`);
  }
  return out;
}

function safeRelative(p: string, what: string): string {
  const norm = path.posix.normalize(p);
  if (path.posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../') || norm === '.') {
    throw new IngotError('PATH_INVALID', `${what} '${p}' must be a relative path inside the root`, { hint: 'give a path such as usr/lib/sysimage/rpm', data: { path: p } });
  }
  return norm;
}

/** The header and signature of an RPM file as writeRpmDb wants them (header digests checked). */
export async function readRpmDbPackage(file: string): Promise<RpmDbPackage> {
  const { head } = await readRpmFile(file);
  return { header: head.header.bytes, signature: head.signature.bytes, label: file };
}

function nevraOf(h: RpmHeader): string {
  const s = (t: number): string => h.string(t) ?? '';
  const e = h.number(TAG.EPOCH);
  return `${s(TAG.NAME)}-${e !== undefined ? `${e}:` : ''}${s(TAG.VERSION)}-${s(TAG.RELEASE)}.${s(TAG.ARCH)}`;
}

/**
 * Writes `<root>/<dbPath>/rpmdb.sqlite` (default usr/lib/sysimage/rpm) recording `packages`
 * as installed, in the given order (hnum 1, 2, ...). An existing database there is replaced
 * atomically (with its -wal/-shm files); an empty `.rpm.lock` is created as rpm does.
 */
export function writeRpmDb(root: string, packages: readonly RpmDbPackage[], opts: RpmDbOptions): RpmDbResult {
  if (!Number.isInteger(opts.installTime) || opts.installTime < 0 || opts.installTime + packages.length > 0xffffffff) {
    throw new Error(`writeRpmDb: installTime ${opts.installTime} is not a 32-bit time`);
  }
  const arch = opts.arch ?? 'x86_64';
  const color = opts.color ?? rpmTransactionColor(arch);
  const bigEndian = opts.bigEndian ?? rpmArchIsBigEndian(arch);
  const dir = path.join(root, safeRelative(opts.dbPath ?? RPMDB_DIR, 'the rpmdb path'));

  // Everything that can fail on bad input happens before the file system is touched.
  const seen = new Map<string, string | undefined>();
  const blobs = packages.map((p, i) => {
    const blob = installedHeader(p, { installTime: opts.installTime + i, installTid: opts.installTime, color });
    const h = parseHeader(blob, { regionTag: HEADER_IMMUTABLE, magic: false, label: p.label ?? 'rpmdb header' });
    const nevra = nevraOf(h);
    if (seen.has(nevra)) {
      throw new IngotError('PKGDB_INVALID', `${nevra} is given twice${p.label ? ` (${seen.get(nevra) ?? '?'} and ${p.label})` : ''}`, {
        hint: 'rpm records one instance of a name, version, release and architecture; remove the duplicate',
        data: { nevra },
      });
    }
    seen.set(nevra, p.label);
    return { blob, name: h.string(TAG.NAME)!, nevra, rows: rpmDbIndexRows(blob, { bigEndian }) };
  });

  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw ioError(e, 'cannot create directory', dir);
  }
  const target = path.join(dir, RPMDB_FILE);
  const tmp = path.join(dir, `.${RPMDB_FILE}.ingot-${process.pid}-${randomBytes(6).toString('hex')}`);
  const result: RpmDbResult = { path: target, packages: [] };
  try {
    const db = new Database(tmp);
    try {
      // The file is renamed into place only once complete: no journal needed while building.
      db.pragma('page_size = 4096');
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      for (const sql of rpmDbSchema()) db.exec(sql);
      const putPkg = db.prepare("INSERT INTO 'Packages' VALUES(?, ?)");
      const put = new Map(
        RPMDB_INDEXES.map((d) => [d.table, db.prepare(d.text ? `INSERT INTO '${d.table}' VALUES(CAST(? AS TEXT), ?, ?)` : `INSERT INTO '${d.table}' VALUES(?, ?, ?)`)]),
      );
      db.transaction(() => {
        for (const p of blobs) {
          const hnum = Number(putPkg.run(null, Buffer.from(p.blob.buffer, p.blob.byteOffset, p.blob.byteLength)).lastInsertRowid);
          for (const d of RPMDB_INDEXES) {
            const stmt = put.get(d.table)!;
            for (const r of p.rows.get(d.table)!) {
              // TEXT keys go in as their exact bytes (CAST of a BLOB keeps them; a header string need not be UTF-8).
              const key = typeof r.key === 'string' ? Buffer.from(r.key, 'latin1') : Buffer.from(r.key);
              stmt.run(key, hnum, r.idx);
            }
          }
          result.packages.push({ hnum, name: p.name, nevra: p.nevra });
        }
      })();
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fchmodSync(fd, 0o644);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // A stale WAL next to the new file would be replayed into it: remove them first.
    for (const ext of ['-wal', '-shm', '-journal']) fs.rmSync(target + ext, { force: true });
    fs.renameSync(tmp, target);
    const lock = path.join(dir, '.rpm.lock');
    if (!fs.existsSync(lock)) fs.writeFileSync(lock, '', { mode: 0o644 });
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch (e) {
    for (const ext of ['', '-journal']) fs.rmSync(tmp + ext, { force: true });
    if (e instanceof IngotError) throw e;
    if (e instanceof Error && (e as { code?: unknown }).code && String((e as { code?: unknown }).code).startsWith('SQLITE_')) {
      throw new IngotError('IO_ERROR', `cannot write the rpm database '${target}': ${e.message}`, { cause: e, hint: 'check the space and permissions of the directory', data: { path: target } });
    }
    throw ioError(e, 'cannot write the rpm database', target);
  }
  return result;
}
