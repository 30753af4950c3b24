/**
 * Unit tests for the RPM codec on hand-made bytes: every header data type, the immutable region
 * and every bound rpm checks (hostile counts, offsets, overlaps), the lead, rich dependencies,
 * cpio in its newc, crc and stripped forms, and a synthetic package whose payload uses rpm's
 * stripped cpio (the format of packages with files of 4 GiB or more, too big to build here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isIngotError } from '../../src/core/errors.js';
import { readCpio, type CpioMember } from '../../src/codecs/archive/cpio.js';
import {
  formatRichDep,
  assertDigestsPresent,
  headerDigestChecks,
  parseHeader,
  parseLead,
  parseRichDep,
  parseRpm,
  parseSourceRpm,
  readRpmPayload,
  richLeaves,
  rpmPackage,
  RpmType,
  senseOp,
  TAG,
  type RichDep,
  type TagValue,
} from '../../src/codecs/rpm/index.js';

// ---------------------------------------------------------------------------------------------
// A small header writer, as rpmbuild lays headers out: region entry first, data aligned per
// type, the region trailer as the last 16 bytes of the data store.

interface E {
  tag: number;
  type: number;
  value: TagValue;
  /** Overrides the stored count. */
  count?: number;
}

const T = RpmType;

function encodeValue(e: E): { bytes: Uint8Array; count: number } {
  const v = e.value;
  switch (e.type) {
    case T.STRING:
      return { bytes: Buffer.from(`${v as string}\0`), count: 1 };
    case T.STRING_ARRAY:
    case T.I18NSTRING:
      return { bytes: Buffer.from((v as string[]).map((s) => `${s}\0`).join('')), count: (v as string[]).length };
    case T.BIN:
      return { bytes: v as Uint8Array, count: (v as Uint8Array).length };
    case T.INT64: {
      const b = Buffer.alloc(8 * (v as bigint[]).length);
      (v as bigint[]).forEach((x, i) => b.writeBigUInt64BE(x, 8 * i));
      return { bytes: b, count: (v as bigint[]).length };
    }
    default: {
      const w = [0, 1, 1, 2, 4][e.type]!;
      const b = Buffer.alloc(w * (v as number[]).length);
      (v as number[]).forEach((x, i) => (w === 1 ? b.writeUInt8(x, i) : w === 2 ? b.writeUInt16BE(x, 2 * i) : b.writeUInt32BE(x, 4 * i)));
      return { bytes: b, count: (v as number[]).length };
    }
  }
}

function buildHeader(entries: E[], opts: { region?: 62 | 63 | null; magic?: boolean; dribbles?: E[] } = {}): Uint8Array {
  const region = opts.region === undefined ? 63 : opts.region;
  const index: number[][] = [];
  const data: Buffer[] = [];
  let dl = 0;
  const add = (e: E) => {
    const { bytes, count } = encodeValue(e);
    const align = [0, 1, 1, 2, 4, 8, 1, 1, 1, 1][e.type]!;
    const pad = (align - (dl % align)) % align;
    if (pad) {
      data.push(Buffer.alloc(pad));
      dl += pad;
    }
    index.push([e.tag, e.type, dl, e.count ?? count]);
    data.push(Buffer.from(bytes));
    dl += bytes.length;
  };
  for (const e of entries) add(e);
  const ril = entries.length + (region ? 1 : 0);
  if (region) {
    const trailer = Buffer.alloc(16);
    trailer.writeUInt32BE(region, 0);
    trailer.writeUInt32BE(T.BIN, 4);
    trailer.writeInt32BE(-ril * 16, 8);
    trailer.writeUInt32BE(16, 12);
    index.unshift([region, T.BIN, dl, 16]);
    data.push(trailer);
    dl += 16;
  }
  for (const e of opts.dribbles ?? []) add(e);
  const il = index.length;
  const intro = Buffer.alloc(opts.magic === false ? 8 : 16);
  if (opts.magic !== false) Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]).copy(intro);
  intro.writeUInt32BE(il, intro.length - 8);
  intro.writeUInt32BE(dl, intro.length - 4);
  const idx = Buffer.alloc(16 * il);
  index.forEach(([tag, type, off, count], i) => {
    idx.writeUInt32BE(tag!, 16 * i);
    idx.writeUInt32BE(type!, 16 * i + 4);
    idx.writeInt32BE(off!, 16 * i + 8);
    idx.writeUInt32BE(count!, 16 * i + 12);
  });
  return Buffer.concat([intro, idx, ...data]);
}

