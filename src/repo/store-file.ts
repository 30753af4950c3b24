/**
 * Hashing and storing one regular file as a content object. Synchronous by design: it runs
 * inside the commit worker threads (one file at a time per thread, all cores busy), where
 * blocking calls are the fastest way to move bytes.
 *
 * Small files are read whole, hashed, and compressed/written only when the object is absent.
 * Large files are streamed in chunks: hashed and written (archive: compressed chunk by chunk
 * with a sync flush and the previous chunk as dictionary, which concatenates into one valid raw
 * deflate stream) to a temp file that is renamed into place or discarded.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import {
  encodeFileHeader,
  encodeFilezHeader,
  encodeUserMeta,
  S_IFLNK,
  S_IFMT,
  type FileHeader,
  type Xattr,
} from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import { tmpName, rmQuiet } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { objectExt, stagedObjectPath, type RepoMode } from './repo.js';
import * as path from 'node:path';
import * as os from 'node:os';

export interface StoreContext {
  repoPath: string;
  /**
   * The transaction's staging directory: new objects are written here as `XX/REST.EXT` and
   * moved into objects/ only after a syncfs, so objects/ never holds a file that a power loss
   * could leave empty.
   */
  stagingDir: string;
  mode: RepoMode;
  ownerUid: number | null;
  ownerGid: number | null;
  /** Capture xattrs from the source files. */
  xattrs: boolean;
  zlibLevel: number;
  /**
   * 'libdeflate' (default: faster than zlib at the same level, output as small or smaller) or
   * 'zlib' (byte-identical to ostree's .filez, so object sizes in ostree.sizes match ostree's).
   */
  compressor: 'libdeflate' | 'zlib';
  /** Record the stored object's size (for ostree.sizes). */
  wantSizes: boolean;
  /**
   * Threads that compress one large archive object at once (libdeflate only); default: one
   * per core.
   */
  threads?: number;
}

export interface StoreResult {
  checksum: string;
  /** Bytes of file data. */
  size: number;
  /** True when this call created the object. */
  written: boolean;
  /** Size of the object file (archive: compressed), when wantSizes. */
  storedSize: number;
}

/** Files up to this size are read whole (and stored in one step); larger ones are streamed. */
export const SMALL = 8 * 1024 * 1024;
const CHUNK = 1024 * 1024;
/**
 * Chunk size of the parallel compression of one large archive object (sys().deflateFile): big
 * enough that the chunk seams (no back-reference crosses one; 9 bytes of framing each) cost
 * nothing measurable, small enough that a file just over SMALL still splits into several
 * chunks for the cores, and that each thread's buffers (about 3 chunks) stay small.
 */
export const PARALLEL_CHUNK = 2 * 1024 * 1024;

let chunkBuf: Buffer | null = null;
function chunkBuffer(): Buffer {
  return (chunkBuf ??= Buffer.allocUnsafe(CHUNK));
}

export function stagedPathFor(ctx: StoreContext, checksum: string): string {
  return stagedObjectPath(ctx.stagingDir, checksum, objectExt('file', ctx.mode));
}

