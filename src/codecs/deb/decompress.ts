/**
 * Streaming decompression for the members of a .deb (and any other stream that names its
 * compression): gzip (node:zlib), xz and lzma-alone (lzma-native, liblzma), zstd (zstd-napi,
 * libzstd) and bzip2 (unbzip2-stream). Pure: bytes in, bytes out, no I/O.
 *
 * Hostile input: every failure of a decoder becomes DECOMPRESS_FAILED; the output is bounded
 * by `maxOutput` (decompression bombs stop there); input is fed in small slices so that one
 * decoder call cannot expand a few bytes into an unbounded burst; a stream that ends inside a
 * frame is an error. Errors thrown by the source itself (a truncated ar member) pass through.
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { IngotError } from '../../core/errors.js';

export type Compression = 'none' | 'gzip' | 'xz' | 'lzma' | 'zstd' | 'bzip2';

export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'xz', 'lzma', 'zstd', 'bzip2'];

/** The compression a .deb member's extension names, as dpkg's compressor_find_by_extension. */
export function compressionFromExtension(ext: string): Compression | undefined {
  switch (ext) {
    case '':
      return 'none';
    case '.gz':
      return 'gzip';
    case '.xz':
      return 'xz';
    case '.lzma':
      return 'lzma';
    case '.zst':
      return 'zstd';
    case '.bz2':
      return 'bzip2';
    default:
      return undefined;
  }
}

export interface DecompressOptions {
  /** At most this many bytes come out (default 64 GiB); more is DECOMPRESS_FAILED. */
  maxOutput?: number;
  /** liblzma's memory limit for xz/lzma dictionaries (default 1 GiB). */
  xzMemLimit?: number;
  /** What the data is, for messages ('data.tar.xz in foo.deb'). */
  label?: string;
}

/** The subset of a Node stream the driver needs; zlib, readable-stream and `through` all fit. */
interface DuplexLike {
  write(chunk: Buffer): boolean;
  end(): void;
  on(event: string, fn: (...args: any[]) => void): unknown;
  once(event: string, fn: (...args: any[]) => void): unknown;
  removeListener(event: string, fn: (...args: any[]) => void): unknown;
  pause?(): unknown;
  resume?(): unknown;
  destroy?(err?: Error): unknown;
}

const require = createRequire(import.meta.url);
let lzmaNative: { createStream(coder: string, opts: Record<string, unknown>): DuplexLike } | undefined;
let zstdNapi: { DecompressStream: new (opts?: Record<string, unknown>) => DuplexLike } | undefined;
let unbzip2: (() => DuplexLike) | undefined;

function makeDecoder(kind: Exclude<Compression, 'none'>, opts: DecompressOptions): DuplexLike {
  switch (kind) {
    case 'gzip':
      return zlib.createGunzip() as unknown as DuplexLike;
    case 'xz':
    case 'lzma':
      lzmaNative ??= require('lzma-native');
      return lzmaNative!.createStream(kind === 'xz' ? 'streamDecoder' : 'aloneDecoder', {
        memlimit: opts.xzMemLimit ?? 1024 * 1024 * 1024,
        threads: 1,
        synchronous: true,
      });
    case 'zstd':
      zstdNapi ??= require('zstd-napi');
      return new zstdNapi!.DecompressStream();
    case 'bzip2':
      unbzip2 ??= require('unbzip2-stream');
      return unbzip2!();
  }
}

/** Input slice size: bounds what one decoder call may expand at once. */
const SLICE = 8192;
/** Output chunks held before the decoder is paused. */
const HIGH_WATER = 16;

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function failure(kind: Compression, label: string | undefined, cause: unknown, extra = ''): IngotError {
  const what = label ?? `${kind} data`;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new IngotError('DECOMPRESS_FAILED', `cannot decompress ${what} (${kind}): ${msg}${extra}`, {
    cause,
    hint: 'the compressed data is corrupt or truncated; download the package again',
    data: { compression: kind, ...(label ? { member: label } : {}) },
  });
}

/**
 * Decompresses `source`. The result is an async iterable of chunks; stopping early releases
 * the decoder and stops reading the source.
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array>,
  kind: Compression,
  opts: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  const maxOutput = opts.maxOutput ?? 64 * 1024 ** 3;
  if (kind === 'none') {
    let total = 0;
    for await (const c of source) {
      total += c.length;
      if (total > maxOutput) throw failure(kind, opts.label, new Error(`more than ${maxOutput} bytes`));
      yield c;
    }
    return;
  }
  let t: DuplexLike;
  try {
    t = makeDecoder(kind, opts);
  } catch (e) {
    throw failure(kind, opts.label, e);
  }
  const queue: Buffer[] = [];
  let ended = false;
  let decoderError: unknown = null;
  let sourceError: unknown = null;
  let stopped = false;
  let closed = false;
  let paused = false;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  t.on('data', (c: Buffer) => {
    queue.push(c);
    if (queue.length >= HIGH_WATER && !paused && t.pause) {
      paused = true;
      t.pause();
    }
    poke();
  });
  t.on('end', () => {
    ended = true;
    poke();
  });
  t.on('error', (e: unknown) => {
    decoderError ??= e;
    poke();
  });
  t.on('close', () => {
    closed = true;
    poke();
  });

  const waitDrain = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        t.removeListener('drain', done);
        t.removeListener('error', done);
        t.removeListener('close', done);
        resolve();
      };
      t.once('drain', done);
      t.once('error', done);
      t.once('close', done);
    });

  const pump = (async () => {
    try {
      for await (const chunk of source) {
        for (let o = 0; o < chunk.length; o += SLICE) {
          if (stopped || decoderError || closed) return;
          const ok = t.write(asBuffer(chunk.subarray(o, Math.min(chunk.length, o + SLICE))));
          if (!ok) await waitDrain();
        }
        if (stopped || decoderError || closed) return;
      }
      if (!stopped && !decoderError && !closed) t.end();
    } catch (e) {
      sourceError ??= e;
      poke();
    }
  })();

  let total = 0;
  try {
    for (;;) {
      if (sourceError) throw sourceError;
      if (decoderError) throw failure(kind, opts.label, decoderError);
      const c = queue.shift();
      if (c) {
        if (paused && queue.length < HIGH_WATER / 2 && t.resume) {
          paused = false;
          t.resume();
        }
        total += c.length;
        if (total > maxOutput) throw failure(kind, opts.label, new Error(`output exceeds ${maxOutput} bytes`));
        yield c;
        continue;
      }
      if (ended) break;
      if (closed) throw failure(kind, opts.label, new Error('decoder closed before the end of the stream'));
      await new Promise<void>((r) => {
        wake = r;
      });
    }
    if (sourceError) throw sourceError;
  } finally {
    stopped = true;
    if (!ended) t.destroy?.();
    poke();
    await pump;
  }
}