/** Offset of index entry `i`'s field (0 tag, 4 type, 8 offset, 12 count) in a header with magic. */
const field = (i: number, f: number): number => 16 + 16 * i + f;

const MAIN = { regionTag: 63 as const, exact: true, requireRegion: true };

function expectCode(fn: () => unknown, code: string, msg?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isIngotError(e), `expected an IngotError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return;
  }
  assert.fail(`expected ${code}`);
}

async function expectCodeAsync(fn: () => Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.ok(isIngotError(e), `expected an IngotError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return;
  }
  assert.fail(`expected ${code}`);
}

const basic: E[] = [
  { tag: TAG.NAME, type: T.STRING, value: 'demo' },
  { tag: TAG.VERSION, type: T.STRING, value: '1.0' },
  { tag: TAG.RELEASE, type: T.STRING, value: '1' },
];

// ---------------------------------------------------------------------------------------------

test('header: every data type decodes', () => {
  const entries: E[] = [
    { tag: 100, type: T.STRING_ARRAY, value: ['C', 'de'] },
    { tag: 1000, type: T.STRING, value: 'näme' },
    { tag: 1004, type: T.I18NSTRING, value: ['summary C', 'Zusammenfassung'] },
    { tag: 1029, type: T.CHAR, value: [0, 255, 7] },
    { tag: 1030, type: T.INT16, value: [0o100644, 0xffff] },
    { tag: 1034, type: T.INT32, value: [0, 0xffffffff, 12345] },
    { tag: 1035, type: T.STRING_ARRAY, value: ['', 'abc'] },
    { tag: 5008, type: T.INT64, value: [0n, 5n * 2n ** 32n, 2n ** 64n - 1n] },
    { tag: 5093, type: T.INT32, value: [8] },
    { tag: 20000, type: T.INT8, value: [1, 2, 3] },
    { tag: 20001, type: T.BIN, value: Uint8Array.of(9, 8, 7) },
  ];
  const h = parseHeader(buildHeader(entries), MAIN);
  assert.deepEqual(h.region, { tag: 63, ril: entries.length + 1, rdl: h.dl });
  assert.equal(h.string(1000), 'näme');
  assert.deepEqual(h.strings(100), ['C', 'de']);
  assert.equal(h.string(1004), 'summary C');
  assert.deepEqual(h.numbers(1029), [0, 255, 7]);
  assert.deepEqual(h.numbers(1030), [0o100644, 0xffff]);
  assert.deepEqual(h.numbers(1034), [0, 0xffffffff, 12345]);
  assert.deepEqual(h.get(5008)!.value, [0n, 5n * 2n ** 32n, 2n ** 64n - 1n]);
  assert.deepEqual(h.numbers(5008)!.slice(0, 2), [0, 5 * 2 ** 32]);
  assert.ok(Number.isNaN(h.numbers(5008)![2]));
  assert.deepEqual(h.numbers(20000), [1, 2, 3]);
  assert.deepEqual([...h.bin(20001)!], [9, 8, 7]);
  assert.deepEqual(h.order, [63, ...entries.map((e) => e.tag)]);
});

test('header: an rpmdb blob (no magic) with dribbles after the region', () => {
  const bytes = buildHeader(basic, { magic: false, dribbles: [{ tag: 1008, type: T.INT32, value: [42] }] });
  const h = parseHeader(bytes, { regionTag: 63, magic: false });
  assert.equal(h.number(1008), 42);
  assert.equal(h.region!.ril, 4);
  // The digest covers the region only, with the magic and the region's il/dl.
  const withMagic = buildHeader(basic);
  assert.deepEqual(Buffer.concat(h.digestParts()), Buffer.from(withMagic));
  expectCode(() => parseHeader(bytes, { regionTag: 63, magic: false, exact: true }), 'RPM_INVALID', /does not cover/);
});