export function objectPathFor(ctx: StoreContext, checksum: string): string {
  return path.join(ctx.repoPath, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${objectExt('file', ctx.mode)}`);
}

const EMPTY_DEFLATE = Buffer.from([0x03, 0x00]);

/** Raw DEFLATE of a whole small file. */
function compressWhole(ctx: StoreContext, data: Buffer): Buffer {
  // An empty stream as zlib (and so ostree) writes it.
  if (data.length === 0) return EMPTY_DEFLATE;
  if (ctx.compressor === 'zlib') return zlib.deflateRawSync(data, { level: ctx.zlibLevel });
  return sys().deflateRaw(data, ctx.zlibLevel);
}

/** Mode stored on a bare-user object file, as ostree does. */
export function bareUserFileMode(mode: number): number {
  return (mode & 0o775) | 0o400;
}

export function captureXattrs(p: string): Xattr[] {
  const s = sys();
  const out: Xattr[] = [];
  for (const name of s.llistxattr(p)) {
    const v = s.lgetxattr(p, name);
    // ostree (libglnx's xattr reader) leaves out xattrs whose value is empty; so must we, or
    // the checksums differ from `ostree commit`'s for the same tree.
    if (v !== null && v.length > 0) out.push({ name, value: v });
  }
  return out;
}

function lstatSize(p: string): number {
  try {
    return fs.lstatSync(p).size;
  } catch {
    return 0;
  }
}

function statSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

/** Moves tmp to `dest` without replacing; returns false (and drops tmp) if dest existed. */
export function placeObject(tmp: string, dest: string): boolean {
  // Crash-safety tests: the temp file is complete but not yet renamed / the object is in place.
  failpoint('store-before-place');
  const placed = renameNoReplace(tmp, dest);
  if (placed) failpoint('store-after-place');
  return placed;
}

function renameNoReplace(tmp: string, dest: string): boolean {
  try {
    sys().rename2(tmp, dest, 1);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EEXIST') {
      rmQuiet(tmp);
      return false;
    }
    if (code === 'ENOENT') {
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o755 });
      return renameNoReplace(tmp, dest);
    }
    rmQuiet(tmp);
    throw ioError(e, 'cannot store object', dest);
  }
}

/** Applies the per-mode metadata of a content object to an open temp file. */
function finishObjectFd(ctx: StoreContext, fd: number, h: FileHeader): void {
  switch (ctx.mode) {
    case 'archive':
      fs.fchmodSync(fd, 0o644);
      return;
    case 'bare-user':
      fs.fchmodSync(fd, bareUserFileMode(h.mode));
      sys().fsetxattr(fd, 'user.ostreemeta', encodeUserMeta(h));
      fs.futimesSync(fd, 0, 0);
      return;
    case 'bare': {
      fs.fchownSync(fd, h.uid, h.gid);
      fs.fchmodSync(fd, h.mode & 0o7777);
      for (const x of h.xattrs) sys().fsetxattr(fd, x.name, Buffer.from(x.value));
      fs.futimesSync(fd, 0, 0);
      return;
    }
    default:
      throw new IngotError('REPO_MODE_UNSUPPORTED', `ingot cannot write content into a ${ctx.mode} repository`);
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

/** Stores the regular file at `src`. Throws IngotError naming the path. */
export function storeRegularFile(ctx: StoreContext, src: string): StoreResult {
  let fd: number;
  try {
    fd = fs.openSync(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    throw ioError(e, 'cannot open', src);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new IngotError('PATH_INVALID', `'${src}' changed type while being committed`, { data: { path: src } });
    }
    const h: FileHeader = {
      uid: ctx.ownerUid ?? st.uid,
      gid: ctx.ownerGid ?? st.gid,
      mode: st.mode,
      rdev: 0,
      symlinkTarget: '',
      xattrs: ctx.xattrs ? captureXattrs(src) : [],
    };
    const size = st.size;
    if (size <= SMALL) return storeSmall(ctx, fd, src, h, size);
    return storeLarge(ctx, fd, src, h, size);
  } catch (e) {
    throw ioError(e, 'cannot commit', src);
  } finally {
    fs.closeSync(fd);
  }
}

let scratch: Buffer | null = null;

/**
 * Reads a whole small file into this thread's scratch buffer (reused: allocating per file
 * keeps the garbage collector busy). The result is valid until the next call.
 */
function readExactly(fd: number, src: string, size: number): Buffer {
  if (!scratch || scratch.length < size) scratch = Buffer.allocUnsafe(Math.max(size, 1024 * 1024));
  const data = scratch.subarray(0, size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, data, off, size - off, off);
    if (n === 0) {
      throw new IngotError('IO_ERROR', `'${src}' shrank while being committed`, { hint: 'commit a tree that nothing modifies meanwhile', data: { path: src } });
    }
    off += n;
  }
  return data;
}

function storeSmall(ctx: StoreContext, fd: number, src: string, h: FileHeader, size: number): StoreResult {
  const data = readExactly(fd, src, size);
  const checksum = createHash('sha256').update(encodeFileHeader(h)).update(data).digest('hex');
  const dest = objectPathFor(ctx, checksum);
  let existing = -1;
  try {
    existing = fs.statSync(dest).size;
  } catch {
    /* absent */
  }
  if (existing >= 0) return { checksum, size, written: false, storedSize: existing };
  // The staging directory is private to the transaction: the object is written under its
  // final staged name directly (exclusive create), saving a rename per object.
  const staged = stagedPathFor(ctx, checksum);
  failpoint('store-before-place');
  let out: number;
  try {
    out = fs.openSync(staged, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    // Another thread stores the same content in this transaction.
    const storedSize = ctx.wantSizes && ctx.mode === 'archive' ? encodeFilezHeader(h, BigInt(size)).length + compressWhole(ctx, data).length : size;
    return { checksum, size, written: false, storedSize };
  }
  let stored = 0;
  try {
    if (ctx.mode === 'archive') {
      const hdr = encodeFilezHeader(h, BigInt(size));
      const z = compressWhole(ctx, data);
      writeAll(out, hdr);
      writeAll(out, z);
      stored = hdr.length + z.length;
    } else {
      writeAll(out, data);
      stored = size;
    }
    finishObjectFd(ctx, out, h);
  } catch (e) {
    fs.closeSync(out);
    rmQuiet(staged);
    throw e;
  }
  fs.closeSync(out);
  failpoint('store-after-place');
  return { checksum, size, written: true, storedSize: stored };
}

function storeLarge(ctx: StoreContext, fd: number, src: string, h: FileHeader, size: number): StoreResult {
  const tmp = tmpName(ctx.stagingDir, 'file');
  const out = fs.openSync(tmp, 'wx', 0o600);
  let stored = 0;
  // With libdeflate, every core compresses a chunk of the one object (the bytes differ from
  // zlib's, so not when ostree.sizes must match ostree's: then the serial zlib path below).
  if (ctx.mode === 'archive' && ctx.compressor === 'libdeflate') {
    let checksum: string;
    try {
      const hdr = encodeFilezHeader(h, BigInt(size));
      writeAll(out, hdr);
      // Each thread holds about 3 chunks (input, output, the inflated check): at most 8
      // threads keep one large object's buffers near 50 MiB on any machine.
      const threads = Math.min(8, ctx.threads ?? Math.max(1, os.availableParallelism()));
      const r = sys().deflateFile(fd, out, size, encodeFileHeader(h), ctx.zlibLevel, threads, PARALLEL_CHUNK);
      if (r.shortAt >= 0) {
        throw new IngotError('IO_ERROR', `'${src}' shrank while being committed (it ended at byte ${r.shortAt} of ${size})`, {
          hint: 'commit a tree that nothing modifies meanwhile',
          data: { path: src },
        });
      }
      checksum = r.digest;
      stored = hdr.length + r.stored;
      finishObjectFd(ctx, out, h);
    } catch (e) {
      fs.closeSync(out);
      rmQuiet(tmp);
      throw e;
    }
    fs.closeSync(out);
    return placeLarge(ctx, tmp, checksum, size, stored);
  }
  const hash = createHash('sha256').update(encodeFileHeader(h));
  try {
    if (ctx.mode === 'archive') {
      const hdr = encodeFilezHeader(h, BigInt(size));
      writeAll(out, hdr);
      stored += hdr.length;
    }
    const buf = chunkBuffer();
    let prevTail: Buffer | null = null;
    let off = 0;
    while (off < size) {
      const want = Math.min(CHUNK, size - off);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, got, want - got, off + got);
        if (n === 0) throw new IngotError('IO_ERROR', `'${src}' shrank while being committed`, { hint: 'commit a tree that nothing modifies meanwhile', data: { path: src } });
        got += n;
      }
      const chunk = buf.subarray(0, want);
      hash.update(chunk);
      off += want;
      if (ctx.mode === 'archive') {
        const last = off >= size;
        const opts: zlib.ZlibOptions = { level: ctx.zlibLevel };
        if (!last) opts.finishFlush = zlib.constants.Z_SYNC_FLUSH;
        if (prevTail) opts.dictionary = prevTail;
        const z = zlib.deflateRawSync(chunk, opts);
        writeAll(out, z);
        stored += z.length;
        prevTail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - 32768)));
      } else {
        writeAll(out, chunk);
        stored += chunk.length;
      }
    }
    finishObjectFd(ctx, out, h);
  } catch (e) {
    fs.closeSync(out);
    rmQuiet(tmp);
    throw e;
  }
  fs.closeSync(out);
  return placeLarge(ctx, tmp, hash.digest('hex'), size, stored);
}

/** Moves a finished large object's temp file to its staged name, unless the object exists. */
function placeLarge(ctx: StoreContext, tmp: string, checksum: string, size: number, stored: number): StoreResult {
  const dest = objectPathFor(ctx, checksum);
  if (fs.existsSync(dest)) {
    rmQuiet(tmp);
    return { checksum, size, written: false, storedSize: statSize(dest) };
  }
  const staged = stagedPathFor(ctx, checksum);
  const written = placeObject(tmp, staged);
  return { checksum, size, written, storedSize: written ? stored : statSize(staged) };
}

/**
 * Stores a symlink content object (main thread; symlinks are tiny). Written under its final
 * staged name directly (exclusive create), as storeSmall does: a symlink that this transaction
 * already staged costs no file.
 */
export function storeSymlink(ctx: StoreContext, h: FileHeader): StoreResult {
  if ((h.mode & S_IFMT) !== S_IFLNK) throw new IngotError('INTERNAL', 'storeSymlink: not a symlink header');
  const checksum = createHash('sha256').update(encodeFileHeader(h)).digest('hex');
  const dest = objectPathFor(ctx, checksum);
  let existing = -1;
  try {
    existing = fs.lstatSync(dest).size;
  } catch {
    /* absent */
  }
  if (existing >= 0) return { checksum, size: 0, written: false, storedSize: existing };
  const staged = stagedPathFor(ctx, checksum);
  const already = (): StoreResult => ({ checksum, size: 0, written: false, storedSize: lstatSize(staged) });
  failpoint('store-before-place');
  let stored = 0;
  if (ctx.mode === 'bare') {
    try {
      fs.symlinkSync(h.symlinkTarget, staged);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return already();
      throw e;
    }
    try {
      fs.lchownSync(staged, h.uid, h.gid);
      for (const x of h.xattrs) sys().lsetxattr(staged, x.name, Buffer.from(x.value));
      fs.lutimesSync(staged, 0, 0);
    } catch (e) {
      rmQuiet(staged);
      throw e;
    }
  } else {
    if (ctx.mode !== 'archive' && ctx.mode !== 'bare-user') {
      throw new IngotError('REPO_MODE_UNSUPPORTED', `ingot cannot write content into a ${ctx.mode} repository`);
    }
    let fd: number;
    try {
      fd = fs.openSync(staged, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return already();
      throw e;
    }
    try {
      if (ctx.mode === 'archive') {
        const hdr = encodeFilezHeader(h, 0n);
        writeAll(fd, hdr);
        stored = hdr.length;
        fs.fchmodSync(fd, 0o644);
      } else {
        const body = Buffer.concat([Buffer.from(h.symlinkTarget, 'utf8'), Buffer.from([0])]);
        writeAll(fd, body);
        stored = body.length;
        fs.fchmodSync(fd, 0o644);
        sys().fsetxattr(fd, 'user.ostreemeta', encodeUserMeta(h));
        fs.futimesSync(fd, 0, 0);
      }
    } catch (e) {
      fs.closeSync(fd);
      rmQuiet(staged);
      throw e;
    }
    fs.closeSync(fd);
  }
  failpoint('store-after-place');
  return { checksum, size: 0, written: true, storedSize: stored };
}
