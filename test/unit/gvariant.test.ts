import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serialize, parse, isNormalForm, parseType, printValue, parseText, type GValue } from '../../src/codecs/gvariant/index.js';
import { isIngotError } from '../../src/core/errors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('spec example: the empty dirtree is one zero byte', () => {
  assert.equal(hex(serialize('(a(say)a(sayay))', [[], []])), '00');
});

test('dirtree with one file matches the spec hex layout', () => {
  const c = Buffer.from('30b06164'.padEnd(64, '0'), 'hex');
  const b = serialize('(a(say)a(sayay))', [[['b.txt', c]], []]);
  assert.equal(b.length, 41);
  assert.equal(hex(b.subarray(0, 6)), '622e74787400');
  assert.equal(b[38], 0x06); // (say) table: end of s
  assert.equal(b[39], 0x27); // a(say) table: element ends at 39
  assert.equal(b[40], 0x28); // struct table: member 0 ends at 40
  assert.deepEqual(parse('(a(say)a(sayay))', b), [[['b.txt', c]], []]);
});

test('variant, maybe and framing widths', () => {
  assert.equal(hex(serialize('ms', ['x'])), '780000');
  assert.equal(hex(serialize('mu', [7])), '07000000');
  assert.equal(hex(serialize('v', { type: 's', value: 'a' })), '61000073');
  assert.equal(hex(serialize('()', [])), '00');
  assert.equal(hex(serialize('(ty)', [2n, 1])), '02000000000000000100000000000000');
  // 300 strings of 1 char: body 600 bytes > 0xff -> 2-byte offsets
  const big = serialize('as', Array.from({ length: 300 }, () => 'a'));
  assert.equal(big.length, 600 + 600);
  assert.ok(isNormalForm('as', big));
});

test('non-normal and malformed data is rejected with a code and an offset', () => {
  // string without terminator
  assert.throws(() => parse('s', Buffer.from('abc')), (e) => isIngotError(e, 'GVARIANT_INVALID'));
  // array framing offset out of range
  assert.throws(() => parse('as', Buffer.from([0x61, 0x00, 0x09])), (e) => isIngotError(e, 'GVARIANT_INVALID'));
  // wrong fixed size
  assert.throws(() => parse('(uu)', Buffer.alloc(7)), (e) => isIngotError(e, 'GVARIANT_INVALID'));
  // wider offsets than needed are not normal form
  const normal = serialize('as', ['a', 'bc']);
  assert.ok(isNormalForm('as', normal));
  assert.ok(!isNormalForm('as', Buffer.concat([normal, Buffer.from([0])])));
});

// Arbitrary types (bounded depth) and values for them.
const typeArb: fc.Arbitrary<string> = fc.letrec((tie) => ({
  basic: fc.constantFrom('y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 's', 'o', 'g'),
  type: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('basic') as fc.Arbitrary<string>,
    tie('basic') as fc.Arbitrary<string>,
    fc.constant('v'),
    (tie('type') as fc.Arbitrary<string>).map((t) => `a${t}`),
    (tie('type') as fc.Arbitrary<string>).map((t) => `m${t}`),
    fc.array(tie('type') as fc.Arbitrary<string>, { maxLength: 4 }).map((ts) => `(${ts.join('')})`),
    fc.tuple(tie('basic') as fc.Arbitrary<string>, tie('type') as fc.Arbitrary<string>).map(([k, v]) => `a{${k}${v}}`),
  ),
})).type;

function valueArb(t: string, depth = 0): fc.Arbitrary<GValue> {
  const gt = parseType(t);
  const str = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0'));
  switch (gt.kind) {
    case 'basic':
      switch (gt.code) {
        case 'y':
          return fc.integer({ min: 0, max: 255 });
        case 'b':
          return fc.boolean();
        case 'n':
          return fc.integer({ min: -32768, max: 32767 });
        case 'q':
          return fc.integer({ min: 0, max: 65535 });
        case 'i':
        case 'h':
          return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
        case 'u':
          return fc.integer({ min: 0, max: 2 ** 32 - 1 });
        case 'x':
          return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
        case 't':
          return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
        case 'd':
          return fc.double({ noNaN: true });
        default:
          return str;
      }
    case 'variant':
      return depth > 2 ? fc.constant({ type: 's', value: 'leaf' }) : fc.constantFrom('s', 'u', 'as', '(ty)', 'a{sv}').chain((it) => valueArb(it, depth + 1).map((v) => ({ type: it, value: v })));
    case 'maybe':
      return fc.oneof(fc.constant([] as GValue[]), valueArb(gt.elem.str, depth + 1).map((v) => [v]));
    case 'array':
      if (gt.elem.kind === 'basic' && gt.elem.code === 'y') return fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
      return fc.array(valueArb(gt.elem.str, depth + 1), { maxLength: 5 });
    case 'tuple':
      return fc.tuple(...gt.members.map((m) => valueArb(m.str, depth + 1))) as fc.Arbitrary<GValue>;
  }
}

test('property: parse(serialize(x)) = x and output is normal form', () => {
  fc.assert(
    fc.property(
      typeArb.chain((t) => valueArb(t).map((v) => [t, v] as const)),
      ([t, v]) => {
        const bytes = serialize(t, v);
        const back = parse(t, bytes);
        assert.deepEqual(normalizeForCompare(back), normalizeForCompare(v));
        assert.ok(isNormalForm(t, bytes), `not normal form for ${t}`);
      },
    ),
    { numRuns: 3000 },
  );
});

test('property: random bytes never crash the parser (only GVARIANT_INVALID)', () => {
  fc.assert(
    fc.property(typeArb, fc.uint8Array({ maxLength: 64 }), (t, bytes) => {
      try {
        parse(t, Buffer.from(bytes));
      } catch (e) {
        assert.ok(isIngotError(e, 'GVARIANT_INVALID'), `unexpected ${String(e)}`);
      }
    }),
    { numRuns: 5000 },
  );
});

test('text format: print and parse', () => {
  assert.equal(printValue('a{sv}', [['version', { type: 's', value: '1.0' }]]), "{'version': <'1.0'>}");
  assert.equal(printValue('as', []), '@as []');
  assert.deepEqual(parseText("'hello'"), { type: 's', value: 'hello' });
  assert.deepEqual(parseText('uint64 5'), { type: 't', value: 5n });
  assert.deepEqual(parseText('42'), { type: 'i', value: 42 });
  assert.deepEqual(parseText("['a', 'b']"), { type: 'as', value: ['a', 'b'] });
  assert.deepEqual(parseText('true'), { type: 'b', value: true });
  assert.deepEqual(parseText('@as []'), { type: 'as', value: [] });
  assert.throws(() => parseText('[1, '), (e) => isIngotError(e, 'INVALID_ARGUMENT'));
});

function normalizeForCompare(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(normalizeForCompare);
  if (typeof v === 'number' && Object.is(v, -0)) return 0;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeForCompare(x)]));
  return v;
}
