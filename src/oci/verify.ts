/** Streams that check a blob's size and digest as it passes: the last chunk is held back until both match. */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { IngotError } from '../core/errors.js';
import type { Descriptor } from './image.js';

export function digestMismatch(what: string, desc: Pick<Descriptor, 'digest' | 'size'>, got: { digest?: string; size: number }): IngotError {
  const bySize = got.size !== desc.size;
  return new IngotError(
    'DIGEST_MISMATCH',
    bySize
      ? `${what}: ${got.size} bytes where the descriptor says ${desc.size}`
      : `${what}: content hashes to ${got.digest}, the descriptor says ${desc.digest}`,
    { hint: 'the blob is damaged or was replaced; fetch or build the image again', data: { digest: desc.digest, expectedSize: desc.size, size: got.size, ...(got.digest ? { actual: got.digest } : {}) } },
  );
}

/** Wraps `src`: errors with DIGEST_MISMATCH (before ending) when size or sha256 differ. */
export function verifying(src: Readable, desc: Pick<Descriptor, 'digest' | 'size'>, what: string): Readable {
  const alg = desc.digest.slice(0, desc.digest.indexOf(':'));
  const h = createHash(alg === 'sha512' ? 'sha512' : 'sha256');
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      n += chunk.length;
      if (n > desc.size) return cb(digestMismatch(what, desc, { size: n }));
      h.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const d = `${alg}:${h.digest('hex')}`;
      if (n !== desc.size || d !== desc.digest) return cb(digestMismatch(what, desc, { digest: d, size: n }));
      cb();
    },
  });
  src.on('error', (e) => t.destroy(e));
  return src.pipe(t);
}

export function verifyBytes(data: Buffer, desc: Pick<Descriptor, 'digest' | 'size'>, what: string): Buffer {
  const alg = desc.digest.slice(0, desc.digest.indexOf(':'));
  const d = `${alg}:${createHash(alg === 'sha512' ? 'sha512' : 'sha256').update(data).digest('hex')}`;
  if (data.length !== desc.size || d !== desc.digest) throw digestMismatch(what, desc, { digest: d, size: data.length });
  return data;
}
