/**
 * Version ordering with known answers: rpm's own test tables (tests/rpmvercmp.at,
 * tests/rpmdepmatch.at of rpm 4.18), the cases in specs/package-formats.md §4, dpkg's parsing
 * rules with its messages, Debian relations, and order properties on random strings. The
 * differential tests against the real tools are in test/interop/vercmp.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  compareRpmEvr,
  compareRpmEvrStrings,
  formatRpmEvr,
  parseRpmEvr,
  rpmDep,
  rpmDepsOverlap,
  rpmEvrOverlap,
  rpmOpFromSense,
  rpmSenseFromOp,
  rpmvercmp,
  RPMSENSE_EQUAL,
  RPMSENSE_GREATER,
  RPMSENSE_LESS,
} from '../../src/codecs/version/rpm.js';
import {
  checkDebVersion,
  compareDebVersions,
  compareDebVersionStrings,
  debRelationSatisfied,
  dpkgCompareVersions,
  formatDebVersion,
  parseDebVersion,
  verrevcmp,
} from '../../src/codecs/version/deb.js';
import { vercmp } from '../../src/codecs/version/index.js';
import { isIngotError } from '../../src/core/errors.js';

/** -x without -0, which strict equality tells from 0. */
const neg = (x: number): number => (x === 0 ? 0 : -x);

// rpm 4.18 tests/rpmvercmp.at, every case: rpm.vercmp(a, b) = result.
const RPMVERCMP_AT: [string, string, number][] = [
  ['1.0', '1.0', 0], ['1.0', '2.0', -1], ['2.0', '1.0', 1],
  ['2.0.1', '2.0.1', 0], ['2.0', '2.0.1', -1], ['2.0.1', '2.0', 1],
  ['2.0.1a', '2.0.1a', 0], ['2.0.1a', '2.0.1', 1], ['2.0.1', '2.0.1a', -1],
  ['5.5p1', '5.5p1', 0], ['5.5p1', '5.5p2', -1], ['5.5p2', '5.5p1', 1],
  ['5.5p10', '5.5p10', 0], ['5.5p1', '5.5p10', -1], ['5.5p10', '5.5p1', 1],
  ['10xyz', '10.1xyz', -1], ['10.1xyz', '10xyz', 1],
  ['xyz10', 'xyz10', 0], ['xyz10', 'xyz10.1', -1], ['xyz10.1', 'xyz10', 1],
  ['xyz.4', 'xyz.4', 0], ['xyz.4', '8', -1], ['8', 'xyz.4', 1], ['xyz.4', '2', -1], ['2', 'xyz.4', 1],
  ['5.5p2', '5.6p1', -1], ['5.6p1', '5.5p2', 1],
  ['5.6p1', '6.5p1', -1], ['6.5p1', '5.6p1', 1],
  ['6.0.rc1', '6.0', 1], ['6.0', '6.0.rc1', -1],
  ['10b2', '10a1', 1], ['10a2', '10b2', -1],
  ['1.0aa', '1.0aa', 0], ['1.0a', '1.0aa', -1], ['1.0aa', '1.0a', 1],
  ['10.0001', '10.0001', 0], ['10.0001', '10.1', 0], ['10.1', '10.0001', 0], ['10.0001', '10.0039', -1], ['10.0039', '10.0001', 1],
  ['4.999.9', '5.0', -1], ['5.0', '4.999.9', 1],
  ['20101121', '20101121', 0], ['20101121', '20101122', -1], ['20101122', '20101121', 1],
  ['2_0', '2_0', 0], ['2.0', '2_0', 0], ['2_0', '2.0', 0],
  ['a', 'a', 0], ['a+', 'a+', 0], ['a+', 'a_', 0], ['a_', 'a+', 0], ['+a', '+a', 0], ['+a', '_a', 0], ['_a', '+a', 0],
  ['+_', '+_', 0], ['_+', '+_', 0], ['_+', '_+', 0], ['+', '_', 0], ['_', '+', 0],
  ['1.0~rc1', '1.0~rc1', 0], ['1.0~rc1', '1.0', -1], ['1.0', '1.0~rc1', 1], ['1.0~rc1', '1.0~rc2', -1], ['1.0~rc2', '1.0~rc1', 1],
  ['1.0~rc1~git123', '1.0~rc1~git123', 0], ['1.0~rc1~git123', '1.0~rc1', -1], ['1.0~rc1', '1.0~rc1~git123', 1],
  ['1.0^', '1.0^', 0], ['1.0^', '1.0', 1], ['1.0', '1.0^', -1], ['1.0^git1', '1.0^git1', 0], ['1.0^git1', '1.0', 1], ['1.0', '1.0^git1', -1],
  ['1.0^git1', '1.0^git2', -1], ['1.0^git2', '1.0^git1', 1], ['1.0^git1', '1.01', -1], ['1.01', '1.0^git1', 1],
  ['1.0^20160101', '1.0^20160101', 0], ['1.0^20160101', '1.0.1', -1], ['1.0.1', '1.0^20160101', 1],
  ['1.0^20160101^git1', '1.0^20160101^git1', 0], ['1.0^20160102', '1.0^20160101^git1', 1], ['1.0^20160101^git1', '1.0^20160102', -1],
  ['1.0~rc1^git1', '1.0~rc1^git1', 0], ['1.0~rc1^git1', '1.0~rc1', 1], ['1.0~rc1', '1.0~rc1^git1', -1],
  ['1.0^git1~pre', '1.0^git1~pre', 0], ['1.0^git1', '1.0^git1~pre', 1], ['1.0^git1~pre', '1.0^git1', -1],
];