test('header: region checks as rpm does them', () => {
  const good = Buffer.from(buildHeader(basic));
  const mut = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good);
    f(b);
    return b;
  };
  const dl = good.readUInt32BE(12);
  const dataStart = 16 + 16 * good.readUInt32BE(8);
  expectCode(() => parseHeader(buildHeader(basic, { region: null }), MAIN), 'RPM_INVALID', /no immutable region/);
  assert.equal(parseHeader(buildHeader(basic, { region: null }), { regionTag: 63 }).region, null);
  expectCode(() => parseHeader(mut((b) => b.writeUInt32BE(T.INT32, field(0, 4))), MAIN), 'RPM_INVALID', /region tag/);
  expectCode(() => parseHeader(mut((b) => b.writeInt32BE(dl - 15, field(0, 8))), MAIN), 'RPM_INVALID', /trailer offset/);
  expectCode(() => parseHeader(mut((b) => b.writeUInt32BE(62, dataStart + dl - 16)), MAIN), 'RPM_INVALID', /bad region trailer/);
  expectCode(() => parseHeader(mut((b) => b.writeInt32BE(-8 * 16 - 8, dataStart + dl - 8)), MAIN), 'RPM_INVALID', /bad region size/);
  expectCode(() => parseHeader(mut((b) => b.writeInt32BE(-99 * 16, dataStart + dl - 8)), MAIN), 'RPM_INVALID', /bad region size/);
  expectCode(() => parseHeader(mut((b) => b.writeInt32BE(16, dataStart + dl - 8)), MAIN), 'RPM_INVALID', /bad region size/);
  expectCode(() => parseHeader(mut((b) => b.writeInt32BE(-2 * 16, dataStart + dl - 8)), MAIN), 'RPM_INVALID', /does not cover/);
  // The signature header accepts HEADERIMAGE in its trailer (old packages).
  const sig = Buffer.from(buildHeader([{ tag: 1000, type: T.INT32, value: [1] }], { region: 62 }));
  const sdl = sig.readUInt32BE(12);
  sig.writeUInt32BE(61, 16 + 32 + sdl - 16);
  assert.equal(parseHeader(sig, { regionTag: 62 }).number(1000), 1);
});

