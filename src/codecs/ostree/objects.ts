/**
 * OSTree object codecs: commit, dirtree, dirmeta, content headers and their checksums.
 * Pure functions over bytes. Field layouts and byte orders: docs/repo-format.md.
 */
import { createHash } from 'node:crypto';
import { IngotError } from '../../core/errors.js';
import { checksumFromBytes, checksumToBytes, type Checksum } from '../../core/checksum.js';
import { serialize } from '../gvariant/serialize.js';
import { parse } from '../gvariant/parse.js';
import { parseType } from '../gvariant/type.js';
import type { GValue, VarDict } from '../gvariant/value.js';

export const COMMIT_TYPE = parseType('(a{sv}aya(say)sstayay)');
export const DIRTREE_TYPE = parseType('(a(say)a(sayay))');
export const DIRMETA_TYPE = parseType('(uuua(ayay))');
export const FILE_HEADER_TYPE = parseType('(uuuusa(ayay))');
export const FILEZ_HEADER_TYPE = parseType('(tuuuusa(ayay))');
export const XATTRS_TYPE = parseType('a(ayay)');
export const VARDICT_TYPE = parseType('a{sv}');

/** One extended attribute; `name` excludes the trailing NUL that the serialized form carries. */
export interface Xattr {
  name: string;
  value: Uint8Array;
}

export interface Commit {
  metadata: VarDict;
  parent: Checksum | null;
  related: [string, Checksum][];
  subject: string;
  body: string;
  /** Seconds since the epoch, UTC. */
  timestamp: bigint;
  rootTree: Checksum;
  rootMeta: Checksum;
}

export interface DirTree {
  files: { name: string; checksum: Checksum }[];
  dirs: { name: string; tree: Checksum; meta: Checksum }[];
}

export interface DirMeta {
  uid: number;
  gid: number;
  mode: number;
  xattrs: Xattr[];
}

export interface FileHeader {
  uid: number;
  gid: number;
  mode: number;
  rdev: number;
  symlinkTarget: string;
  xattrs: Xattr[];
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export function sha256(...parts: Uint8Array[]): Checksum {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex') as Checksum;
}

export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff)) >>> 0;
}

export function bswap64(v: bigint): bigint {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(v);
  return b.readBigUInt64BE();
}

// ---------------------------------------------------------------------------------------------
// xattrs

/** Sorts by name byte-wise, as OSTree does, and encodes names with their trailing NUL. */
export function xattrsToGV(xattrs: readonly Xattr[]): GValue[] {
  const sorted = sortXattrs(xattrs);
  return sorted.map((x) => [Buffer.concat([Buffer.from(x.name, 'utf8'), Buffer.from([0])]), x.value]);
}

export function sortXattrs(xattrs: readonly Xattr[]): Xattr[] {
  return [...xattrs].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
}

export function xattrsFromGV(v: GValue, what: string): Xattr[] {
  const out: Xattr[] = [];
  for (const e of v as [Uint8Array, Uint8Array][]) {
    const [name, value] = e;
    if (name.length === 0 || name[name.length - 1] !== 0) {
      throw new IngotError('OBJECT_INVALID', `${what}: xattr name is not NUL-terminated`);
    }
    out.push({ name: Buffer.from(name.subarray(0, name.length - 1)).toString('utf8'), value: Buffer.from(value) });
  }
  return out;
}

export function encodeXattrs(xattrs: readonly Xattr[]): Buffer {
  return serialize(XATTRS_TYPE, xattrsToGV(xattrs));
}

// ---------------------------------------------------------------------------------------------
// dirmeta

export function encodeDirMeta(m: DirMeta): Buffer {
  return serialize(DIRMETA_TYPE, [bswap32(m.uid), bswap32(m.gid), bswap32(m.mode), xattrsToGV(m.xattrs)]);
}

