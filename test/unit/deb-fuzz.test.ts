/**
 * Fuzzing the Debian reader with fast-check: random mutations of the real fixture packages
 * (bit flips, truncation, inserted and duplicated bytes, fed in random chunk sizes) and random
 * control text must never throw anything but an IngotError, never hang, and extraction of a
 * mutated package must never write outside its root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { IngotError } from '../../src/core/errors.js';
import { readAr } from '../../src/codecs/archive/ar.js';
import { readTar } from '../../src/codecs/archive/tar.js';
import { openDeb } from '../../src/codecs/deb/deb.js';
import { parseDeb822, parseDebControl, parseRelations } from '../../src/codecs/deb/control.js';
import { extractTar } from '../../src/sources/extract.js';
import { cleanup, runOk, tmpdir } from '../helpers.js';
import { arDeb, compressWith, fixture, snapshot } from '../fixtures/deb/helpers.js';

function loadCorpus(): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = [];
  for (const r of ['hello', 'libfoo1']) for (const c of ['xz', 'gzip', 'zstd', 'none']) out.push({ name: `${r}_${c}`, bytes: fs.readFileSync(fixture(r, c)) });
  // bzip2 and lzma data members, made by hand as dpkg-deb cannot.
  const dir = tmpdir('ingot-deb-fuzz-corpus-');
  try {
    runOk('ar', ['x', fixture('hello', 'none')], { cwd: dir });
    const control = fs.readFileSync(path.join(dir, 'control.tar'));
    const data = fs.readFileSync(path.join(dir, 'data.tar'));
    for (const [c, ext] of [['bzip2', '.bz2'], ['lzma', '.lzma']] as const) {
      const deb = arDeb(path.join(dir, `hello_${c}.deb`), [
        ['debian-binary', Buffer.from('2.0\n')],
        ['control.tar.gz', compressWith('gzip', control)],
        [`data.tar${ext}`, compressWith(c, data)],
      ]);
      out.push({ name: `hello_${c}`, bytes: fs.readFileSync(deb) });
    }
  } finally {
    cleanup(dir);
  }
  return out;
}

const CORPUS = loadCorpus();

interface Mutation {
  kind: 'flip' | 'set' | 'truncate' | 'insert' | 'dup';
  /** An absolute offset (the headers) or a fraction of the length. */
  pos: { abs?: number; frac?: number };
  n: number;
  bytes: Uint8Array;
}

/** Positions: absolute near the start (the ar and tar headers) or anywhere as a fraction. */
const position = fc.oneof(fc.integer({ min: 0, max: 400 }).map((n) => ({ abs: n })), fc.double({ min: 0, max: 1, noNaN: true }).map((f) => ({ frac: f })));
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('flip', 'flip', 'set', 'truncate', 'insert', 'dup'),
  pos: position,
  n: fc.integer({ min: 1, max: 255 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

function mutate(buf: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of muts) {
    const at = Math.min(b.length, m.pos.abs !== undefined ? m.pos.abs : Math.floor((m.pos.frac ?? 0) * b.length));
    switch (m.kind) {
      case 'flip':
        if (at < b.length) b[at] ^= m.n;
        break;
      case 'set':
        if (at < b.length) b[at] = m.n === 1 ? 0 : m.n;
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'dup':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.n), b.subarray(at)]);
        break;
    }
  }
  return b;
}