test('header: hostile counts, offsets and types are RPM_INVALID with a byte offset', () => {
  const entries: E[] = [...basic, { tag: TAG.FILEMTIMES, type: T.INT32, value: [1, 2] }, { tag: TAG.DIRNAMES, type: T.STRING_ARRAY, value: ['/a/', '/b/'] }];
  const good = Buffer.from(buildHeader(entries));
  const dl = good.readUInt32BE(12);
  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ['count 0', (b) => b.writeUInt32BE(0, field(4, 12)), /count is outside/],
    ['count > dl', (b) => b.writeUInt32BE(dl + 1, field(4, 12)), /count is outside/],
    ['huge count', (b) => b.writeUInt32BE(0xffffffff, field(4, 12)), /count is outside/],
    ['array count over 2^20', (b) => b.writeUInt32BE(0x100000, field(4, 12)), /count is outside|array limit/],
    ['count runs past the data', (b) => b.writeUInt32BE(Math.floor(dl / 4), field(4, 12)), /past the data store|overlaps/],
    ['offset > dl', (b) => b.writeInt32BE(dl + 4, field(4, 8)), /outside the data store|overlaps/],
    ['negative offset', (b) => b.writeInt32BE(-4, field(5, 8)), /overlaps|outside/],
    ['misaligned INT32', (b) => b.writeInt32BE(b.readInt32BE(field(4, 8)) + 1, field(4, 8)), /aligned/],
    ['overlap with the previous entry', (b) => b.writeInt32BE(0, field(2, 8)), /overlaps the previous/],
    ['STRING with count 2', (b) => b.writeUInt32BE(2, field(1, 12)), /count 1/],
    ['unterminated strings', (b) => b.writeUInt32BE(10, field(5, 12)), /NUL-terminated|overlaps the region trailer/],
    ['NULL type', (b) => b.writeUInt32BE(0, field(1, 4)), /NULL/],
    ['type 10', (b) => b.writeUInt32BE(10, field(1, 4)), /unknown type/],
    ['tag below 100', (b) => b.writeUInt32BE(63, field(1, 0)), /reserved/],
    ['a known tag with the wrong type', (b) => b.writeUInt32BE(T.BIN, field(1, 4)), /declared STRING/],
    ['duplicate tag', (b) => b.writeUInt32BE(TAG.NAME, field(2, 0)), /twice/],
    ['il over the limit', (b) => b.writeUInt32BE(0x10000, 8), /over the limit/],
    ['dl over the limit', (b) => b.writeUInt32BE(0x10000000, 12), /over the limit/],
    ['il/dl disagree with the size', (b) => b.writeUInt32BE(dl + 8, 12), /needs/],
    ['bad magic', (b) => (b[2] = 0), /magic/],
    ['reserved bytes', (b) => (b[5] = 1), /magic/],
  ];
  for (const [name, mutate, msg] of cases) {
    const b = Buffer.from(good);
    mutate(b);
    try {
      parseHeader(b, MAIN);
      assert.fail(`${name}: accepted`);
    } catch (e) {
      assert.ok(isIngotError(e, 'RPM_INVALID'), `${name}: ${String(e)}`);
      assert.match(e.message, msg, name);
      assert.equal(typeof e.data['offset'], 'number', name);
    }
  }
  // The signature header is not type-checked (rpm cannot: its tags collide with the main header's).
  const sig = buildHeader([{ tag: 1000, type: T.BIN, value: Uint8Array.of(1) }], { region: 62 });
  assert.ok(parseHeader(sig, { regionTag: 62 }).bin(1000));
  // ... but has rpm's tighter limits.
  const big = Buffer.from(sig);
  big.writeUInt32BE(33, 8);
  expectCode(() => parseHeader(big, { regionTag: 62 }), 'RPM_INVALID', /over the limit of 32/);
});

test('lead: magic, signature type and version are checked', () => {
  const lead = Buffer.alloc(96);
  Buffer.from([0xed, 0xab, 0xee, 0xdb, 3, 0]).copy(lead);
  lead.write('demo-1.0-1', 10);
  lead.writeUInt16BE(5, 78);
  assert.equal(parseLead(lead).name, 'demo-1.0-1');
  expectCode(() => parseLead(lead.subarray(0, 50)), 'RPM_INVALID', /ends inside the lead/);
  const bad = (f: (b: Buffer) => void, msg: RegExp) => {
    const b = Buffer.from(lead);
    f(b);
    expectCode(() => parseLead(b), 'RPM_INVALID', msg);
  };
  bad((b) => (b[0] = 0), /magic/);
  bad((b) => b.writeUInt16BE(1, 78), /signature type/);
  bad((b) => (b[4] = 5), /version 5/);
});

// ---------------------------------------------------------------------------------------------

const atom = (name: string, op?: '<' | '<=' | '=' | '>=' | '>', version?: string): RichDep => ({ op: 'atom', atom: op ? { name, op, version: version! } : { name } });