export function decodeDirMeta(data: Uint8Array, what = 'dirmeta'): DirMeta {
  const [uid, gid, mode, xattrs] = parse(DIRMETA_TYPE, data, what) as [number, number, number, GValue];
  const m = { uid: bswap32(uid), gid: bswap32(gid), mode: bswap32(mode), xattrs: xattrsFromGV(xattrs, what) };
  if ((m.mode & S_IFMT) !== S_IFDIR) {
    throw new IngotError('OBJECT_INVALID', `${what}: mode 0${m.mode.toString(8)} is not a directory`);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// dirtree

/** Valid dirtree entry name: non-empty, not '.' or '..', no '/' and no NUL. */
export function isValidName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

function byteCompare(a: string, b: string): number {
  // strcmp order on UTF-8 equals code-point order, which differs from JS's UTF-16 order only
  // for astral characters; compare buffers there.
  if (a === b) return 0;
  let ascii = true;
  for (let i = 0; i < a.length && ascii; i++) if (a.charCodeAt(i) >= 0xd800) ascii = false;
  for (let i = 0; i < b.length && ascii; i++) if (b.charCodeAt(i) >= 0xd800) ascii = false;
  if (ascii) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export { byteCompare as compareNames };

export function encodeDirTree(t: DirTree): Buffer {
  const files = [...t.files].sort((a, b) => byteCompare(a.name, b.name));
  const dirs = [...t.dirs].sort((a, b) => byteCompare(a.name, b.name));
  return serialize(DIRTREE_TYPE, [
    files.map((f) => [f.name, checksumToBytes(f.checksum)]),
    dirs.map((d) => [d.name, checksumToBytes(d.tree), checksumToBytes(d.meta)]),
  ]);
}

export function decodeDirTree(data: Uint8Array, what = 'dirtree'): DirTree {
  const [files, dirs] = parse(DIRTREE_TYPE, data, what) as [[string, Uint8Array][], [string, Uint8Array, Uint8Array][]];
  const t: DirTree = {
    files: files.map(([name, c]) => ({ name, checksum: checksumFromBytes(c, `${what}: file '${name}'`) })),
    dirs: dirs.map(([name, tree, meta]) => ({
      name,
      tree: checksumFromBytes(tree, `${what}: directory '${name}'`),
      meta: checksumFromBytes(meta, `${what}: directory '${name}'`),
    })),
  };
  const seen = new Set<string>();
  for (const e of [...t.files, ...t.dirs]) {
    if (!isValidName(e.name)) {
      throw new IngotError('OBJECT_INVALID', `${what}: invalid entry name ${JSON.stringify(e.name)}`, {
        hint: 'a dirtree entry name must not be empty, ".", ".." or contain "/"',
        data: { name: e.name },
      });
    }
    if (seen.has(e.name)) {
      throw new IngotError('OBJECT_INVALID', `${what}: duplicate entry name ${JSON.stringify(e.name)}`);
    }
    seen.add(e.name);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// commit

export function encodeCommit(c: Commit): Buffer {
  return serialize(COMMIT_TYPE, [
    c.metadata as GValue,
    c.parent ? checksumToBytes(c.parent) : new Uint8Array(0),
    c.related.map(([name, cs]) => [name, checksumToBytes(cs)]),
    c.subject,
    c.body,
    bswap64(c.timestamp),
    checksumToBytes(c.rootTree),
    checksumToBytes(c.rootMeta),
  ]);
}

export function decodeCommit(data: Uint8Array, what = 'commit'): Commit {
  const [metadata, parent, related, subject, body, ts, rootTree, rootMeta] = parse(COMMIT_TYPE, data, what) as [
    VarDict,
    Uint8Array,
    [string, Uint8Array][],
    string,
    string,
    bigint,
    Uint8Array,
    Uint8Array,
  ];
  for (const [k] of metadata) {
    if (k.length === 0) throw new IngotError('OBJECT_INVALID', `${what}: empty metadata key`);
  }
  if (parent.length !== 0 && parent.length !== 32) {
    throw new IngotError('OBJECT_INVALID', `${what}: parent checksum has ${parent.length} bytes`);
  }
  return {
    metadata,
    parent: parent.length ? checksumFromBytes(parent) : null,
    related: related.map(([n, c]) => [n, checksumFromBytes(c, `${what}: related object`)]),
    subject,
    body,
    timestamp: bswap64(ts),
    rootTree: checksumFromBytes(rootTree, `${what}: root dirtree`),
    rootMeta: checksumFromBytes(rootMeta, `${what}: root dirmeta`),
  };
}

/** The checksum of the tree a commit holds, independent of its metadata ("ContentChecksum"). */
export function contentChecksum(c: Pick<Commit, 'rootTree' | 'rootMeta'>): Checksum {
  return sha256(checksumToBytes(c.rootTree), checksumToBytes(c.rootMeta));
}

export function encodeVarDict(d: VarDict): Buffer {
  return serialize(VARDICT_TYPE, d as GValue);
}

export function decodeVarDict(data: Uint8Array, what = 'metadata'): VarDict {
  return parse(VARDICT_TYPE, data, what) as VarDict;
}

// ---------------------------------------------------------------------------------------------
// content objects

/** The GVariant `(uuuusa(ayay))` file header, without framing. */
export function encodeFileHeaderBody(h: FileHeader): Buffer {
  return serialize(FILE_HEADER_TYPE, [
    bswap32(h.uid),
    bswap32(h.gid),
    bswap32(h.mode),
    bswap32(h.rdev),
    h.symlinkTarget,
    xattrsToGV(h.xattrs),
  ]);
}

/** The prefix of the content stream that is hashed: BE u32 length, 4 zero bytes, header. */
export function encodeFileHeader(h: FileHeader): Buffer {
  const body = encodeFileHeaderBody(h);
  const out = Buffer.alloc(8 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 8);
  return out;
}

/** The archive-mode (.filez) header: the same with a leading BE uncompressed size. */
export function encodeFilezHeader(h: FileHeader, size: bigint): Buffer {
  const body = serialize(FILEZ_HEADER_TYPE, [
    bswap64(size),
    bswap32(h.uid),
    bswap32(h.gid),
    bswap32(h.mode),
    bswap32(h.rdev),
    h.symlinkTarget,
    xattrsToGV(h.xattrs),
  ]);
  const out = Buffer.alloc(8 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 8);
  return out;
}

export interface FilezHeader extends FileHeader {
  size: bigint;
  /** Bytes taken by the framed header; the raw deflate stream follows. */
  headerLength: number;
}

const MAX_HEADER = 10 * 1024 * 1024;

/** Reads the framed header at the start of a .filez object. */
export function decodeFilezHeader(data: Uint8Array, what = 'filez'): FilezHeader {
  if (data.length < 8) throw new IngotError('OBJECT_CORRUPT', `${what}: truncated header (${data.length} bytes)`);
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = b.readUInt32BE(0);
  if (len > MAX_HEADER || 8 + len > b.length) {
    throw new IngotError('OBJECT_CORRUPT', `${what}: header length ${len} exceeds the object size ${b.length}`);
  }
  const [size, uid, gid, mode, rdev, target, xattrs] = parse(FILEZ_HEADER_TYPE, b.subarray(8, 8 + len), what) as [
    bigint,
    number,
    number,
    number,
    number,
    string,
    GValue,
  ];
  const h = {
    size: bswap64(size),
    uid: bswap32(uid),
    gid: bswap32(gid),
    mode: bswap32(mode),
    rdev: bswap32(rdev),
    symlinkTarget: target,
    xattrs: xattrsFromGV(xattrs, what),
    headerLength: 8 + len,
  };
  checkFileMode(h, what);
  return h;
}

/** Reads the framed `(uuuusa(ayay))` header of a content stream (as hashed, and as in deltas). */
export function decodeFileHeader(data: Uint8Array, what = 'file header'): FileHeader & { headerLength: number } {
  if (data.length < 8) throw new IngotError('OBJECT_CORRUPT', `${what}: truncated header`);
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = b.readUInt32BE(0);
  if (len > MAX_HEADER || 8 + len > b.length) throw new IngotError('OBJECT_CORRUPT', `${what}: bad header length ${len}`);
  const [uid, gid, mode, rdev, target, xattrs] = parse(FILE_HEADER_TYPE, b.subarray(8, 8 + len), what) as [
    number,
    number,
    number,
    number,
    string,
    GValue,
  ];
  const h = {
    uid: bswap32(uid),
    gid: bswap32(gid),
    mode: bswap32(mode),
    rdev: bswap32(rdev),
    symlinkTarget: target,
    xattrs: xattrsFromGV(xattrs, what),
    headerLength: 8 + len,
  };
  checkFileMode(h, what);
  return h;
}

/** bare-user `user.ostreemeta` xattr: `(uuua(ayay))` with BE uid, gid, mode. */
export function encodeUserMeta(h: Pick<FileHeader, 'uid' | 'gid' | 'mode' | 'xattrs'>): Buffer {
  return serialize(DIRMETA_TYPE, [bswap32(h.uid), bswap32(h.gid), bswap32(h.mode), xattrsToGV(h.xattrs)]);
}

export function decodeUserMeta(data: Uint8Array, what = 'user.ostreemeta'): Pick<FileHeader, 'uid' | 'gid' | 'mode' | 'xattrs'> {
  const [uid, gid, mode, xattrs] = parse(DIRMETA_TYPE, data, what) as [number, number, number, GValue];
  return { uid: bswap32(uid), gid: bswap32(gid), mode: bswap32(mode), xattrs: xattrsFromGV(xattrs, what) };
}

function checkFileMode(h: FileHeader, what: string): void {
  const fmt = h.mode & S_IFMT;
  if (fmt !== S_IFREG && fmt !== S_IFLNK) {
    throw new IngotError('OBJECT_INVALID', `${what}: mode 0${h.mode.toString(8)} is neither a regular file nor a symlink`);
  }
  if (fmt === S_IFLNK && h.symlinkTarget.length === 0) {
    throw new IngotError('OBJECT_INVALID', `${what}: symlink with an empty target`);
  }
  if (fmt === S_IFREG && h.symlinkTarget.length !== 0) {
    throw new IngotError('OBJECT_INVALID', `${what}: regular file with a symlink target`);
  }
}

/** Checksum of a symlink content object (no data follows the header). */
export function symlinkChecksum(h: FileHeader): Checksum {
  return sha256(encodeFileHeader(h));
}

// ---------------------------------------------------------------------------------------------
// ostree.sizes

export interface SizeEntry {
  checksum: Checksum;
  archived: bigint;
  unpacked: bigint;
  objtype: number;
}

function writeVarint(v: bigint, out: number[]): void {
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
}

export function readVarint(b: Uint8Array, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= b.length || shift > 63n) throw new IngotError('OBJECT_INVALID', 'truncated varint');
    const byte = b[pos++]!;
    v |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (!(byte & 0x80)) return [v, pos];
  }
}

export function encodeSizeEntry(e: SizeEntry): Uint8Array {
  const out: number[] = [...checksumToBytes(e.checksum)];
  writeVarint(e.archived, out);
  writeVarint(e.unpacked, out);
  out.push(e.objtype);
  return Uint8Array.from(out);
}

export function decodeSizeEntry(b: Uint8Array): SizeEntry {
  if (b.length < 35) throw new IngotError('OBJECT_INVALID', 'ostree.sizes entry too short');
  const checksum = checksumFromBytes(b.subarray(0, 32));
  const [archived, p1] = readVarint(b, 32);
  const [unpacked, p2] = readVarint(b, p1);
  if (p2 >= b.length) throw new IngotError('OBJECT_INVALID', 'ostree.sizes entry lacks its object type');
  return { checksum, archived, unpacked, objtype: b[p2]! };
}