// specs/package-formats.md §4.1 and §4.2, plus numbers beyond 2^64 and odd separators.
const RPM_MORE: [string, string, number][] = [
  ['1.0', '1.0~rc1', 1], ['1.0~~', '1.0~', -1], ['1.0^git1', '1.0~rc1', 1], ['2.0-1.el8', '2.0-1.el8_1', -1], ['a', '1', -1],
  ['1.0', '1.0.0', -1], ['1.0', '1.0a', -1], ['1.0a', '1.0.1', -1], ['1.01', '1.1', 0], ['1..0', '1.0', 0], ['1.0_1', '1.0.1', 0],
  ['A', 'a', -1], ['Z', 'a', -1], ['18446744073709551616', '18446744073709551615', 1], ['000018446744073709551616', '18446744073709551616', 0],
  ['99999999999999999999999999', '100000000000000000000000000', -1], ['1.0\u00e9', '1.0', 0], ['1.0 2', '1.0.2', 0],
  // rpmvercmp.at's commented-out "oddities", as rpm 4.18 answers them.
  ['1b.fc17', '1.fc17', -1], ['1g.fc17', '1.fc17', 1], ['1.1.\u03b1', '1.1.\u03b2', 0], ['1.1.\u03b1\u03b1', '1.1.\u03b1', 0],
  ['~', '', -1], ['^', '', 1], ['~', '^', -1], ['1~', '1^', -1], ['1^~', '1^', -1], ['', '', 0], ['.', '', 0], ['1.0\u0000x', '1.0', 0],
];

