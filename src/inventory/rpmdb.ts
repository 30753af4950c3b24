/**
 * Readers for the three rpmdb backends, each returning the package headers it stores:
 *
 * - sqlite `rpmdb.sqlite` (rpm ≥ 4.16): `SELECT hnum, blob FROM Packages`, the blob being the
 *   main header without its 8-byte magic (lib/backend/sqlite.c).
 * - Berkeley DB hash `Packages` (rpm ≤ 4.15; RHEL/CentOS 7-8, Amazon Linux 2), read as rpm's
 *   own read-only backend reads it (lib/backend/bdb_ro.c): the metadata page gives the page
 *   size, the bucket masks and the spares table; every bucket's chain of hash pages holds
 *   key/value pairs, values of header size live on chains of overflow pages. Keys are the
 *   package number in host byte order; key 0 is rpm's bookkeeping record. Both byte orders are
 *   read (the hash magic tells which).
 * - ndb `Packages.db` (SUSE; lib/backend/ndb/rpmpkg.c): a 32-byte header (`RpmP`, version 0,
 *   generation, slot page count, next package index), 4 KiB slot pages of 16-byte `Slot`
 *   entries (package index, block offset, block count; blocks are 16 bytes), each blob framed
 *   by `BlbS` head (index, time stamp, length) and `BlbE` tail (adler32, length).
 *
 * Every offset and length is checked against the file: a corrupt database is PKGDB_CORRUPT
 * with the file and the byte offset, never a crash or a silently short list.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { IngotError } from '../core/errors.js';
import { parseHeader, type RpmHeader } from '../codecs/rpm/header.js';
import { HEADER_IMMUTABLE, TAG } from '../codecs/rpm/tags.js';
import { parseSourceRpm } from '../codecs/rpm/metadata.js';

export function corrupt(file: string, msg: string, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('PKGDB_CORRUPT', `${file}: ${msg}`, {
    hint: "the package database is damaged or truncated; on the machine itself 'rpm --rebuilddb' or restoring /var/lib/dpkg/status from status-old repairs it",
    data: { path: file, ...data },
  });
}

/** One package as an rpm header describes it. */
export interface RpmDbEntry {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
  sourceRpm: string | null;
}

/**
 * The package a stored header describes; null for rpm's pseudo-packages (`gpg-pubkey`, which
 * have no SOURCERPM and are keys, not software).
 */
export function entryFromHeader(blob: Uint8Array, file: string, key: string): RpmDbEntry | null {
  let h: RpmHeader;
  try {
    h = parseHeader(blob, { regionTag: HEADER_IMMUTABLE, magic: false, label: `${file} package ${key}` });
  } catch (e) {
    throw corrupt(file, `package ${key}: ${(e as Error).message}`, { package: key });
  }
  const name = h.string(TAG.NAME);
  const version = h.string(TAG.VERSION);
  const release = h.string(TAG.RELEASE);
  if (name === undefined || version === undefined || release === undefined) {
    throw corrupt(file, `package ${key}: the header lacks NAME, VERSION or RELEASE`, { package: key });
  }
  const sourceRpm = h.string(TAG.SOURCERPM) ?? null;
  if (name === 'gpg-pubkey' && sourceRpm === null) return null;
  const src = sourceRpm ? parseSourceRpm(sourceRpm) : undefined;
  return {
    name,
    epoch: h.number(TAG.EPOCH) ?? 0,
    version,
    release,
    arch: h.string(TAG.ARCH) ?? '',
    sourceName: src?.name ?? name,
    sourceVersion: src?.version ?? `${version}-${release}`,
    sourceRpm,
  };
}

/**
 * rpmdb.sqlite. `wal` is the `-wal` file's content when it is not empty: rows that live only
 * there are part of the database (rpm leaves it in WAL mode), so both are read together.
 */
