/**
 * Recomputing a content object's checksum (fsck): the header as the repository mode records it,
 * then the file data (decompressed for archive). Archive objects are checked in worker threads
 * (inflating is CPU work in JS land); bare, bare-user and bare-user-only objects by the main
 * thread, which reads the header and hands the data to the native hasher on the libuv thread
 * pool (BareVerifier): no worker isolates to start, and the data never enters JS.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { IngotError } from '../core/errors.js';
import { decodeFilezHeader, decodeUserMeta, encodeFileHeader, S_IFLNK, S_IFMT, S_IFREG } from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import { Repo } from './repo.js';
import { readContentInfo, type ContentInfo } from './content.js';

export interface VerifyContext {
  repoPath: string;
}

export interface VerifyResult {
  checksum: string;
  ok: boolean;
  /** Error code when not ok: OBJECT_MISSING, OBJECT_CORRUPT, OBJECT_INVALID, DEFLATE_INVALID, ... */
  code?: string;
  message?: string;
  size: number;
  storedSize: number;
}

let repoCache: Repo | null = null;

const SMALL_OBJECT = 4 * 1024 * 1024;

/** Verifies a .filez object read in one go; null when it is large (streamed instead). */
function verifySmallArchive(repo: Repo, checksum: string): VerifyResult | null {
  const p = repo.objectPath(checksum, 'file');
  let raw: Buffer;
  const fd = fs.openSync(p, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size > SMALL_OBJECT) return null;
    raw = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, raw, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    raw = raw.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
  const hdr = decodeFilezHeader(raw, `file object ${checksum}`);
  const h = createHash('sha256').update(encodeFileHeader(hdr));
  if ((hdr.mode & S_IFMT) !== S_IFLNK) {
    if (hdr.size > BigInt(SMALL_OBJECT) * 64n) return null;
    let data: Buffer;
    try {
      data = sys().inflateRaw(raw.subarray(hdr.headerLength), Number(hdr.size));
    } catch (e) {
      return { checksum, ok: false, code: 'DEFLATE_INVALID', message: `file object ${checksum}: compressed data is corrupt or does not decompress to the ${hdr.size} bytes its header says (${(e as { code?: string }).code ?? (e as Error).message})`, size: 0, storedSize: raw.length };
    }
    h.update(data);
  }
  const actual = h.digest('hex');
  if (actual !== checksum) {
    return { checksum, ok: false, code: 'OBJECT_CORRUPT', message: `file object ${checksum}: content hashes to ${actual}`, size: Number(hdr.size), storedSize: raw.length };
  }
  return { checksum, ok: true, size: Number(hdr.size), storedSize: raw.length };
}
let shared: Buffer | null = null;

/** One read buffer per thread: allocating per file would keep the garbage collector busy. */
function readBuffer(): Buffer {
  return (shared ??= Buffer.allocUnsafe(1024 * 1024));
}

/**
 * Verifies content objects of a bare, bare-user or bare-user-only repository: the main thread
 * reads each header from the object's inode (or user.ostreemeta) as `add` is called, and the
 * data is hashed natively in batches on the libuv thread pool, a few batches at a time.
 * Results arrive through `done`, in no particular order.
 */
export class BareVerifier {
  private paths: string[] = [];
  private prefixes: Buffer[] = [];
  private pending: { checksum: string; info: ContentInfo }[] = [];
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly repo: Repo,
    private readonly done: (r: VerifyResult) => void,
    private readonly batchSize = 64,
    private readonly maxBatches = 4,
  ) {}

  async add(checksum: string): Promise<void> {
    let info: ContentInfo | null;
    try {
      info = this.repo.mode === 'bare-user' ? bareUserRegular(this.repo, checksum) : null;
      info ??= readContentInfo(this.repo, checksum);
    } catch (e) {
      this.done(failure(checksum, e));
      return;
    }
    const header = encodeFileHeader(info);
    if ((info.mode & S_IFMT) === S_IFLNK) {
      this.done(judge(checksum, info, createHash('sha256').update(header).digest('hex'), 0));
      return;
    }
    this.paths.push(info.objectPath);
    this.prefixes.push(header);
    this.pending.push({ checksum, info });
    if (this.paths.length >= this.batchSize) await this.flush();
  }

  /** Sends the collected batch; waits while `maxBatches` are in flight. */
  private async flush(): Promise<void> {
    if (this.paths.length === 0) return;
    const items = this.pending;
    const job = sys().hashFiles(this.paths, this.prefixes);
    this.paths = [];
    this.prefixes = [];
    this.pending = [];
    const p: Promise<void> = job.then(
      (results) => {
        for (let i = 0; i < items.length; i++) {
          const r = results[i]!;
          const { checksum, info } = items[i]!;
          this.done(r instanceof Error ? failure(checksum, r) : judge(checksum, info, r.digest, r.size));
        }
      },
      (e) => {
        for (const { checksum } of items) this.done(failure(checksum, e));
      },
    );
    const tracked = p.finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
    while (this.inflight.size >= this.maxBatches) await Promise.race(this.inflight);
  }

  /** Verifies what is left and waits for every result. */
  async finish(): Promise<void> {
    await this.flush();
    await Promise.all(this.inflight);
  }
}

