/**
 * Recomputing a content object's checksum (fsck; runs in worker threads): the header as the
 * repository mode records it, then the file data (decompressed for archive), streamed.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { IngotError } from '../core/errors.js';
import { decodeFilezHeader, encodeFileHeader, S_IFLNK, S_IFMT } from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import { Repo } from './repo.js';
import { readContentInfo } from './content.js';

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