test('rpmvercmp: rpm\'s own table and the spec\'s cases', () => {
  for (const [a, b, want] of [...RPMVERCMP_AT, ...RPM_MORE]) {
    assert.equal(rpmvercmp(a, b), want, `rpmvercmp(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
    assert.equal(rpmvercmp(b, a), neg(want), `rpmvercmp(${JSON.stringify(b)}, ${JSON.stringify(a)})`);
  }
  for (const [a, b, want] of RPMVERCMP_AT) assert.equal(compareRpmEvrStrings(a, b), want, `rpm.vercmp(${a}, ${b})`);
});

test('parseRpmEvr splits like rpmverParse', () => {
  const cases: [string, string | null, string, string | null][] = [
    ['1.0', null, '1.0', null],
    ['1:2.3-4.fc40', '1', '2.3', '4.fc40'],
    [':1.0', '0', '1.0', null],
    ['00:1.0', '00', '1.0', null],
    ['1.0-', null, '1.0', ''],
    ['1-2-3', null, '1-2', '3'],
    ['a:1', null, 'a:1', null],
    ['1a:1', null, '1a:1', null],
    ['1:2:3-4', '1', '2:3', '4'],
    ['-1', null, '', '1'],
    ['1:', '1', '', null],
    [':', '0', '', null],
    ['18446744073709551616:1', '18446744073709551616', '1', null],
  ];
  for (const [s, epoch, version, release] of cases) {
    assert.deepEqual(parseRpmEvr(s), { epoch, version, release }, s);
  }
  assert.equal(formatRpmEvr(parseRpmEvr('1:2.3-4')), '1:2.3-4');
  assert.equal(formatRpmEvr(parseRpmEvr('2.3')), '2.3');
  assert.throws(() => parseRpmEvr(''), (e) => isIngotError(e, 'VERSION_INVALID'));
});

test('EVR order: epoch 0 by default, a missing release sorts first (rpm.vercmp)', () => {
  const cases: [string, string, number][] = [
    ['1:1.0', '2.0', 1], // spec §4.2, checked with rpm 4.18
    ['0:1.0', '1.0', 0],
    [':1.0', '1.0', 0],
    ['00:1', '1', 0],
    ['10:1', '9:2', 1],
    ['18446744073709551616:1', '18446744073709551615:2', 1],
    ['1.0', '1.0-0', -1],
    ['1.0', '1.0-1', -1],
    ['1.0-', '1.0', 1], // an empty release is still a release
    ['1.0-', '1.0-0', -1],
    ['1:1.0-1', '1:1.0', 1],
    ['2.0-1.el8', '2.0-1.el8_1', -1],
    ['1.0~rc1-5', '1.0-1', -1],
    ['-1', '0', -1],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(compareRpmEvrStrings(a, b), want, `${a} vs ${b}`);
    assert.equal(compareRpmEvrStrings(b, a), neg(want), `${b} vs ${a}`);
  }
  assert.equal(compareRpmEvr({ epoch: null, version: '1', release: null }, { epoch: '0', version: '1', release: null }), 0);
  assert.throws(() => compareRpmEvrStrings('', '1'), (e) => isIngotError(e, 'VERSION_INVALID'));
});

// rpm 4.18 tests/rpmdepmatch.at, every case: (provide, require, match).
type D = [string, string?, string?];
const RPMDEPMATCH_AT: [D, D, number][] = [
  [['b'], ['a'], 0], [['b'], ['a', '=', '1.2'], 0], [['b'], ['a', '>=', '1.2'], 0], [['b'], ['a', '<=', '1.2'], 0],
  [['b'], ['a', '<', '1.2'], 0], [['b'], ['a', '>', '1.2'], 0], [['b'], ['a', '<>', '1.2'], 0],
  [['a'], ['a'], 1], [['a'], ['a', '=', '1.2'], 1], [['a'], ['a', '>=', '1.2'], 1], [['a'], ['a', '<=', '1.2'], 1],
  [['a'], ['a', '<', '1.2'], 1], [['a'], ['a', '>', '1.2'], 1], [['a'], ['a', '<>', '1.2'], 1],
  [['a', '=', '1.2'], ['a'], 1], [['a', '<', '1.2'], ['a'], 1], [['a', '>', '1.2'], ['a'], 1], [['a', '<=', '1.2'], ['a'], 1],
  [['a', '>=', '1.2'], ['a'], 1], [['a', '<>', '1.2'], ['a'], 1],
  ...table(['a', '=', '1.2'], '1.2', [1, 1, 1, 0, 0, 0]),
  ...table(['a', '=', '1.2'], '1.3', [0, 0, 1, 1, 0, 1]),
  ...table(['a', '=', '1.2-1'], '1.2-1', [1, 1, 1, 0, 0, 0]),
  ...table(['a', '=', '1.2-1'], '1.2-2', [0, 0, 1, 1, 0, 1]),
  ...table(['a', '=', '1.3-1'], '1.2-2', [0, 1, 0, 0, 1, 1]),
  ...table(['a', '=', '0:1.2'], '1.2', [1, 1, 1, 0, 0, 0]),
  ...table(['a', '=', '1.2'], '0:1.2', [1, 1, 1, 0, 0, 0]),
  ...table(['a', '=', '1:1.2'], '1.2', [0, 1, 0, 0, 1, 1]),
  ...table(['a', '=', '1.2'], '1:1.2', [0, 0, 1, 1, 0, 1]),
  ...table(['a', '=', '2:1.2'], '2:1.2', [1, 1, 1, 0, 0, 0]),
  ...table(['a', '>', '1.2'], '1.2', [0, 1, 0, 0, 1, 1]),
  ...table(['a', '<', '1.2'], '1.2', [0, 0, 1, 1, 0, 1]),
  ...table(['a', '>=', '1.2'], '1.2', [1, 1, 1, 0, 1, 1]),
  ...table(['a', '<=', '1.2'], '1.2', [1, 1, 1, 1, 0, 1]),
  ...table(['a', '<>', '1.2'], '1.2', [0, 1, 1, 1, 1, 1]),
  // A missing release is "any release will do", except where the range says otherwise.
  ...table(['a', '=', '1.2-1'], '1.2', [1, 1, 1, 0, 0, 0]),
  ...table(['a', '>', '1.2-1'], '1.2', [1, 1, 1, 0, 1, 1]),
  ...table(['a', '<', '1.2-1'], '1.2', [1, 1, 1, 1, 0, 1]),
  ...table(['a', '>=', '1.2-1'], '1.2', [1, 1, 1, 0, 1, 1]),
  ...table(['a', '<=', '1.2-1'], '1.2', [1, 1, 1, 1, 0, 1]),
  ...table(['a', '<>', '1.2-1'], '1.2', [1, 1, 1, 1, 1, 1]),
  ...table(['a', '=', '1.2'], '1.2-1', [1, 1, 1, 1, 1, 1]),
  ...table(['a', '>', '1.2'], '1.2-1', [0, 1, 0, 0, 1, 1]),
  ...table(['a', '<', '1.2'], '1.2-1', [0, 0, 1, 1, 0, 1]),
  ...table(['a', '>=', '1.2'], '1.2-1', [1, 1, 1, 1, 1, 1]),
  ...table(['a', '<=', '1.2'], '1.2-1', [1, 1, 1, 1, 1, 1]),
  ...table(['a', '<>', '1.2'], '1.2-1', [0, 1, 1, 1, 1, 1]),
];

/** One provide against the requires `=`, `>=`, `<=`, `<`, `>`, `<>` of one EVR, as rpm's table lists them. */
function table(provide: D, evr: string, results: number[]): [D, D, number][] {
  return ['=', '>=', '<=', '<', '>', '<>'].map((op, i): [D, D, number] => [provide, ['a', op, evr], results[i]!]);
}

test("dependency matching: rpm's rpmdepmatch table (rpmdsCompare)", () => {
  assert.equal(RPMDEPMATCH_AT.length, 182);
  for (const [p, r, want] of RPMDEPMATCH_AT) {
    const provide = rpmDep(...p);
    const require = rpmDep(...r);
    assert.equal(rpmDepsOverlap(provide, require), want === 1, `provide ${p.join(' ')} / require ${r.join(' ')}`);
    assert.equal(rpmDepsOverlap(require, provide), want === 1, `symmetric: ${p.join(' ')} / ${r.join(' ')}`);
  }
});

test('dependency matching: releases, epochs, tilde and caret', () => {
  const m = (p: D, r: D): boolean => rpmDepsOverlap(rpmDep(...p), rpmDep(...r));
  // A require without a release is met by any release of that version...
  assert.equal(m(['foo', '=', '1.0-5'], ['foo', '>=', '1.0']), true);
  assert.equal(m(['foo', '=', '1.0-5'], ['foo', '=', '1.0']), true);
  assert.equal(m(['foo', '=', '1.0-5'], ['foo', '<=', '1.0']), true);
  assert.equal(m(['foo', '=', '1.0-5'], ['foo', '<', '1.0']), false);
  assert.equal(m(['foo', '=', '1.0-5'], ['foo', '>', '1.0']), false);
  // ...an empty release counts as none...
  assert.equal(m(['foo', '=', '1.0-'], ['foo', '=', '1.0-3']), true);
  // ...and versions still decide first.
  assert.equal(m(['foo', '=', '1.1-5'], ['foo', '=', '1.0']), false);
  // specs §4.2: an installed 1.0~rc1 does not satisfy >= 1.0; 1.0^git1 does.
  assert.equal(m(['libfoo', '=', '1.0~rc1-1'], ['libfoo', '>=', '1.0']), false);
  assert.equal(m(['bar', '=', '1.0^git20240101-1'], ['bar', '>=', '1.0']), true);
  assert.equal(m(['bar', '=', '1.0^git20240101-1'], ['bar', '<', '1.0.1']), true);
  // Epochs: compared when both sides have one; otherwise a non-zero epoch wins.
  assert.equal(m(['foo', '=', '1:1.0-1'], ['foo', '>=', '2.0']), true);
  assert.equal(m(['foo', '=', '1.0-1'], ['foo', '<', '1:0.5']), true);
  assert.equal(m(['foo', '=', '0:1.0-1'], ['foo', '=', '1.0']), true);
  assert.equal(m(['foo', '=', '00:1.0'], ['foo', '=', '1.0']), true);
  assert.equal(m(['foo', '=', ':1.0'], ['foo', '=', '1.0']), true);
  assert.equal(m(['foo', '=', '2:1.0'], ['foo', '<', '10:0.1']), true);
  assert.equal(m(['foo', '=', '10:1.0'], ['foo', '<', '9:5']), false);
  // Unversioned or empty-EVR entries match every version; different names never match.
  assert.equal(m(['foo', '=', ''], ['foo', '<', '1']), true);
  assert.equal(m(['foo'], ['foo', '<', '1']), true);
  assert.equal(m(['foo', '=', '1'], ['Foo', '=', '1']), false);
  // The direct range test, with flags.
  const v = parseRpmEvr;
  assert.equal(rpmEvrOverlap(v('1.0'), RPMSENSE_LESS, v('1.0'), RPMSENSE_LESS), true);
  assert.equal(rpmEvrOverlap(v('1.0'), RPMSENSE_LESS, v('1.0'), RPMSENSE_GREATER | RPMSENSE_EQUAL), false);
  assert.equal(rpmEvrOverlap(v('1.0'), RPMSENSE_LESS, v('0.9'), RPMSENSE_GREATER), true);
});

test('rpm operators', () => {
  assert.equal(rpmSenseFromOp(''), 0);
  assert.equal(rpmSenseFromOp('<'), RPMSENSE_LESS);
  assert.equal(rpmSenseFromOp('<='), RPMSENSE_LESS | RPMSENSE_EQUAL);
  assert.equal(rpmSenseFromOp('=<'), RPMSENSE_LESS | RPMSENSE_EQUAL);
  assert.equal(rpmSenseFromOp('=='), RPMSENSE_EQUAL);
  assert.equal(rpmSenseFromOp('=>'), RPMSENSE_GREATER | RPMSENSE_EQUAL);
  assert.equal(rpmSenseFromOp('<>'), RPMSENSE_LESS | RPMSENSE_GREATER);
  assert.equal(rpmOpFromSense(RPMSENSE_GREATER | RPMSENSE_EQUAL), '>=');
  assert.equal(rpmOpFromSense(0), '');
  for (const bad of ['!=', '~>', ' ', 'lt']) {
    assert.throws(() => rpmSenseFromOp(bad), (e) => isIngotError(e, 'VERSION_RELATION_INVALID'), bad);
  }
});

test('checkDebVersion: dpkg parseversion errors, warnings and fields', () => {
  const ok: [string, number, string, string][] = [
    ['1.0', 0, '1.0', ''],
    ['1:2.36-9+deb12u4', 1, '2.36', '9+deb12u4'],
    ['1:1.0:2', 1, '1.0:2', ''],
    ['1.0-2-3', 0, '1.0-2', '3'],
    [' 1.0 ', 0, '1.0', ''],
    ['\t1.0\t', 0, '1.0', ''],
    ['+1:1.0', 1, '1.0', ''], // strtol takes a sign
    ['-0:1.0', 0, '1.0', ''],
    ['00:1', 0, '1', ''],
    ['2147483647:1', 2147483647, '1', ''],
    ['\u000b1:2', 1, '2', ''], // strtol skips all of isspace, the trimming only blanks
    ['1.0~rc1-0ubuntu1~22.04', 0, '1.0~rc1', '0ubuntu1~22.04'],
  ];
  for (const [s, epoch, upstream, revision] of ok) {
    const r = checkDebVersion(s);
    assert.deepEqual(r, { ok: true, version: { epoch, upstream, revision } }, s);
  }
  const warn: [string, string][] = [
    ['a1', 'version number does not start with digit'],
    ['~1', 'version number does not start with digit'],
    ['1.0_1', 'invalid character in version number'],
    ['1.0\u00e9', 'invalid character in version number'],
    ['1.0-1_2', 'invalid character in revision number'],
    ['1:1.0-1:2', 'invalid character in revision number'],
    ['1.0\r', 'invalid character in version number'],
  ];
  for (const [s, warning] of warn) {
    const r = checkDebVersion(s);
    assert.ok(r.ok && r.warning === warning, `${JSON.stringify(s)}: ${JSON.stringify(r)}`);
    assert.throws(() => parseDebVersion(s, { strict: true }), (e) => isIngotError(e, 'VERSION_INVALID'));
    assert.doesNotThrow(() => parseDebVersion(s));
  }
  const errors: [string, string][] = [
    ['', 'version string is empty'],
    ['  ', 'version string is empty'],
    ['1.0 1', 'version string has embedded spaces'],
    [':1.0', 'epoch in version is empty'],
    ['a:1.0', 'epoch in version is empty'],
    ['+:1.0', 'epoch in version is empty'],
    ['1a:1.0', 'epoch in version is not number'],
    ['1.0:2', 'epoch in version is not number'],
    ['1.0-1:2', 'epoch in version is not number'], // the first ':' is taken as the end of an epoch
    ['-1:1.0', 'epoch in version is negative'],
    ['-99999999999999999999:1', 'epoch in version is negative'],
    ['2147483648:1', 'epoch in version is too big'],
    ['99999999999999999999:1', 'epoch in version is too big'],
    ['1:', 'nothing after colon in version number'],
    ['1.0-', 'revision number is empty'],
    ['1:-1', 'version number is empty'],
    ['-1', 'version number is empty'],
    ['1: ', 'version number is empty'],
  ];
  for (const [s, error] of errors) {
    assert.deepEqual(checkDebVersion(s), { ok: false, error }, JSON.stringify(s));
    assert.throws(() => parseDebVersion(s), (e) => isIngotError(e, 'VERSION_INVALID') && e.data['reason'] === error);
  }
  assert.equal(formatDebVersion(parseDebVersion('0:1.0-1')), '1.0-1');
  assert.equal(formatDebVersion(parseDebVersion('3:1.0')), '3:1.0');
});

test('dpkg order: the spec\'s examples, tilde, letters before punctuation', () => {
  const cases: [string, string, number][] = [
    ['1.0~rc1', '1.0', -1], ['1.0a', '1.0+', -1], ['1.0+b1', '1.0', 1], ['1.0.0', '1.0', 1], ['1.0a', '1.0.1', -1],
    ['2.30-1+deb12u1', '2.30-1', 1], ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12', -1], ['1.0', '1.0-0', 0], ['1.0-00', '1.0', 0],
    ['1:0.1', '2.0', 1], ['00:1', '1', 0], ['1.0~~', '1.0~', -1], ['1.0~', '1.0', -1], ['1.0~~a', '1.0~~', 1],
    ['1.01', '1.1', 0], ['1.0', '1.00', 0], ['1.10', '1.9', 1], ['A', 'a', -1], ['Z', 'a', -1], ['a', '.', -1],
    ['18446744073709551616', '18446744073709551615', 1], ['1.0000000000000000000000001', '1.1', 0],
    ['1.0-1', '1.0-1.0', -1], ['1.0', '1.0.', -1], ['1.0.', '1.0+', 1], ['1+', '1.', -1],
    // Non-ASCII: dpkg reads bytes as signed char, so they sit between letters and ASCII punctuation.
    ['1.0\u00e9', '1.0z', 1], ['1.0\u00e9', '1.0.', -1], ['1.0\u00e9', '1.0\u00ea', -1], ['1.0\u{1f600}', '1.0\ue000', 1],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(compareDebVersionStrings(a, b), want, `${a} vs ${b}`);
    assert.equal(compareDebVersionStrings(b, a), neg(want), `${b} vs ${a}`);
  }
  // dpkg's lib/dpkg/t/t-version.c
  const v = (epoch: number, upstream: string, revision: string) => ({ epoch, upstream, revision });
  assert.equal(compareDebVersions(v(0, '0', '00'), v(0, '00', '0')), 0);
  assert.equal(compareDebVersions(v(0, '0', '0'), v(1, '0', '0')), -1);
  assert.equal(compareDebVersions(v(0, 'a', '0'), v(0, 'b', '0')), -1);
  assert.equal(compareDebVersions(v(0, '0', 'a'), v(0, '0', 'b')), -1);
  assert.equal(verrevcmp('', ''), 0);
  assert.equal(verrevcmp('~', ''), -1);
  assert.equal(verrevcmp('', '0'), 0);
});

test('Debian relations, the obsolete < and > included', () => {
  const rels: [string, [boolean, boolean, boolean]][] = [
    // [a < b, a = b, a > b]
    ['<<', [true, false, false]],
    ['<=', [true, true, false]],
    ['<', [true, true, false]],
    ['=', [false, true, false]],
    ['>=', [false, true, true]],
    ['>', [false, true, true]],
    ['>>', [false, false, true]],
  ];
  for (const [rel, [lt, eq, gt]] of rels) {
    assert.equal(debRelationSatisfied('1.0~rc1', rel, '1.0'), lt, `1.0~rc1 ${rel} 1.0`);
    assert.equal(debRelationSatisfied('1.0', rel, '1.0-0'), eq, `1.0 ${rel} 1.0-0`);
    assert.equal(debRelationSatisfied('1:0.1', rel, '2.0'), gt, `1:0.1 ${rel} 2.0`);
  }
  assert.equal(debRelationSatisfied(parseDebVersion('2.36-9+deb12u4'), '>=', parseDebVersion('2.36-9')), true);
  assert.throws(() => debRelationSatisfied('1', '!=', '2'), (e) => isIngotError(e, 'VERSION_RELATION_INVALID'));
  assert.throws(() => debRelationSatisfied('1.0-', '=', '2'), (e) => isIngotError(e, 'VERSION_INVALID'));
});

test('dpkg --compare-versions semantics: no version sorts first; vercmp maps to symbols', () => {
  assert.equal(dpkgCompareVersions('', '0'), -1);
  assert.equal(dpkgCompareVersions('<unknown>', ''), 0);
  assert.equal(dpkgCompareVersions('0', '<unknown>'), 1);
  assert.throws(() => dpkgCompareVersions(' ', '1'), (e) => isIngotError(e, 'VERSION_INVALID'));
  assert.equal(vercmp('deb', 'a1', '1.0'), '>');
  assert.equal(vercmp('deb', '1.0', '1.0-0'), '=');
  assert.equal(vercmp('rpm', '1.0', '1.0-0'), '<');
  assert.equal(vercmp('rpm', '1.0~rc1', '1.0'), '<');
  assert.throws(() => vercmp('rpm', '', '1'), (e) => isIngotError(e, 'VERSION_INVALID'));
});

const versionish = fc.stringMatching(/^[0-9a-zA-Z.~^+_:-]{0,12}$/);

test('both orders are total preorders on arbitrary strings (antisymmetric, transitive)', () => {
  const props: [string, (a: string, b: string) => number][] = [
    ['rpmvercmp', rpmvercmp],
    ['rpm EVR', (a, b) => compareRpmEvr(parseRpmEvr('1' + a), parseRpmEvr('1' + b))],
    ['verrevcmp', verrevcmp],
  ];
  for (const [name, cmp] of props) {
    fc.assert(
      fc.property(versionish, versionish, versionish, (a, b, c) => {
        assert.equal(cmp(a, a), 0, name);
        assert.equal(cmp(a, b), neg(cmp(b, a)), name);
        const sorted = [a, b, c].sort(cmp);
        assert.ok(cmp(sorted[0]!, sorted[2]!) <= 0, `${name}: ${JSON.stringify(sorted)}`);
      }),
      { numRuns: 3000 },
    );
  }
});