/**
 * The header of a bare-user regular file from its user.ostreemeta alone (one syscall; the
 * header has no size, and the hasher counts the bytes): null for anything else, which
 * readContentInfo then handles (symlinks, a missing or broken xattr, with its errors).
 */
function bareUserRegular(repo: Repo, checksum: string): ContentInfo | null {
  const p = repo.objectPath(checksum, 'file');
  const meta = sys().lgetxattr(p, 'user.ostreemeta');
  if (meta === null) return null;
  const m = decodeUserMeta(meta, `file object ${checksum} (user.ostreemeta)`);
  if ((m.mode & S_IFMT) !== S_IFREG) return null;
  return { ...m, rdev: 0, symlinkTarget: '', size: -1n, objectPath: p, dataOffset: 0, storedSize: -1 };
}

function judge(checksum: string, info: ContentInfo, actual: string, size: number): VerifyResult {
  if (info.storedSize < 0) info = { ...info, size: BigInt(size), storedSize: size };
  if ((info.mode & S_IFMT) !== S_IFLNK && BigInt(size) !== info.size) {
    return { checksum, ok: false, code: 'OBJECT_CORRUPT', message: `file object ${checksum}: changed while being read (${size} bytes, ${info.size} expected)`, size, storedSize: info.storedSize };
  }
  if (actual !== checksum) {
    return { checksum, ok: false, code: 'OBJECT_CORRUPT', message: `content hashes to ${actual}`, size: Number(info.size), storedSize: info.storedSize };
  }
  return { checksum, ok: true, size: Number(info.size), storedSize: info.storedSize };
}

function failure(checksum: string, e: unknown): VerifyResult {
  if (e instanceof IngotError) return { checksum, ok: false, code: e.code, message: e.message, size: 0, storedSize: 0 };
  if ((e as { code?: unknown }).code === 'ENOENT') return { checksum, ok: false, code: 'OBJECT_MISSING', message: `file object ${checksum} is missing`, size: 0, storedSize: 0 };
  return { checksum, ok: false, code: 'IO_ERROR', message: (e as Error).message, size: 0, storedSize: 0 };
}

export async function verifyContentJob(ctx: VerifyContext, checksum: string): Promise<VerifyResult> {
  if (!repoCache || repoCache.path !== ctx.repoPath) repoCache = Repo.open(ctx.repoPath);
  const repo = repoCache;
  try {
    if (repo.mode === 'archive') {
      // One read for header and data when the object is small (most are).
      const fast = verifySmallArchive(repo, checksum);
      if (fast) return fast;
    }
    const info = readContentInfo(repo, checksum);
    const h = createHash('sha256').update(encodeFileHeader(info));
    if ((info.mode & S_IFMT) !== S_IFLNK) {
      if (repo.mode === 'archive' && info.storedSize <= 4 * 1024 * 1024) {
        const raw = fs.readFileSync(info.objectPath);
        let data: Buffer;
        try {
          data = zlib.inflateRawSync(raw.subarray(info.dataOffset));
        } catch (e) {
          return { checksum, ok: false, code: 'DEFLATE_INVALID', message: `compressed data is corrupt: ${(e as Error).message}`, size: 0, storedSize: info.storedSize };
        }
        if (BigInt(data.length) !== info.size) {
          return { checksum, ok: false, code: 'OBJECT_CORRUPT', message: `decompresses to ${data.length} bytes, header says ${info.size}`, size: data.length, storedSize: info.storedSize };
        }
        h.update(data);
      } else if (repo.mode === 'archive') {
        let seen = 0n;
        const inflate = zlib.createInflateRaw();
        try {
          await pipeline(
            fs.createReadStream(info.objectPath, { start: info.dataOffset, highWaterMark: 256 * 1024 }),
            inflate,
            new Writable({
              write(chunk: Buffer, _e, cb) {
                seen += BigInt(chunk.length);
                h.update(chunk);
                cb();
              },
            }),
          );
        } catch (e) {
          return { checksum, ok: false, code: 'DEFLATE_INVALID', message: `compressed data is corrupt: ${(e as Error).message}`, size: 0, storedSize: info.storedSize };
        }
        if (seen !== info.size) {
          return { checksum, ok: false, code: 'OBJECT_CORRUPT', message: `decompresses to ${seen} bytes, header says ${info.size}`, size: Number(seen), storedSize: info.storedSize };
        }
      } else {
        const fd = fs.openSync(info.objectPath, 'r');
        try {
          const buf = readBuffer();
          let n: number;
          while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
        } finally {
          fs.closeSync(fd);
        }
      }
    }
    const actual = h.digest('hex');
    if (actual !== checksum) {
      return { checksum, ok: false, code: 'OBJECT_CORRUPT', message: `content hashes to ${actual}`, size: Number(info.size), storedSize: info.storedSize };
    }
    return { checksum, ok: true, size: Number(info.size), storedSize: info.storedSize };
  } catch (e) {
    if (e instanceof IngotError) return { checksum, ok: false, code: e.code, message: e.message, size: 0, storedSize: 0 };
    return { checksum, ok: false, code: 'IO_ERROR', message: (e as Error).message, size: 0, storedSize: 0 };
  }
}
