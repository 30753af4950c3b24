/**
 * One layer as a list of tar entries, and how it becomes a blob: the tar is generated from the
 * repository's objects (never from a checkout), hashed (diff_id), compressed and hashed again
 * (digest) in one streaming pass. `layerKey` names the content before any of that is done:
 * equal keys give byte-identical tars, so a cached blob can stand in without rebuilding it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { Readable, Transform, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openContentData, readContentDataSync, readContentInfo } from '../repo/content.js';
import { Repo } from '../repo/repo.js';
import { sys } from '../platform/sys.js';
import { IngotError } from '../core/errors.js';
import { padding, tarHeader, TAR_END, type TarOutType } from './tar.js';
import type { LayerCompression } from './media.js';

const require = createRequire(import.meta.url);

/** Bumped whenever the bytes written for the same entries change. */
export const LAYER_FORMAT = 'ingot-layer-1';

export interface LayerEntry {
  path: string;
  type: TarOutType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
  /** Hex names of xattrs with hex values. */
  xattrs?: [string, string][];
  /** Data: a content object's file data, or a metadata object's bytes, or inline bytes (base64). */
  content?: string;
  metadata?: { checksum: string; type: 'commit' | 'commitmeta' | 'dirtree' | 'dirmeta' };
  inline?: string;
}

export interface LayerJob {
  repoPath: string;
  entries: LayerEntry[];
  compression: LayerCompression;
  level: number;
  /** The blob is written here (a temp name; the caller renames it by digest). */
  outFile: string;
}

export interface LayerResult {
  diffId: string;
  digest: string;
  size: number;
}

export function layerKey(entries: readonly LayerEntry[]): string {
  const h = createHash('sha256');
  h.update(LAYER_FORMAT + '\n');
  for (const e of entries) h.update(JSON.stringify([e.path, e.type, e.mode, e.uid, e.gid, e.size, e.linkname ?? '', e.xattrs ?? [], e.content ?? '', e.metadata ?? null, e.inline ?? '']) + '\n');
  return h.digest('hex');
}

/** An archive-mode object's data, inflated by libdeflate (falls back to zlib's errors for corrupt data). */
function inflateObject(objectPath: string, offset: number, size: number, checksum: string): Buffer {
  const raw = fs.readFileSync(objectPath);
  try {
    return sys().inflateRaw(raw.subarray(offset), size);
  } catch (e) {
    throw new IngotError('DEFLATE_INVALID', `file object ${checksum}: compressed data is corrupt (${(e as Error).message})`, {
      hint: "run 'ingot repo fsck --delete' and pull or commit the content again",
      data: { checksum, type: 'file' },
    });
  }
}

async function* tarStream(repo: Repo, entries: readonly LayerEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    const xattrs = e.xattrs?.map(([n, v]) => ({ name: Buffer.from(n, 'hex').toString('utf8'), value: Buffer.from(v, 'hex') }));
    yield tarHeader({ path: e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, mtime: 0, ...(e.linkname !== undefined && { linkname: e.linkname }), ...(xattrs && xattrs.length && { xattrs }) });
    if (e.type !== 'file') continue;
    let n = 0;
    if (e.inline !== undefined) {
      const b = Buffer.from(e.inline, 'base64');
      n = b.length;
      yield b;
    } else if (e.metadata) {
      const b = e.metadata.type === 'commitmeta' ? fs.readFileSync(repo.objectPath(e.metadata.checksum, 'commitmeta')) : repo.readMetadata(e.metadata.checksum, e.metadata.type);
      n = b.length;
      yield b;
    } else if (e.content) {
      const info = readContentInfo(repo, e.content);
      if (e.size <= 16 * 1024 * 1024) {
        const b = repo.mode === 'archive' && e.size > 0 ? inflateObject(info.objectPath, info.dataOffset, e.size, e.content) : readContentDataSync(repo, info, e.content);
        n = b.length;
        yield b;
      } else {
        for await (const c of openContentData(repo, info, e.content) as AsyncIterable<Buffer>) {
          n += c.length;
          yield c;
        }
      }
    }
    if (n !== e.size) throw new Error(`layer entry ${e.path}: ${n} bytes of data where ${e.size} were planned`);
    yield padding(e.size);
  }
  yield TAR_END;
}

function hasher(h: ReturnType<typeof createHash>, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Input bytes per gzip member: fixed, so the output does not depend on how the input was chunked. */
export const GZIP_MEMBER = 8 * 1024 * 1024;

/** One gzip member (RFC 1952: no name, mtime 0, OS 3) of `data`, deflated by libdeflate. */
function gzipMember(data: Buffer, level: number): Buffer {
  const body = sys().deflateRaw(data, level);
  const head = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level >= 9 ? 2 : level <= 1 ? 4 : 0, 3]);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(zlib.crc32(data) >>> 0, 0);
  tail.writeUInt32LE(data.length >>> 0, 4);
  return Buffer.concat([head, body, tail]);
}

/**
 * gzip as a series of members of GZIP_MEMBER input bytes each (a valid gzip file: readers
 * concatenate members, as RFC 1952 and Go's, zlib's and Python's readers do), compressed by
 * libdeflate, which is about twice as fast as zlib at the same level and as small.
 */
function gzipMembers(level: number): Transform {
  let pending: Buffer[] = [];
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      pending.push(chunk);
      n += chunk.length;
      try {
        while (n >= GZIP_MEMBER) {
          const all = Buffer.concat(pending);
          this.push(gzipMember(all.subarray(0, GZIP_MEMBER), level));
          const rest = all.subarray(GZIP_MEMBER);
          pending = rest.length ? [rest] : [];
          n = rest.length;
        }
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb) {
      try {
        if (n > 0) this.push(gzipMember(Buffer.concat(pending), level));
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

export function compressor(c: LayerCompression, level: number): Duplex | null {
  if (c === 'gzip') return gzipMembers(level);
  if (c === 'zstd') {
    const { CompressStream } = require('zstd-napi') as { CompressStream: new (p: object) => Duplex };
    return new CompressStream({ compressionLevel: level, checksumFlag: false, contentSizeFlag: false });
  }
  return null;
}

/** Builds one layer blob into job.outFile. */
export async function buildLayer(job: LayerJob): Promise<LayerResult> {
  const repo = Repo.open(job.repoPath);
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const dn = { n: 0 };
  const bn = { n: 0 };
  const stages: (NodeJS.ReadableStream | NodeJS.WritableStream | Duplex)[] = [Readable.from(tarStream(repo, job.entries)), hasher(diff, dn)];
  const comp = compressor(job.compression, job.level);
  if (comp) stages.push(comp);
  stages.push(hasher(blob, bn), fs.createWriteStream(job.outFile, { mode: 0o644 }));
  await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
  return { diffId: `sha256:${diff.digest('hex')}`, digest: `sha256:${blob.digest('hex')}`, size: bn.n };
}