async function* chunked(b: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  let o = 0;
  let i = 0;
  while (o < b.length) {
    const n = sizes.length ? sizes[i++ % sizes.length]! : b.length;
    yield b.subarray(o, o + n);
    o += n;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

function onlyIngot(e: unknown, what: string): void {
  if (!(e instanceof IngotError)) {
    assert.fail(`${what}: threw a non-IngotError: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

async function readWhole(bytes: Buffer, sizes: number[]): Promise<void> {
  const d = await openDeb(chunked(bytes, sizes), { label: 'fuzz.deb', limits: { maxDataTotal: 64 * 1024 * 1024 } });
  for await (const e of d.dataEntries()) {
    for await (const _ of e.body) {
      /* drain */
    }
  }
}

const sizes = fc.array(fc.integer({ min: 1, max: 70000 }), { maxLength: 4 });

test('mutated fixture packages only ever fail with IngotError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: CORPUS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), sizes, async (i, muts, sz) => {
      const bytes = mutate(CORPUS[i]!.bytes, muts);
      try {
        await withTimeout(readWhole(bytes, sz), 20000, CORPUS[i]!.name);
      } catch (e) {
        onlyIngot(e, CORPUS[i]!.name);
      }
    }),
    { numRuns: 400, seed: 4242 },
  );
});

test('unmutated fixtures read cleanly in any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: CORPUS.length - 1 }), sizes, async (i, sz) => {
      await readWhole(CORPUS[i]!.bytes, sz);
    }),
    { numRuns: 40, seed: 7 },
  );
});

test('extracting mutated packages never writes outside the root', async () => {
  const base = tmpdir('ingot-deb-fuzz-x-');
  const sentinel = path.join(base, 'sentinel');
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, 'f'), 'keep');
  const before = snapshot(sentinel);
  let n = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (i, muts) => {
        const root = path.join(base, `root${n++}`);
        fs.mkdirSync(root);
        const bytes = mutate(CORPUS[i]!.bytes, muts);
        try {
          const d = await openDeb(chunked(bytes, []), { label: 'fuzz.deb' });
          await withTimeout(extractTar(d.dataEntries(), root, { special: 'record' }), 20000, 'extract');
        } catch (e) {
          onlyIngot(e, CORPUS[i]!.name);
        }
        assert.deepEqual(fs.readdirSync(base).filter((x) => !x.startsWith('root')), ['sentinel']);
        assert.deepEqual(snapshot(sentinel), before);
        fs.rmSync(root, { recursive: true, force: true });
      }),
      { numRuns: 80, seed: 99 },
    );
  } finally {
    cleanup(base);
  }
});

test('random bytes as ar or tar only ever fail with IngotError', async () => {
  const tarish = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    fc.uint8Array({ minLength: 512, maxLength: 2048 }).map((b) => {
      // Make a valid-looking ustar header with a correct checksum around random fields.
      const h = Buffer.from(b);
      h.write('ustar\0', 257, 'latin1');
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (let k = 0; k < 512; k++) sum += h[k]!;
      h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
      return new Uint8Array(h);
    }),
  );
  await fc.assert(
    fc.asyncProperty(tarish, sizes, async (bytes, sz) => {
      const b = Buffer.from(bytes);
      for (const reader of ['ar', 'tar'] as const) {
        try {
          await withTimeout(
            (async () => {
              if (reader === 'ar') for await (const m of readAr(chunked(Buffer.concat([Buffer.from('!<arch>\n'), b]), sz))) for await (const _ of m.body) void _;
              else for await (const e of readTar(chunked(b, sz))) for await (const _ of e.body) void _;
            })(),
            10000,
            reader,
          );
        } catch (e) {
          onlyIngot(e, reader);
        }
      }
    }),
    { numRuns: 300, seed: 11 },
  );
});

const controlish = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('latin1')),
  fc
    .array(
      fc.oneof(
        fc.constantFrom('Package: a\n', 'Version: 1.0\n', 'Architecture: all\n', 'Depends: a (>= 1) | b:any, c\n', ' cont\n', '\n', ' \n', ':\n', 'X: \n', '\t.\n'),
        fc.string({ maxLength: 30 }),
      ),
      { maxLength: 12 },
    )
    .map((a) => a.join('')),
);

test('random control text only ever fails with IngotError', () => {
  fc.assert(
    fc.property(controlish, (text) => {
      for (const f of [() => parseDeb822(text), () => parseDebControl(text), () => parseRelations('Depends', text), () => parseRelations('Provides', text)]) {
        try {
          f();
        } catch (e) {
          onlyIngot(e, JSON.stringify(text));
        }
      }
    }),
    { numRuns: 3000, seed: 5 },
  );
});