test('rich dependencies: the trees of rpm grammar', () => {
  const cases: [string, RichDep][] = [
    ['(a)', atom('a')],
    ['(a or b)', { op: 'or', args: [atom('a'), atom('b')] }],
    ['(a or b or c)', { op: 'or', args: [atom('a'), atom('b'), atom('c')] }],
    ['(a >= 1.0 and b)', { op: 'and', args: [atom('a', '>=', '1.0'), atom('b')] }],
    ['(a => 1 and b =< 2 and c == 3)', { op: 'and', args: [atom('a', '>=', '1'), atom('b', '<=', '2'), atom('c', '=', '3')] }],
    ['(a if b)', { op: 'if', then: atom('a'), cond: atom('b') }],
    ['(a if b else c)', { op: 'if', then: atom('a'), cond: atom('b'), else: atom('c') }],
    ['(a unless b else c)', { op: 'unless', then: atom('a'), cond: atom('b'), else: atom('c') }],
    ['(a with b)', { op: 'with', args: [atom('a'), atom('b')] }],
    ['(a without b)', { op: 'without', args: [atom('a'), atom('b')] }],
    ['(perl(Foo::Bar) >= 1:2.3-4 or python3dist(x) < 2)', { op: 'or', args: [atom('perl(Foo::Bar)', '>=', '1:2.3-4'), atom('python3dist(x)', '<', '2')] }],
    ['((a or b) and (c if d else e))', { op: 'and', args: [{ op: 'or', args: [atom('a'), atom('b')] }, { op: 'if', then: atom('c'), cond: atom('d'), else: atom('e') }] }],
    ['(  a ,  or\tb  )', { op: 'or', args: [atom('a'), atom('b')] }],
  ];
  for (const [text, tree] of cases) {
    assert.deepEqual(parseRichDep(text), tree, text);
    assert.deepEqual(parseRichDep(formatRichDep(tree)), tree, `round trip of ${text}`);
  }
  assert.deepEqual(
    richLeaves(parseRichDep('(a if (b or c) else d)')).map((x) => x.name),
    ['a', 'b', 'c', 'd'],
  );
});

test('rich dependencies: what rpm refuses is RICH_DEP_INVALID', () => {
  const bad: [string, string | undefined, RegExp][] = [
    ['a or b', undefined, /must start with/],
    ['()', undefined, /empty/],
    ['(a or)', undefined, /missing argument/],
    ['(a or b', undefined, /unterminated/],
    ['(a xor b)', undefined, /unknown rich dependency op 'xor'/],
    ['(a and b or c)', undefined, /cannot chain different ops/],
    ['(a if b if c)', undefined, /can only chain/],
    ['(a without b without c)', undefined, /can only chain/],
    ['(a if b else c else d)', undefined, /can only chain|cannot chain/],
    ['(a >= )', undefined, /version required/],
    ['(a) b', undefined, /after the closing/],
    ['(a unless b)', 'forward', /illegal context for 'unless'/],
    ['(a if b)', 'reverse', /illegal context for 'if'/],
    ['((a if b) or c)', 'forward', /illegal context for 'if'/],
    ['((a and b) with c)', undefined, /illegal ops in with/],
  ];
  for (const [text, ctx, msg] of bad) {
    expectCode(() => parseRichDep(text, ctx as 'forward' | 'reverse' | undefined), 'RICH_DEP_INVALID', msg);
  }
  // The same expressions are fine in the other context.
  parseRichDep('(a unless b)', 'reverse');
  parseRichDep('(a if b)', 'forward');
});

test('sense flags and SOURCERPM parsing', () => {
  assert.equal(senseOp(2), '<');
  assert.equal(senseOp(10), '<=');
  assert.equal(senseOp(8), '=');
  assert.equal(senseOp(12), '>=');
  assert.equal(senseOp(4), '>');
  assert.equal(senseOp(0), undefined);
  assert.equal(senseOp(6), undefined);
  assert.equal(senseOp(0x1000000 | 10), '<=');
  assert.deepEqual(parseSourceRpm('bash-5.2.15-3.fc39.src.rpm'), { name: 'bash', version: '5.2.15-3.fc39' });
  assert.deepEqual(parseSourceRpm('perl-Errno-1.30-450.el9.nosrc.rpm'), { name: 'perl-Errno', version: '1.30-450.el9' });
  assert.equal(parseSourceRpm('nodash.src.rpm'), undefined);
});

// ---------------------------------------------------------------------------------------------

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(parts: Buffer[]): void {
  const len = parts.reduce((a, b) => a + b.length, 0);
  if (len % 4) parts.push(Buffer.alloc(4 - (len % 4)));
}

interface NewcMember {
  name: string;
  mode?: number;
  data?: Buffer;
  ino?: number;
  nlink?: number;
  size?: number;
}

