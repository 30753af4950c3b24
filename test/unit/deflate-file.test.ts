/**
 * sys().deflateFile, the parallel compression of one large archive object: chunks compressed
 * by several threads with libdeflate and joined into one raw DEFLATE stream. For inputs whose
 * size falls on, just before and just after chunk boundaries, of incompressible, constant and
 * mixed content, at several levels and thread counts, zlib must inflate the output to exactly
 * the input, the digest must be SHA-256 of prefix || input, and `stored` the bytes written.
 * A file shorter than the size asked for is reported with the offset where it ended.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { sys } from '../../src/platform/sys.js';
import { cleanup, prng, tmpdir } from '../helpers.js';

const CHUNK = 64 * 1024;

/** Incompressible, constant, or pages alternating random bytes and text (as the bench's big file). */
function content(kind: 'random' | 'zeros' | 'mixed', size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  const r = prng(seed);
  if (kind === 'zeros') return b;
  const words = ['ostree ', 'commit ', 'deflate ', 'chunk ', 'object ', 'checksum ', '\n'];
  let i = 0;
  while (i < size) {
    const page = Math.min(4096, size - i);
    const randomHalf = kind === 'random' ? page : page >> 1;
    for (let k = 0; k < randomHalf; k++) b[i + k] = (r() * 256) | 0;
    let k = randomHalf;
    while (k < page) {
      const w = words[(r() * words.length) | 0]!;
      k += b.write(w.slice(0, page - k), i + k, 'latin1');
    }
    i += page;
  }
  return b;
}

suite('sys().deflateFile: chunks compressed in parallel form one raw DEFLATE stream', () => {
  let tmp = '';
  before(() => {
    tmp = tmpdir('ingot-deflate-file-');
  });
  after(() => {
    if (tmp) cleanup(tmp);
  });

  function deflateFile(data: Buffer, opts: { level: number; threads: number; size?: number; chunk?: number }) {
    const src = path.join(tmp, 'in');
    const dst = path.join(tmp, 'out');
    fs.writeFileSync(src, data);
    const prefix = Buffer.from('header bytes hashed first');
    const inFd = fs.openSync(src, 'r');
    // The stream goes where the output's position is: after a header, as in a .filez object.
    const outFd = fs.openSync(dst, 'w');
    fs.writeSync(outFd, Buffer.from('HDR'));
    try {
      const r = sys().deflateFile(inFd, outFd, opts.size ?? data.length, prefix, opts.level, opts.threads, opts.chunk ?? CHUNK);
      const out = fs.readFileSync(dst);
      return { r, prefix, stream: out.subarray(3), head: out.subarray(0, 3).toString() };
    } finally {
      fs.closeSync(inFd);
      fs.closeSync(outFd);
    }
  }

  const sizes = [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 12345, 16 * CHUNK + 7];
  for (const kind of ['mixed', 'random', 'zeros'] as const) {
    for (const size of sizes) {
      it(`${kind}, ${size} bytes (${Math.ceil(size / CHUNK)} chunks), 3 threads`, () => {
        const data = content(kind, size, size);
        const { r, prefix, stream, head } = deflateFile(data, { level: 6, threads: 3 });
        assert.equal(head, 'HDR', 'written after what the output held');
        assert.equal(r.shortAt, -1);
        assert.equal(r.stored, stream.length);
        assert.equal(r.digest, createHash('sha256').update(prefix).update(data).digest('hex'));
        const back = zlib.inflateRawSync(stream);
        assert.ok(back.equals(data), `zlib inflates ${back.length} bytes, not the ${data.length} input bytes`);
        if (kind === 'zeros' && size > 2 * CHUNK) assert.ok(stream.length < size / 50, `zeros compress: ${stream.length}`);
      });
    }
  }

  for (const [level, threads] of [
    [1, 1],
    [12, 2],
    [0, 4],
  ] as const) {
    it(`level ${level}, ${threads} thread(s), 1 MiB chunks over 5.5 MiB of mixed data`, () => {
      const data = content('mixed', 5.5 * 1024 * 1024, level + 100);
      const { r, stream } = deflateFile(data, { level, threads, chunk: 1024 * 1024 });
      assert.equal(r.shortAt, -1);
      assert.ok(zlib.inflateRawSync(stream).equals(data));
      if (level > 0) assert.ok(stream.length < data.length * 0.75, `compressed to ${stream.length} of ${data.length}`);
    });
  }

  it('the same output whatever the thread count (chunks are written in order)', () => {
    const data = content('mixed', 20 * CHUNK + 99, 7);
    const one = deflateFile(data, { level: 6, threads: 1 });
    const many = deflateFile(data, { level: 6, threads: 8 });
    assert.ok(one.stream.equals(many.stream));
    assert.equal(one.r.digest, many.r.digest);
  });

  it('a file shorter than the size given is reported with the offset where it ended', () => {
    const data = content('mixed', 5 * CHUNK + 10, 3);
    const { r } = deflateFile(data, { level: 6, threads: 2, size: 9 * CHUNK });
    assert.equal(r.shortAt, 5 * CHUNK + 10);
  });

  it('rejects a chunk size under 64 KiB and a level over 12', () => {
    assert.throws(() => deflateFile(Buffer.alloc(10), { level: 6, threads: 1, chunk: 1000 }), /chunkSize/);
    assert.throws(() => deflateFile(Buffer.alloc(10), { level: 13, threads: 1 }), /level/);
  });
});
