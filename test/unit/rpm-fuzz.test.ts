/**
 * Fuzzing the RPM reader with fast-check: random mutations of the real fixture packages (built
 * by rpmbuild, see test/fixtures/build-rpms.sh) — byte flips, truncation, overwritten index
 * counts, offsets, types and tags, overwritten il/dl, broken cpio header fields — go through
 * the whole pipeline (headers, metadata, payload decompression and cpio, digests, signatures).
 * Whatever happens, only IngotError may come out; and a change anywhere in the main header or
 * the payload is always detected, since the header digests and the payload digest cover them.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { IngotError } from '../../src/core/errors.js';
import { assertVerified, headerDigestChecks, parseRpm, readRpm, readRpmPayload, rpmPackage, verifyRpm, type RpmHead } from '../../src/codecs/rpm/index.js';
import { ROOT, runOk } from '../helpers.js';

const FIXTURES = ['fx-arch.rpm', 'fx-empty.rpm', 'fx-none.rpm', 'fx-gzip-eddsa.rpm', 'fx-main-rsa-v3.rpm', 'fx-xz.rpm'];
const files = new Map<string, { bytes: Buffer; head: RpmHead }>();

before(async () => {
  const dir = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  for (const f of FIXTURES) {
    const bytes = fs.readFileSync(path.join(dir, f));
    files.set(f, { bytes, head: (await parseRpm(bytes)).head });
  }
});

async function* chunks(b: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

/** Everything a consumer does with a package; throws on any problem. */
async function consume(bytes: Uint8Array, chunk: number): Promise<void> {
  const { head, payload } = await readRpm(chunks(bytes, chunk));
  assertVerified(headerDigestChecks(head));
  const pkg = rpmPackage(head.header);
  for await (const e of readRpmPayload(head, payload, { pkg })) for await (const _ of e.body) void _;
  const { checks } = await verifyRpm(chunks(bytes, chunk));
  assertVerified(checks.filter((c) => c.kind !== 'signature'));
}

async function onlyIngotErrors(bytes: Uint8Array, chunk: number): Promise<IngotError | null> {
  try {
    await consume(bytes, chunk);
    return null;
  } catch (e) {
    if (e instanceof IngotError) return e;
    throw new Error(`a non-IngotError escaped: ${(e as Error)?.stack ?? String(e)}`);
  }
}

const fixture = fc.constantFrom(...FIXTURES);
const chunk = fc.constantFrom(1 << 20, 65536, 4093, 517);
const RUNS = Number(process.env['INGOT_FUZZ_RUNS'] ?? 60);

test('fixtures pass the pipeline unmodified', async () => {
  for (const f of FIXTURES) assert.equal(await onlyIngotErrors(files.get(f)!.bytes, 65536), null, f);
});

test('byte flips anywhere: only IngotError', async () => {
  await fc.assert(
    fc.asyncProperty(fixture, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), chunk, async (f, flips, size) => {
      const b = Buffer.from(files.get(f)!.bytes);
      for (const [pos, x] of flips) b[pos % b.length] ^= x;
      await onlyIngotErrors(b, size);
    }),
    { numRuns: RUNS },
  );
});

test('a flip in the main header or the payload is always detected', async () => {
  await fc.assert(
    fc.asyncProperty(fixture, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 }), async (f, where, x) => {
      const { bytes, head } = files.get(f)!;
      const b = Buffer.from(bytes);
      const pos = head.headerStart + Math.floor(where * (b.length - head.headerStart));
      b[pos] ^= x;
      const e = await onlyIngotErrors(b, 65536);
      assert.ok(e, `${f}: a flip at byte ${pos} went unnoticed`);
    }),
    { numRuns: RUNS },
  );
});

test('truncation anywhere: only IngotError, never silent success', async () => {
  await fc.assert(
    fc.asyncProperty(fixture, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), chunk, async (f, where, size) => {
      const b = files.get(f)!.bytes;
      const n = Math.floor(where * b.length);
      assert.ok(await onlyIngotErrors(b.subarray(0, n), size), `${f}: truncated to ${n} bytes was accepted`);
    }),
    { numRuns: RUNS },
  );
});

const u32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 7, 8, 9, 15, 16, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 0x000fffff, 0x00100000, 0x0fffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);

test('overwritten index entries (tag, type, offset, count) and il/dl: only IngotError', async () => {
  await fc.assert(
    fc.asyncProperty(
      fixture,
      fc.boolean(),
      fc.nat(),
      fc.constantFrom(-2, -1, 0, 4, 8, 12),
      u32,
      fc.integer({ min: -64, max: 64 }),
      chunk,
      async (f, sig, entry, fieldOff, value, delta, size) => {
        const { bytes, head } = files.get(f)!;
        const h = sig ? head.signature : head.header;
        const start = sig ? head.signatureStart : head.headerStart;
        const b = Buffer.from(bytes);
        // -2: il, -1: dl; otherwise a field of one index entry (sometimes a value near the old one).
        const at = fieldOff === -2 ? start + 8 : fieldOff === -1 ? start + 12 : start + 16 + 16 * (entry % h.il) + fieldOff;
        const old = b.readUInt32BE(at);
        b.writeUInt32BE(delta !== 0 && value % 2 === 0 ? (old + delta) >>> 0 : value, at);
        await onlyIngotErrors(b, size);
      },
    ),
    { numRuns: RUNS * 2 },
  );
});

test('broken cpio header fields in an uncompressed payload: only IngotError, always detected', async () => {
  const { bytes, head } = files.get('fx-none.rpm')!;
  const members: number[] = [];
  for (let i = bytes.indexOf('070701', head.headerEnd); i >= 0; i = bytes.indexOf('070701', i + 6)) members.push(i);
  assert.ok(members.length >= 6);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...members),
      fc.integer({ min: 0, max: 12 }),
      fc.oneof(fc.integer({ min: 0, max: 0xffffffff }).map((n) => n.toString(16).padStart(8, '0')), fc.string({ minLength: 8, maxLength: 8 })),
      async (member, fieldNo, text) => {
        const b = Buffer.from(bytes);
        const at = member + 6 + 8 * fieldNo;
        const old = b.toString('latin1', at, at + 8);
        Buffer.from(text, 'latin1').copy(b, at, 0, 8);
        const e = await onlyIngotErrors(b, 65536);
        if (b.toString('latin1', at, at + 8) !== old) assert.ok(e, `field ${fieldNo} of the member at ${member} changed unnoticed`);
      },
    ),
    { numRuns: RUNS },
  );
});