function newc(members: NewcMember[], magic = '070701', trailer = true): Buffer {
  const parts: Buffer[] = [];
  const one = (m: NewcMember) => {
    const data = m.data ?? Buffer.alloc(0);
    const fields = [m.ino ?? 1, m.mode ?? 0o100644, 0, 0, m.nlink ?? 1, 0, m.size ?? data.length, 0, 0, 0, 0, Buffer.byteLength(m.name) + 1, 0];
    parts.push(Buffer.from(magic + fields.map(hex8).join('') + m.name + '\0'));
    pad4(parts);
    parts.push(data);
    pad4(parts);
  };
  members.forEach(one);
  if (trailer) one({ name: 'TRAILER!!!', mode: 0, nlink: 1 });
  return Buffer.concat(parts);
}

async function* chunks(b: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(members: AsyncIterable<CpioMember>, readBodies = true): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const m of members) {
    let s = '';
    if (readBodies) for await (const c of m.body) s += Buffer.from(c).toString();
    out.push([m.header.name ?? `#${m.header.index}`, s]);
  }
  return out;
}

test('cpio: newc and crc members, bodies read or skipped, any chunking', async () => {
  const arch = newc([
    { name: './a', data: Buffer.from('hello') },
    { name: './dir', mode: 0o40755 },
    { name: './b', data: Buffer.from('x'.repeat(1000)) },
  ]);
  for (const size of [1, 3, 7, 4096]) {
    assert.deepEqual(await collect(readCpio(chunks(arch, size))), [
      ['./a', 'hello'],
      ['./dir', ''],
      ['./b', 'x'.repeat(1000)],
    ]);
    assert.deepEqual((await collect(readCpio(chunks(arch, size)), false)).map((x) => x[0]), ['./a', './dir', './b']);
  }
  const crc = newc([{ name: 'c', data: Buffer.from('z') }], '070702');
  const got = [];
  for await (const m of readCpio(chunks(crc))) got.push(m.header.format);
  assert.deepEqual(got, ['crc']);
});

test('cpio: stripped members take their size from the header', async () => {
  const parts: Buffer[] = [];
  const sizes = [3, 0, 5];
  for (const [i, d] of [[2, 'hello'], [0, 'abc'], [1, '']] as [number, string][]) {
    parts.push(Buffer.from('07070X' + hex8(i)));
    pad4(parts);
    parts.push(Buffer.from(d));
    pad4(parts);
  }
  parts.push(newc([], '070701', true));
  const arch = Buffer.concat(parts);
  assert.deepEqual(await collect(readCpio(chunks(arch), { strippedSize: (i) => sizes[i]! })), [
    ['#2', 'hello'],
    ['#0', 'abc'],
    ['#1', ''],
  ]);
  // The stripped trailer (index ffffffff) ends the archive too.
  const st = Buffer.concat([Buffer.from('07070X' + hex8(0)), Buffer.alloc(2), Buffer.from('abc'), Buffer.alloc(1), Buffer.from('07070Xffffffff'), Buffer.alloc(2)]);
  assert.deepEqual(await collect(readCpio(chunks(st), { strippedSize: () => 3 })), [['#0', 'abc']]);
  await expectCodeAsync(() => collect(readCpio(chunks(st))), 'CPIO_INVALID', /outside an RPM payload/);
});