export function readRpmdbSqlite(bytes: Buffer, file: string, wal: Buffer | null = null): RpmDbEntry[] {
  let tmp: string | null = null;
  let db: Database.Database;
  try {
    if (wal && wal.length > 0) {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ingot-rpmdb-'));
      fs.writeFileSync(path.join(tmp, 'rpmdb.sqlite'), bytes);
      fs.writeFileSync(path.join(tmp, 'rpmdb.sqlite-wal'), wal);
      db = new Database(path.join(tmp, 'rpmdb.sqlite'), { fileMustExist: true });
    } else {
      // A database left in WAL mode (bytes 18-19 = 2) cannot be opened from memory; with an
      // empty or absent -wal its pages are all in the main file, so read it as a rollback one.
      let b = bytes;
      if (b.length >= 100 && (b[18] === 2 || b[19] === 2)) {
        b = Buffer.from(b);
        b[18] = 1;
        b[19] = 1;
      }
      db = new Database(b, { readonly: true });
    }
  } catch (e) {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    throw corrupt(file, `not an SQLite database (${(e as Error).message})`);
  }
  try {
    let rows: { hnum: number; blob: Buffer }[];
    try {
      rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all() as { hnum: number; blob: Buffer }[];
    } catch (e) {
      throw corrupt(file, `cannot read the Packages table (${(e as Error).message})`);
    }
    const out: RpmDbEntry[] = [];
    for (const r of rows) {
      if (!Buffer.isBuffer(r.blob)) throw corrupt(file, `package ${r.hnum}: the blob is not binary`, { package: r.hnum });
      const e = entryFromHeader(r.blob, file, String(r.hnum));
      if (e) out.push(e);
    }
    return out;
  } finally {
    db.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Berkeley DB hash

const HASH_MAGIC = 0x00061561;
const P_OVERFLOW = 7;
const P_HASH_UNSORTED = 2;
const P_HASH = 13;
const P_HASHMETA = 8;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const PAGE_HEADER = 26;

/** Reads every key/value pair of a Berkeley DB hash database (the Packages file). */
export function readBdbHash(bytes: Buffer, file: string): { key: Buffer; value: Buffer }[] {
  if (bytes.length < 512) throw corrupt(file, `only ${bytes.length} bytes: too short for a Berkeley DB metadata page`, { offset: 0 });
  let le: boolean;
  if (bytes.readUInt32LE(12) === HASH_MAGIC) le = true;
  else if (bytes.readUInt32BE(12) === HASH_MAGIC) le = false;
  else throw corrupt(file, 'not a Berkeley DB hash database (bad magic at byte 12)', { offset: 12 });
  const u32 = (o: number): number => (le ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
  const version = u32(16);
  if (version < 8 || version > 10) throw corrupt(file, `unsupported hash version ${version}`, { offset: 16 });
  const pagesize = u32(20);
  if (pagesize < 512 || pagesize > 65536 || (pagesize & (pagesize - 1)) !== 0) throw corrupt(file, `bad page size ${pagesize}`, { offset: 20 });
  const lastpage = u32(32);
  const maxbucket = u32(72);
  const spares: number[] = [];
  for (let i = 0; i < 32; i++) spares.push(u32(96 + i * 4));
  if ((lastpage + 1) * pagesize > bytes.length) throw corrupt(file, `the file is truncated: ${lastpage + 1} pages of ${pagesize} bytes declared, ${bytes.length} bytes present`, { offset: bytes.length });

  const page = (no: number, what: string): { off: number; type: number; next: number; entries: number; hf: number } => {
    if (no === 0 || no > lastpage) throw corrupt(file, `${what}: page ${no} is outside the file (last page ${lastpage})`, { page: no });
    const off = no * pagesize;
    const u16 = (o: number): number => (le ? bytes.readUInt16LE(off + o) : bytes.readUInt16BE(off + o));
    if (u32(off + 8) !== no) throw corrupt(file, `${what}: page ${no} carries page number ${u32(off + 8)}`, { page: no, offset: off + 8 });
    return { off, type: bytes[off + 25]!, next: u32(off + 16), entries: u16(20), hf: u16(22) };
  };
  const u16at = (abs: number): number => (le ? bytes.readUInt16LE(abs) : bytes.readUInt16BE(abs));

  const overflow = (start: number, len: number, what: string): Buffer => {
    const out = Buffer.allocUnsafe(len);
    let got = 0;
    let no = start;
    let hops = 0;
    while (got < len) {
      if (++hops > lastpage + 1) throw corrupt(file, `${what}: overflow chain loops`, { page: no });
      const p = page(no, what);
      if (p.type !== P_OVERFLOW) throw corrupt(file, `${what}: page ${no} is type ${p.type}, expected an overflow page`, { page: no });
      const plen = p.hf;
      if (plen + PAGE_HEADER > pagesize || plen > len - got) throw corrupt(file, `${what}: overflow page ${no} holds ${plen} bytes, more than remain`, { page: no });
      bytes.copy(out, got, p.off + PAGE_HEADER, p.off + PAGE_HEADER + plen);
      got += plen;
      no = p.next;
      if (got < len && no === 0) throw corrupt(file, `${what}: overflow chain ends after ${got} of ${len} bytes`, { page: p.off / pagesize });
    }
    return out;
  };

  const item = (pg: { off: number }, itemOff: number, itemLen: number, what: string): Buffer => {
    if (itemLen <= 0 || itemOff + itemLen > pagesize) throw corrupt(file, `${what}: item at ${itemOff} with length ${itemLen} leaves the page`, { offset: pg.off + itemOff });
    const abs = pg.off + itemOff;
    const t = bytes[abs]!;
    if (t === H_KEYDATA) return bytes.subarray(abs + 1, abs + itemLen);
    if (t === H_OFFPAGE) {
      if (itemLen !== 12) throw corrupt(file, `${what}: off-page item of length ${itemLen}`, { offset: abs });
      return overflow(u32(abs + 4), u32(abs + 8), what);
    }
    throw corrupt(file, `${what}: unsupported item type ${t}`, { offset: abs });
  };

  const bucketPage = (bucket: number): number => {
    let i = 0;
    for (let b = bucket; b; b >>>= 1) i++;
    return bucket + spares[i]!;
  };

  const out: { key: Buffer; value: Buffer }[] = [];
  for (let bucket = 0; bucket <= maxbucket; bucket++) {
    let no = bucketPage(bucket);
    let hops = 0;
    while (no !== 0) {
      if (++hops > lastpage + 1) throw corrupt(file, `bucket ${bucket}: page chain loops`, { page: no });
      const what = `bucket ${bucket} page ${no}`;
      const p = page(no, what);
      if (p.type !== P_HASH && p.type !== P_HASH_UNSORTED && p.type !== P_HASHMETA) throw corrupt(file, `${what}: type ${p.type} is not a hash page`, { page: no });
      const n = p.entries;
      if (PAGE_HEADER + n * 2 > pagesize) throw corrupt(file, `${what}: ${n} entries do not fit the page`, { page: no });
      for (let i = 0; i + 1 < n; i += 2) {
        const koff = u16at(p.off + PAGE_HEADER + 2 * i);
        const voff = u16at(p.off + PAGE_HEADER + 2 * i + 2);
        const kend = i === 0 ? pagesize : u16at(p.off + PAGE_HEADER + 2 * i - 2);
        if (koff >= pagesize || voff >= pagesize) throw corrupt(file, `${what}: entry ${i} points outside the page`, { page: no });
        const key = item(p, koff, kend - koff, what);
        const value = item(p, voff, koff - voff, what);
        out.push({ key, value });
      }
      no = p.next;
    }
  }
  return out;
}

/** The Packages file of a BDB rpmdb. */
export function readRpmdbBdb(bytes: Buffer, file: string): RpmDbEntry[] {
  const le = bytes.length >= 16 && bytes.readUInt32LE(12) === HASH_MAGIC;
  const out: { hnum: number; e: RpmDbEntry | null }[] = [];
  for (const { key, value } of readBdbHash(bytes, file)) {
    if (key.length !== 4) throw corrupt(file, `a key of ${key.length} bytes (package numbers are 4 bytes)`);
    const hnum = le ? key.readUInt32LE(0) : key.readUInt32BE(0);
    if (hnum === 0) continue;
    out.push({ hnum, e: entryFromHeader(value, file, String(hnum)) });
  }
  out.sort((a, b) => a.hnum - b.hnum);
  return out.flatMap((x) => (x.e ? [x.e] : []));
}

// ---------------------------------------------------------------------------------------------
// ndb

const NDB_MAGIC = 0x506d7052; // 'RpmP' little-endian
const SLOT_MAGIC = 0x746f6c53; // 'Slot'
const BLOB_HEAD = 0x53626c42; // 'BlbS'
const BLOB_TAIL = 0x45626c42; // 'BlbE'
const NDB_PAGE = 4096;
const BLK = 16;

function adler32(buf: Uint8Array, start = 1): number {
  let a = start & 0xffff;
  let b = (start >>> 16) & 0xffff;
  for (let i = 0; i < buf.length; ) {
    const end = Math.min(buf.length, i + 5552);
    for (; i < end; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** The blobs of an ndb Packages.db by package index, adler32 checked. */
export function readNdbBlobs(bytes: Buffer, file: string): { pkgidx: number; blob: Buffer }[] {
  if (bytes.length < 32) throw corrupt(file, `only ${bytes.length} bytes: too short for an ndb header`, { offset: 0 });
  if (bytes.readUInt32LE(0) !== NDB_MAGIC) throw corrupt(file, "not an ndb package database (no 'RpmP' magic)", { offset: 0 });
  const version = bytes.readUInt32LE(4);
  if (version !== 0) throw corrupt(file, `unsupported ndb version ${version}`, { offset: 4 });
  const slotnpages = bytes.readUInt32LE(12);
  if (slotnpages === 0 || slotnpages * NDB_PAGE > bytes.length) throw corrupt(file, `${slotnpages} slot pages do not fit the file of ${bytes.length} bytes`, { offset: 12 });
  if (bytes.length % BLK !== 0) throw corrupt(file, `the size ${bytes.length} is not a multiple of ${BLK}`, { offset: bytes.length });
  const fileblks = bytes.length / BLK;
  const minblk = (slotnpages * NDB_PAGE) / BLK;
  const out: { pkgidx: number; blob: Buffer }[] = [];
  for (let o = 32; o < slotnpages * NDB_PAGE; o += 16) {
    if (bytes.readUInt32LE(o) !== SLOT_MAGIC) throw corrupt(file, `slot at byte ${o} has no 'Slot' magic`, { offset: o });
    const blkoff = bytes.readUInt32LE(o + 8);
    if (blkoff === 0) continue;
    const pkgidx = bytes.readUInt32LE(o + 4);
    const blkcnt = bytes.readUInt32LE(o + 12);
    if (pkgidx === 0 || blkcnt === 0 || blkoff < minblk || blkoff + blkcnt > fileblks) {
      throw corrupt(file, `slot at byte ${o} (package ${pkgidx}) points at blocks ${blkoff}+${blkcnt} outside the data area`, { offset: o });
    }
    const at = blkoff * BLK;
    if (bytes.readUInt32LE(at) !== BLOB_HEAD || bytes.readUInt32LE(at + 4) !== pkgidx) throw corrupt(file, `package ${pkgidx}: no blob head at byte ${at}`, { offset: at, package: pkgidx });
    const len = bytes.readUInt32LE(at + 12);
    if (blkcnt !== Math.ceil((16 + len + 12) / BLK)) throw corrupt(file, `package ${pkgidx}: blob length ${len} does not match ${blkcnt} blocks`, { offset: at + 12, package: pkgidx });
    const end = at + blkcnt * BLK;
    const tail = end - 12;
    if (bytes.readUInt32LE(tail + 8) !== BLOB_TAIL || bytes.readUInt32LE(tail + 4) !== len) throw corrupt(file, `package ${pkgidx}: bad blob tail at byte ${tail}`, { offset: tail, package: pkgidx });
    const sum = adler32(bytes.subarray(at, tail));
    if (sum !== bytes.readUInt32LE(tail)) throw corrupt(file, `package ${pkgidx}: adler32 mismatch`, { offset: tail, package: pkgidx });
    out.push({ pkgidx, blob: bytes.subarray(at + 16, at + 16 + len) });
  }
  return out.sort((a, b) => a.pkgidx - b.pkgidx);
}

export function readRpmdbNdb(bytes: Buffer, file: string): RpmDbEntry[] {
  return readNdbBlobs(bytes, file).flatMap(({ pkgidx, blob }) => {
    const e = entryFromHeader(blob, file, String(pkgidx));
    return e ? [e] : [];
  });
}
