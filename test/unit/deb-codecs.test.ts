/**
 * Table tests for the pieces of the Debian reader: ar headers, tar numbers and member names,
 * debian-binary, deb822 stanzas, relations, the control checks, and the decompressors
 * (round trips through the real compressors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIngotError } from '../../src/core/errors.js';
import { parseArHeader, readAr } from '../../src/codecs/archive/ar.js';
import { normalizeMemberName, parseTarNumber } from '../../src/codecs/archive/tar.js';
import { formatRelations, parseConffiles, parseDeb822, parseDebControl, parseMd5sums, parseRelations } from '../../src/codecs/deb/control.js';
import { parseDebianBinary } from '../../src/codecs/deb/deb.js';
import { decompress } from '../../src/codecs/deb/decompress.js';
import { compressWith } from '../fixtures/deb/helpers.js';

function throwsCode(f: () => unknown, code: string, re?: RegExp): void {
  try {
    f();
  } catch (e) {
    assert.ok(isIngotError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.fail(`expected ${code}`);
}

function hdr(name: string, size: string, term = '`\n'): Uint8Array {
  return Buffer.from(`${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${size.padEnd(10)}${term}`, 'latin1');
}

test('ar headers: names normalised as dpkg does, sizes read strictly', () => {
  assert.equal(parseArHeader(hdr('data.tar.xz', '12'), 8).name, 'data.tar.xz');
  assert.equal(parseArHeader(hdr('debian-binary/', '4'), 8).name, 'debian-binary');
  assert.equal(parseArHeader(hdr('x', '  42  '), 8).size, 42);
  assert.equal(parseArHeader(hdr('x', ''), 8).size, 0);
  throwsCode(() => parseArHeader(hdr('x', '1a'), 8), 'AR_INVALID', /size/);
  throwsCode(() => parseArHeader(hdr('x', '-1'), 8), 'AR_INVALID');
  throwsCode(() => parseArHeader(hdr('x', '1', 'xx'), 8), 'AR_INVALID', /terminator/);
  throwsCode(() => parseArHeader(new Uint8Array(10), 8), 'AR_INVALID', /truncated/);
});

test('ar streams: magic, truncation, padding', async () => {
  const one = (b: Buffer): AsyncIterable<Uint8Array> => (async function* () { yield b; })();
  const names = async (b: Buffer): Promise<string[]> => {
    const out: string[] = [];
    for await (const m of readAr(one(b))) {
      let s = '';
      for await (const c of m.body) s += Buffer.from(c).toString();
      out.push(`${m.name}=${s}`);
    }
    return out;
  };
  assert.deepEqual(await names(Buffer.concat([Buffer.from('!<arch>\n'), hdr('a', '3'), Buffer.from('abc\n'), hdr('b', '2'), Buffer.from('de')])), ['a=abc', 'b=de']);
  await assert.rejects(names(Buffer.from('!<arch\n')), (e: unknown) => isIngotError(e, 'AR_INVALID'));
  await assert.rejects(names(Buffer.concat([Buffer.from('!<arch>\n'), hdr('a', '10'), Buffer.from('abc')])), (e: unknown) => isIngotError(e, 'AR_INVALID') && /truncated/.test(e.message));
  await assert.rejects(names(Buffer.concat([Buffer.from('!<arch>\n'), Buffer.from('short')])), (e: unknown) => isIngotError(e, 'AR_INVALID'));
});

test('tar numeric fields as dpkg reads them', () => {
  const f = (s: string, len = 12): Uint8Array => {
    const b = Buffer.alloc(len);
    b.write(s, 'latin1');
    return b;
  };
  assert.equal(parseTarNumber(f('00000001750\0')), 0o1750);
  assert.equal(parseTarNumber(f('  1750 \0')), 0o1750);
  assert.equal(parseTarNumber(f('0000000175 ')), 0o175);
  assert.equal(parseTarNumber(f('')), 0);
  assert.equal(parseTarNumber(f('1758')), undefined);
  assert.equal(parseTarNumber(f('17 5')), undefined);
  assert.equal(parseTarNumber(f('          ')), 0);
  assert.equal(parseTarNumber(Buffer.alloc(12, 0x20)), undefined);
  const b256 = Buffer.alloc(12);
  b256[0] = 0x80;
  b256.writeUInt32BE(0x12345678, 8);
  assert.equal(parseTarNumber(b256), 0x12345678);
  b256[0] = 0xff;
  assert.equal(parseTarNumber(b256), undefined);
});

test('member names: normalised, absolute and .. refused', () => {
  const ok = (n: string): string => {
    const r = normalizeMemberName(n);
    assert.ok(r.ok, n);
    return r.path;
  };
  assert.equal(ok('./usr/bin/x'), 'usr/bin/x');
  assert.equal(ok('usr//bin/./x/'), 'usr/bin/x');
  assert.equal(ok('./'), '');
  assert.equal(ok('.'), '');
  assert.equal(ok('./a..b/..c'), 'a..b/..c');
  for (const bad of ['/etc/x', '../x', './a/../../x', 'a/..', '', 'a\0b', '//x']) assert.equal(normalizeMemberName(bad).ok, false, bad);
});

test('debian-binary as dpkg-deb checks it', () => {
  const v = (s: string) => parseDebianBinary(Buffer.from(s, 'latin1'));
  assert.deepEqual(v('2.0\n'), { major: 2, minor: 0 });
  assert.deepEqual(v('2.1\nanything\n'), { major: 2, minor: 1 });
  assert.deepEqual(v('02.0\n'), { major: 2, minor: 0 });
  for (const bad of ['2.0', '3.0\n', '2\n', '2.\n', '.0\n', '2.0x\n', '2.0 \n', ' 2.0\n', '2.0\r\n', '2.0\0\n', '2.99999999999\n']) {
    throwsCode(() => v(bad), 'DEB_INVALID');
  }
});

test('deb822: values, continuation lines and dpkg parse errors', () => {
  const s = parseDeb822('Package: a\nDescription:  first  \n second\n .\n\tthird  \nX :y\n\n\nPackage: b\n');
  assert.equal(s.length, 2);
  assert.deepEqual(
    s[0]!.fields.map((f) => [f.name, f.value, f.line]),
    [
      ['Package', 'a', 1],
      ['Description', 'first  \n second\n .\n\tthird', 2],
      ['X', 'y', 6],
    ],
  );
  assert.equal(parseDeb822('A: v\r\n')[0]!.fields[0]!.value, 'v');
  for (const [text, re] of [
    ['A: v', /missing final newline/],
    ['A:\n', /end of file before value/],
    ['A: a\n \n', /blank line in value/],
    ['# c\n', /must be followed by colon/],
    ['-A: 1\n', /cannot start with hyphen/],
    [' lead\n', /empty field name/],
    ['A\nB: 1\n', /newline in field name/],
    ['A\n', /end of file after field name/],
  ] as const) {
    throwsCode(() => parseDeb822(text), 'DEB_CONTROL_INVALID', re);
  }
});

test('relations: dpkg syntax, canonical form and refusals', () => {
  const r = parseRelations('Depends', 'libc6 (>= 2.34), a:any|B (<<1) , c ( = 1:2.0-1 ), d (< 1), e (1.0), f:native (>>01:1)');
  assert.equal(formatRelations(r), 'libc6 (>= 2.34), a:any | b (<< 1), c (= 1:2.0-1), d (<= 1), e (= 1.0), f:native (>> 1:1)');
  assert.deepEqual(r[1]![1], { name: 'b', op: '<<', version: '1' });
  const w: string[] = [];
  parseRelations('Provides', 'v (>= 1)', { warnings: w });
  assert.match(w[0]!, /only exact versions/);
  for (const [field, value] of [
    ['Depends', 'a, , b'],
    ['Depends', 'a |'],
    ['Depends', 'a (>= )'],
    ['Depends', 'a (><1)'],
    ['Depends', 'a:any:any'],
    ['Depends', 'a (>= 1.0) [amd64]'],
    ['Depends', 'a <!nocheck>'],
    ['Depends', 'a (= 1.0-)'],
    ['Depends', 'a (= x1)'],
    ['Provides', 'a | b'],
    ['Conflicts', 'a | b'],
    ['Breaks', 'a | b'],
    ['Replaces', 'a | b'],
  ] as const) {
    throwsCode(() => parseRelations(field, value), 'DEB_CONTROL_INVALID');
  }
  const src = parseRelations('Build-Depends', 'foo (>= 1) [amd64 !i386] <!nocheck> <stage1 cross>, bar', { restrictions: true });
  assert.deepEqual(src[0]![0], { name: 'foo', op: '>=', version: '1', archRestrictions: ['amd64', '!i386'], profiles: [['!nocheck'], ['stage1', 'cross']] });
});

test('control checks as dpkg-deb makes them', () => {
  const base = 'Package: hello\nVersion: 1:2.0-1\nArchitecture: amd64\nMaintainer: M <m@x>\nDescription: hi\n there\n .\n end\n';
  const c = parseDebControl(`${base}Source: src (2.0-0.1)\nEssential: YES\nMulti-Arch: Foreign\nInstalled-Size: 42\n`);
  assert.equal(c.package, 'hello');
  assert.deepEqual(c.version, { epoch: 1, upstream: '2.0', revision: '1' });
  assert.equal(c.synopsis, 'hi');
  assert.equal(c.longDescription, 'there\n\nend');
  assert.equal(c.source, 'src');
  assert.equal(c.sourceVersion, '2.0-0.1');
  assert.equal(c.essential, true);
  assert.equal(c.multiArch, 'foreign');
  assert.equal(c.installedSize, 42);
  assert.deepEqual(parseDebControl('Package: a\nVersion: 1\nArchitecture: all\n').warnings, ["missing 'Maintainer' field", "missing 'Description' field"]);
  for (const [text, re] of [
    ['Version: 1\nArchitecture: all\n', /missing 'Package'/],
    ['Package: a\nArchitecture: all\n', /missing 'Version'/],
    ['Package: a\nVersion: 1\n', /missing 'Architecture'/],
    ['Package: a b\nVersion: 1\nArchitecture: all\n', /invalid package name/],
    ['Package: a\nVersion: x1\nArchitecture: all\n', /does not start with digit/],
    ['Package: a\nVersion: 1\nArchitecture: all\nEssential: maybe\n', /boolean/],
    ['Package: a\nVersion: 1\nArchitecture: all\nMulti-Arch: same\n', /Multi-Arch: same/],
    ['Package: a\nVersion: 1\nArchitecture: all\nX-A: 1\nx-a: 2\n', /duplicate/],
    ['Package: a\nVersion: 1\nArchitecture: all\nY: 1\n', /too short/],
    ['Package: a\nVersion: 1\nArchitecture: all\nStatus: install ok installed\n', /not allowed/],
    ['Package: a\nVersion: 1\nArchitecture: all\n\nPackage: b\n', /several package/],
  ] as const) {
    throwsCode(() => parseDebControl(text), 'DEB_CONTROL_INVALID', re);
  }
});

test('conffiles and md5sums files', () => {
  assert.deepEqual(parseConffiles('/etc/a\n\nremove-on-upgrade /etc/b\n/etc/c d \n'), ['/etc/a', '/etc/b', '/etc/c d']);
  const m = parseMd5sums('d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x\nBAD\n0123456789ABCDEF0123456789abcdef  ./usr/bin/y\n');
  assert.deepEqual([...m], [
    ['usr/share/doc/x', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['usr/bin/y', '0123456789abcdef0123456789abcdef'],
  ]);
});

test('decompressors round-trip the real tools, refuse garbage and bound their output', async () => {
  const input = Buffer.from(Array.from({ length: 200000 }, (_, i) => `line ${i}\n`).join(''));
  const collect = async (it: AsyncIterable<Uint8Array>): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const c of it) parts.push(Buffer.from(c));
    return Buffer.concat(parts);
  };
  const src = (b: Buffer): AsyncIterable<Uint8Array> => (async function* () { for (let o = 0; o < b.length; o += 7777) yield b.subarray(o, o + 7777); })();
  for (const kind of ['gzip', 'xz', 'lzma', 'zstd', 'bzip2'] as const) {
    const packed = compressWith(kind, input);
    assert.ok((await collect(decompress(src(packed), kind))).equals(input), kind);
    await assert.rejects(collect(decompress(src(packed.subarray(0, Math.floor(packed.length / 2))), kind)), (e: unknown) => isIngotError(e, 'DECOMPRESS_FAILED'), `${kind} truncated`);
    await assert.rejects(collect(decompress(src(Buffer.from('definitely not compressed data at all')), kind)), (e: unknown) => isIngotError(e, 'DECOMPRESS_FAILED'), `${kind} garbage`);
    await assert.rejects(collect(decompress(src(packed), kind, { maxOutput: 100000 })), (e: unknown) => isIngotError(e, 'DECOMPRESS_FAILED') && /exceeds/.test(e.message), `${kind} bound`);
  }
});