test('cpio: malformed archives are CPIO_INVALID with an offset', async () => {
  const arch = newc([{ name: './a', data: Buffer.from('hello') }]);
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /without a trailer/],
    ['no trailer', newc([{ name: './a', data: Buffer.from('x') }], '070701', false), /without a trailer/],
    ['truncated data', arch.subarray(0, 120), /inside the data|inside padding/],
    ['truncated header', arch.subarray(0, 50), /inside a member header/],
    ['bad magic', Buffer.concat([Buffer.from('070707'), arch.subarray(6)]), /bad member magic/],
    ['bad hex', Buffer.concat([arch.subarray(0, 6), Buffer.from('0000000g'), arch.subarray(14)]), /not 8 hex digits/],
    ['name size 0', Buffer.from(arch.toString('latin1').replace(/^(070701(?:[0-9a-f]{8}){11})00000004/, '$100000000'), 'latin1'), /name size 0/],
    ['name too long', Buffer.from(arch.toString('latin1').replace(/^(070701(?:[0-9a-f]{8}){11})00000004/, '$100001001'), 'latin1'), /name size/],
    ['name without NUL', Buffer.from(arch.toString('latin1').replace('./a\0', './ab'), 'latin1'), /NUL/],
  ];
  for (const [name, bytes, msg] of cases) {
    try {
      await collect(readCpio(chunks(bytes)));
      assert.fail(`${name}: accepted`);
    } catch (e) {
      assert.ok(isIngotError(e, 'CPIO_INVALID'), `${name}: ${String(e)}`);
      assert.match(e.message, msg, name);
      assert.equal(typeof e.data['offset'], 'number');
    }
  }
});

// ---------------------------------------------------------------------------------------------
// A synthetic package with rpm's stripped payload (what rpmbuild writes when a file is ≥ 4 GiB).

function lead(): Buffer {
  const b = Buffer.alloc(96);
  Buffer.from([0xed, 0xab, 0xee, 0xdb, 3, 0]).copy(b);
  b.writeUInt16BE(5, 78);
  return b;
}

function synthetic(opts: { files: { path: string; mode: number; data: string; inode: number; link?: string }[]; payload: (files: { data: string }[]) => Buffer; digest?: (d: string, i: number) => string }): Buffer {
  const dirs = [...new Set(opts.files.map((f) => f.path.slice(0, f.path.lastIndexOf('/') + 1)))];
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const main = buildHeader([
    ...basic,
    { tag: TAG.ARCH, type: T.STRING, value: 'noarch' },
    { tag: TAG.FILEMODES, type: T.INT16, value: opts.files.map((f) => f.mode) },
    { tag: TAG.FILEDIGESTS, type: T.STRING_ARRAY, value: opts.files.map((f, i) => (opts.digest ? opts.digest(f.data, i) : (f.mode & 0o170000) === 0o100000 ? sha(f.data) : '')) },
    { tag: TAG.FILELINKTOS, type: T.STRING_ARRAY, value: opts.files.map((f) => f.link ?? '') },
    { tag: TAG.FILEDEVICES, type: T.INT32, value: opts.files.map(() => 1) },
    { tag: TAG.FILEINODES, type: T.INT32, value: opts.files.map((f) => f.inode) },
    { tag: TAG.SOURCERPM, type: T.STRING, value: 'demo-1.0-1.src.rpm' },
    { tag: TAG.DIRINDEXES, type: T.INT32, value: opts.files.map((f) => dirs.indexOf(f.path.slice(0, f.path.lastIndexOf('/') + 1))) },
    { tag: TAG.BASENAMES, type: T.STRING_ARRAY, value: opts.files.map((f) => f.path.slice(f.path.lastIndexOf('/') + 1)) },
    { tag: TAG.DIRNAMES, type: T.STRING_ARRAY, value: dirs },
    { tag: TAG.FILEDIGESTALGO, type: T.INT32, value: [8] },
    { tag: TAG.LONGFILESIZES, type: T.INT64, value: opts.files.map((f) => BigInt(Buffer.byteLength(f.data))) },
  ]);
  const sig = buildHeader([{ tag: 273, type: T.STRING, value: createHash('sha256').update(main).digest('hex') }], { region: 62 });
  const pad = Buffer.alloc((8 - ((96 + sig.length) % 8)) % 8);
  return Buffer.concat([lead(), sig, pad, main, opts.payload(opts.files)]);
}

function strippedPayload(order: [number, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [i, d] of order) {
    parts.push(Buffer.from('07070X' + hex8(i)));
    pad4(parts);
    parts.push(Buffer.from(d));
    pad4(parts);
  }
  parts.push(newc([]));
  return Buffer.concat(parts);
}

