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
import { encodeFileHeader, S_IFLNK, S_IFMT } from '../codecs/ostree/objects.js';
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
let shared: Buffer | null = null;

/** One read buffer per thread: allocating per file would keep the garbage collector busy. */
function readBuffer(): Buffer {
  return (shared ??= Buffer.allocUnsafe(1024 * 1024));
}

export async function verifyContentJob(ctx: VerifyContext, checksum: string): Promise<VerifyResult> {
  if (!repoCache || repoCache.path !== ctx.repoPath) repoCache = Repo.open(ctx.repoPath);
  const repo = repoCache;
  try {
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