test('a package with a stripped payload: members by index, hardlinks, symlinks, digests', async () => {
  const files = [
    { path: '/usr/bin/tool', mode: 0o100755, data: 'tool', inode: 1 },
    { path: '/usr/lib/x/h1', mode: 0o100644, data: 'same', inode: 2 },
    { path: '/usr/lib/x/h2', mode: 0o100644, data: 'same', inode: 2 },
    { path: '/usr/lib/x/link', mode: 0o120777, data: 'h1', inode: 3, link: 'h1' },
  ];
  // rpm's order: plain files in header order, then each hardlink set with data on its last link.
  const rpm = synthetic({ files, payload: () => strippedPayload([[0, 'tool'], [3, 'h1'], [1, ''], [2, 'same']]) });
  const { head, payload } = await parseRpm(rpm);
  assert.deepEqual(headerDigestChecks(head).map((c) => c.status), ['ok']);
  const pkg = rpmPackage(head.header);
  assert.deepEqual(pkg.files[1]!.hardlinks, [1, 2]);
  // Only a header digest: rpm would refuse to install it (no digest over the payload).
  expectCode(() => assertDigestsPresent(head), 'RPM_INVALID', /no digest over its payload/);
  const seen: [string, string, number][] = [];
  for await (const e of readRpmPayload(head, chunks(payload, 5))) {
    let s = '';
    for await (const c of e.body) s += Buffer.from(c).toString();
    seen.push([e.file.path, s, e.cpio.index!]);
  }
  assert.deepEqual(seen, [
    ['/usr/bin/tool', 'tool', 0],
    ['/usr/lib/x/link', 'h1', 3],
    ['/usr/lib/x/h1', '', 1],
    ['/usr/lib/x/h2', 'same', 2],
  ]);

  const consume = async (bytes: Buffer) => {
    const p = await parseRpm(bytes);
    for await (const e of readRpmPayload(p.head, chunks(p.payload, 5))) void e;
  };
  await expectCodeAsync(() => consume(synthetic({ files, payload: () => strippedPayload([[0, 'tool'], [3, 'h1'], [1, ''], [2, 'SAME']]) })), 'RPM_DIGEST_MISMATCH', /h2/);
  await expectCodeAsync(() => consume(synthetic({ files, payload: () => strippedPayload([[0, 'tool'], [3, 'h2'], [1, ''], [2, 'same']]) })), 'CPIO_INVALID', /stores target 'h2'/);
  await expectCodeAsync(() => consume(synthetic({ files, payload: () => strippedPayload([[0, 'tool'], [3, 'h1'], [2, 'same']]) })), 'CPIO_INVALID', /h1' is missing/);
  await expectCodeAsync(() => consume(synthetic({ files, payload: () => strippedPayload([[0, 'tool'], [0, 'tool']]) })), 'CPIO_INVALID', /twice/);
  await expectCodeAsync(() => consume(synthetic({ files, payload: () => strippedPayload([[7, 'tool']]) })), 'CPIO_INVALID', /file index 7/);
  await expectCodeAsync(() => consume(synthetic({ files, payload: () => Buffer.from('07070X00000000\0\0to') })), 'CPIO_INVALID', /ends inside the data/);
  // A newc member must state the size the header implies.
  await expectCodeAsync(
    () => consume(synthetic({ files: files.slice(0, 1), payload: () => newc([{ name: './usr/bin/tool', data: Buffer.from('tool'), size: 3 }]) })),
    'CPIO_INVALID',
    /stores 3 bytes/,
  );
  await expectCodeAsync(
    () => consume(synthetic({ files: files.slice(0, 1), payload: () => newc([{ name: './usr/bin/other', data: Buffer.from('tool') }]) })),
    'CPIO_INVALID',
    /not a file of the package/,
  );
  // A bad header digest is reported as such.
  const tampered = Buffer.from(rpm);
  tampered[tampered.indexOf('noarch')] = 0x4e;
  const t = await parseRpm(tampered);
  assert.equal(rpmPackage(t.head.header).arch, 'Noarch');
  assert.deepEqual(headerDigestChecks(t.head).map((c) => c.status), ['bad']);
});
