/**
 * The Debian reader against the real dpkg-deb, on fixture packages built by dpkg-deb from the
 * recipes in test/fixtures/deb (xz, gzip, zstd, none) and on hand-made bzip2 / lzma variants:
 *
 * - fields agree with `dpkg-deb -f` (relations as dpkg re-serialises them);
 * - the control member listing agrees with `dpkg-deb -I`;
 * - the file list agrees with `dpkg-deb -c` (type, permissions, owner, size, link target);
 * - extraction gives the same tree as `dpkg-deb -x` (types, modes, owners, sizes, content
 *   hashes, link targets), and md5sums digests match the extracted content;
 * - random control files are accepted or refused exactly when dpkg-deb accepts or refuses
 *   them, with the same field values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { openDeb } from '../../src/codecs/deb/deb.js';
import { formatRelations, parseDebControl, RELATION_FIELDS, type DebRelationClause } from '../../src/codecs/deb/control.js';
import { formatDebVersion } from '../../src/codecs/version/deb.js';
import { extractDebData } from '../../src/sources/extract.js';
import { listDebContents, readDebInfo } from '../../src/sources/deb-file.js';
import { formatVersion, type DepAtom, type Dependency, type PackageFile } from '../../src/sources/package.js';
import { cleanup, describeTree, run, runOk, tmpdir, treeDiff } from '../helpers.js';
import { arDeb, compressWith, DPKG_COMPRESSIONS, EXT, fixture, RECIPES } from '../fixtures/deb/helpers.js';

const require = createRequire(import.meta.url);

function dpkgField(deb: string, field: string): string {
  return runOk('dpkg-deb', ['-f', deb, field]).replace(/\n$/, '');
}

function atomText(a: DepAtom): string {
  return `${a.name}${a.arch ? `:${a.arch}` : ''}${a.op ? ` (${a.op} ${a.version})` : ''}`;
}

function depsText(d: Dependency[]): string {
  return d.map((x) => x.anyOf.map(atomText).join(' | ')).join(', ');
}

function permString(f: PackageFile, typeChar: string): string {
  const m = f.mode;
  const bit = (b: number, c: string): string => (m & b ? c : '-');
  const x = (b: number, s: number, on: string, off: string): string => (m & s ? (m & b ? on : off) : m & b ? 'x' : '-');
  return (
    typeChar +
    bit(0o400, 'r') + bit(0o200, 'w') + x(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') + bit(0o020, 'w') + x(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') + bit(0o002, 'w') + x(0o001, 0o1000, 't', 'T')
  );
}

const TYPE_CHAR: Record<string, string> = { file: '-', dir: 'd', symlink: 'l', hardlink: 'h', other: '?' };

/** Parses `dpkg-deb -c` (GNU tar -tv) lines. */
function parseListing(text: string): { perms: string; owner: string; size: number; name: string; target?: string }[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S{10}) (\S+)\s+(\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(l);
      assert.ok(m, `unexpected dpkg-deb -c line: ${l}`);
      let name = m[4]!;
      let target: string | undefined;
      if (m[1]!.startsWith('l')) [name, target] = name.split(' -> ') as [string, string];
      else if (m[1]!.startsWith('h')) [name, target] = name.split(' link to ') as [string, string];
      const e: { perms: string; owner: string; size: number; name: string; target?: string } = { perms: m[1]!, owner: m[2]!, size: Number(m[3]), name };
      if (target !== undefined) e.target = target;
      return e;
    });
}

/** Every package the comparisons run on: dpkg-deb's own and the hand-made bzip2/lzma ones. */
function allDebs(): { deb: string; label: string }[] {
  const out: { deb: string; label: string }[] = [];
  for (const r of RECIPES) for (const c of DPKG_COMPRESSIONS) out.push({ deb: fixture(r, c), label: `${r}_${c}` });
  const dir = tmpdir('ingot-deb-handmade-');
  for (const r of RECIPES) {
    const x = path.join(dir, `x-${r}`);
    fs.mkdirSync(x);
    runOk('ar', ['x', fixture(r, 'none')], { cwd: x });
    const control = fs.readFileSync(path.join(x, 'control.tar'));
    const data = fs.readFileSync(path.join(x, 'data.tar'));
    for (const c of ['bzip2', 'lzma'] as const) {
      const deb = arDeb(path.join(dir, `${r}_${c}.deb`), [
        ['debian-binary', Buffer.from('2.0\n')],
        ['control.tar.xz', compressWith('xz', control)],
        [`data.tar${EXT[c]}`, compressWith(c, data)],
      ]);
      out.push({ deb, label: `${r}_${c} (ar + tar + ${c})` });
    }
  }
  return out;
}

const DEBS = allDebs();

test('hand-made bzip2 and lzma packages are accepted by dpkg-deb -I', () => {
  for (const { deb, label } of DEBS.filter((d) => /bzip2|lzma/.test(d.label))) {
    const r = run('dpkg-deb', ['-I', deb]);
    assert.equal(r.status, 0, `${label}: ${r.stderr}`);
    assert.equal(run('dpkg-deb', ['-c', deb]).status, 0, label);
  }
});

test('readDebInfo agrees with dpkg-deb -f', async () => {
  for (const { deb, label } of DEBS) {
    const info = await readDebInfo(deb);
    assert.equal(info.family, 'deb');
    assert.equal(info.name, dpkgField(deb, 'Package'), label);
    assert.equal(formatVersion(info), dpkgField(deb, 'Version'), label);
    assert.equal(info.arch, dpkgField(deb, 'Architecture'), label);
    const src = dpkgField(deb, 'Source');
    if (src === '') {
      assert.equal(info.sourceName, info.name, `${label}: source name defaults to the binary's`);
      assert.equal(info.sourceVersion, formatVersion(info), `${label}: source version defaults to the binary's`);
    } else {
      assert.equal(`${info.sourceName}${/\(/.test(src) ? ` (${info.sourceVersion})` : ''}`, src, label);
    }
    const rel: [string, Dependency[] | DepAtom[]][] = [
      ['Depends', info.depends],
      ['Pre-Depends', info.preDepends],
      ['Recommends', info.recommends],
      ['Suggests', info.suggests],
      ['Conflicts', info.conflicts],
      ['Breaks', info.breaks],
      ['Replaces', info.replaces],
    ];
    for (const [f, deps] of rel) assert.equal(depsText(deps as Dependency[]), dpkgField(deb, f), `${label}: ${f}`);
    assert.equal(info.provides.map(atomText).join(', '), dpkgField(deb, 'Provides'), `${label}: Provides`);
    const isz = dpkgField(deb, 'Installed-Size');
    assert.equal(info.installedSize, isz === '' ? undefined : Number(isz) * 1024, `${label}: Installed-Size`);
    assert.equal(info.extra?.['installedSizeKiB'], isz === '' ? undefined : Number(isz));
    assert.equal(info.priority ?? '', dpkgField(deb, 'Priority'), label);
    assert.equal(info.section ?? '', dpkgField(deb, 'Section'), label);
    assert.equal(info.multiArch ?? 'no', dpkgField(deb, 'Multi-Arch'), label);
    // dpkg prints a boolean field's default ('no') when it is absent.
    assert.equal(info.essential ? 'yes' : 'no', dpkgField(deb, 'Essential'), label);
    assert.equal(info.extra?.['maintainer'], dpkgField(deb, 'Maintainer'), label);
    const desc = dpkgField(deb, 'Description').split('\n');
    assert.equal(info.summary, desc[0], label);
    const fields = info.extra?.['fields'] as Record<string, string>;
    for (const [k, v] of Object.entries(fields)) {
      if ((RELATION_FIELDS as readonly string[]).includes(k) || k === 'Version' || k === 'Essential') continue;
      assert.equal(v, dpkgField(deb, k), `${label}: raw field ${k}`);
    }
  }
});

test('the hello fixture maps every relation kind and the control files', async () => {
  const info = await readDebInfo(fixture('hello', 'xz'));
  assert.equal(info.epoch, 1);
  assert.equal(info.version, '2.10');
  assert.equal(info.release, '3+b1');
  assert.equal(info.sourceName, 'hello-src');
  assert.equal(info.sourceVersion, '2.10-3');
  assert.deepEqual(info.depends[1], { anyOf: [{ name: 'libfoo1', arch: 'any', op: '=', version: '1.0-1' }, { name: 'libfoo-compat' }] });
  assert.deepEqual(info.depends[3], { anyOf: [{ name: 'perl', arch: 'native', op: '<<', version: '6' }] });
  assert.deepEqual(info.provides[0], { name: 'hello-virtual', op: '=', version: '9.9' });
  assert.equal(info.essential, false);
  assert.equal(info.multiArch, 'foreign');
  assert.deepEqual(
    info.scriptlets.map((s) => [s.name, s.interpreter]),
    [
      ['preinst', '/bin/sh'],
      ['postinst', '/bin/sh'],
      ['prerm', '/bin/sh'],
      ['postrm', '/bin/sh'],
      ['config', '/bin/sh'],
    ],
  );
  assert.deepEqual(info.extra?.['conffiles'], ['/etc/hello/hello.conf', '/etc/hello/other.conf']);
  assert.match(String(info.extra?.['triggers']), /interest-noawait/);
  assert.equal(info.description?.split('\n')[1], '');
  const libfoo = await readDebInfo(fixture('libfoo1', 'gzip'));
  assert.equal(libfoo.multiArch, 'same');
  assert.equal(libfoo.sourceName, 'libfoo1');
  assert.equal(libfoo.sourceVersion, '1.0-1');
});

test('the control archive agrees with dpkg-deb -I', async () => {
  for (const { deb, label } of DEBS) {
    const text = runOk('dpkg-deb', ['-I', deb]);
    const d = await openDeb(fs.createReadStream(deb), { label: deb });
    await d.close();
    const m = /size (\d+) bytes: control archive=(\d+) bytes/.exec(text)!;
    assert.equal(Number(m[1]), fs.statSync(deb).size);
    assert.equal(d.controlMember.size, Number(m[2]), label);
    assert.match(text, new RegExp(`new Debian package, version ${d.format.major}\\.${d.format.minor}\\.`));
    const listed = [...text.matchAll(/^\s+(\d+) bytes,\s+\d+ lines\s+(\*?)\s+(\S+)/gm)].map((x) => ({ name: x[3]!, size: Number(x[1]), exec: x[2] === '*' }));
    const ours = d.control.files.map((f) => ({ name: f.name, size: f.size, exec: (f.mode & 0o111) !== 0 })).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(ours, listed.sort((a, b) => a.name.localeCompare(b.name)), label);
  }
});

test('listDebContents agrees with dpkg-deb -c', async () => {
  for (const { deb, label } of DEBS) {
    const ours = await listDebContents(deb);
    const theirs = parseListing(runOk('dpkg-deb', ['-c', deb]));
    assert.equal(ours.length, theirs.length, label);
    ours.forEach((f, i) => {
      const t = theirs[i]!;
      const name = f.path === '/' ? './' : `.${f.path}${f.type === 'dir' ? '/' : ''}`;
      assert.equal(name, t.name, label);
      assert.equal(permString(f, TYPE_CHAR[f.type]!), t.perms, `${label}: ${t.name}`);
      assert.equal(`${f.user}/${f.group}`, t.owner, `${label}: ${t.name}`);
      assert.equal(f.size, t.size, `${label}: ${t.name}`);
      if (f.type === 'symlink') assert.equal(f.target, t.target, `${label}: ${t.name}`);
      if (f.type === 'hardlink') assert.equal(`.${f.target}`, t.target, `${label}: ${t.name}`);
    });
  }
});

test('extractDebData gives the same tree as dpkg-deb -x, and md5sums match', async () => {
  const dir = tmpdir('ingot-deb-extract-');
  try {
    for (const { deb, label } of DEBS) {
      const theirs = path.join(dir, 'theirs');
      const ours = path.join(dir, 'ours');
      fs.mkdirSync(ours, { mode: 0o755 });
      runOk('dpkg-deb', ['-x', deb, theirs]);
      const entries = await extractDebData(deb, ours);
      const diffs = treeDiff(describeTree(theirs), describeTree(ours));
      assert.deepEqual(diffs, [], label);
      const listed = await listDebContents(deb);
      assert.deepEqual(
        entries.map((e) => e.path),
        listed.map((f) => f.path),
        label,
      );
      for (const f of listed) {
        if (!f.digest) continue;
        const md5 = createHash('md5').update(fs.readFileSync(path.join(ours, f.path))).digest('hex');
        assert.equal(md5, f.digest, `${label}: ${f.path}`);
      }
      if (label.startsWith('hello')) assert.ok(listed.some((f) => f.flags?.config), 'conffiles are flagged');
      fs.rmSync(theirs, { recursive: true, force: true });
      fs.rmSync(ours, { recursive: true, force: true });
    }
  } finally {
    cleanup(dir);
  }
});

/** A minimal .deb in memory around a control file's bytes: ar by hand, tars by tar-stream. */
async function debWithControl(control: Buffer): Promise<Buffer> {
  const tarStream = require('tar-stream') as { pack(): { entry(h: object, d: Buffer): void; finalize(): void } & AsyncIterable<Buffer> };
  const tar = async (files: [string, Buffer][]): Promise<Buffer> => {
    const p = tarStream.pack();
    for (const [name, data] of files) p.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data);
    p.finalize();
    const parts: Buffer[] = [];
    for await (const c of p) parts.push(c);
    return Buffer.concat(parts);
  };
  const members: [string, Buffer][] = [
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar', await tar([['./control', control]])],
    ['data.tar', await tar([['./x', Buffer.from('x')]])],
  ];
  const parts: Buffer[] = [Buffer.from('!<arch>\n')];
  for (const [n, d] of members) {
    parts.push(Buffer.from(`${n.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(d.length).padEnd(10)}\`\n`));
    parts.push(d);
    if (d.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Mostly valid pieces, sometimes a broken one: both outcomes get exercised. */
const mostly = <T>(good: T[], bad: T[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });
const relName = mostly(['libc6', 'foo', 'Foo', 'bar-baz', 'x+y', 'lib.z', 'b_c', 'a0'], ['-bad', '', 'a/b']);
const relArch = mostly(['', '', '', ':any', ':native', ':amd64', ':Any'], [':', ':a:b', ':a_b']);
const relOp = mostly(
  ['', '', '(>= 1.0)', '(<< 2:1.0-1)', '(= 1.0~rc1)', '(> 1)', '(< 1)', '(1.0)', '(>=1.0)', '( <= 1 )', '(>>1.0+b1)'],
  ['(>> )', '(>= 1.0-)', '(><1)', '(= x1)', '(= 1.0', '(=1)(x)', '(= 1 0)'],
);
const relSpace = fc.constantFrom('', ' ', '  ', '\t');
const relAtom = fc.tuple(relName, relArch, relSpace, relOp).map(([n, a, s, o]) => `${n}${a}${o ? s : ''}${o}`);
const altSep = mostly([' | ', '|', ' |  '], [' || ', '| |']);
const relClause = fc.tuple(fc.array(relAtom, { minLength: 1, maxLength: 3 }), altSep).map(([a, sep]) => a.join(sep));
const clauseSep = mostly([',', ', ', ' ,\n ', ', \n\t'], [',,', ', ,']);
const relValue = fc.tuple(fc.array(relClause, { minLength: 1, maxLength: 4 }), clauseSep).map(([cs, sep]) => cs.join(sep));
const version = mostly(['1.0', '1:2.3-4', '01:1.0', '1.0+b1', '0', '1.0~', '2.0-1ubuntu1'], ['1.0-', 'x1.0', '1.0 x', '2:', ':1']);
const fieldName = mostly(['X-A', 'Priority', 'Section', 'Homepage', 'Essential', 'Multi-Arch', 'Installed-Size', 'Source'], ['Y', '-Z', 'Maintainer']);
const fieldValue = mostly(['yes', 'no', 'YES', 'foreign', 'optional', '12', 'hello (1.0)', 'text\n more', ' padded  ', 'allowed'], ['maybe', 'same', '', 'a\n \n b']);
const extraLine = fc.tuple(fieldName, fieldValue).map(([n, v]) => `${n}: ${v}\n`);

const controlText = fc
  .record({
    pkg: mostly(['hello', 'Hello', 'x', 'lib0.9'], ['a b', '', '-x']),
    version,
    arch: mostly(['amd64', 'all', 'arm64'], ['am d64', '']),
    relField: fc.constantFrom(...RELATION_FIELDS),
    rel: relValue,
    extra: fc.uniqueArray(extraLine, { maxLength: 3, selector: (l) => l.split(':')[0]!.toLowerCase() }),
    tail: mostly(['', '\n', '\n\n', ' continued description\n'], ['Package: other\n', '\n \n'])
  })
  .map(
    (r) =>
      `Package: ${r.pkg}\nVersion: ${r.version}\nArchitecture: ${r.arch}\nMaintainer: T <t@example.invalid>\n${r.relField}: ${r.rel}\n${r.extra.join('')}Description: d\n${r.tail}`,
  );

test('random control files: accepted and parsed exactly when dpkg-deb -f accepts them', async () => {
  const dir = tmpdir('ingot-deb-diff-');
  let accepted = 0;
  let refused = 0;
  try {
    await fc.assert(
      fc.asyncProperty(controlText, async (text) => {
        const deb = path.join(dir, 'c.deb');
        fs.writeFileSync(deb, await debWithControl(Buffer.from(text)));
        const fields = ['Package', 'Version', ...RELATION_FIELDS];
        const r = run('dpkg-deb', ['-f', deb, ...fields]);
        let ours: ReturnType<typeof parseDebControl> | undefined;
        let err: unknown;
        try {
          ours = parseDebControl(text);
        } catch (e) {
          err = e;
        }
        if (r.status !== 0) {
          refused++;
          assert.ok(err, `dpkg-deb refused (${r.stderr.trim()}) but ingot accepted:\n${text}`);
          return;
        }
        accepted++;
        assert.ok(ours, `dpkg-deb accepted but ingot refused (${String(err)}):\n${text}`);
        const got = new Map<string, string>();
        for (const m of r.stdout.matchAll(/^([A-Za-z-]+): (.*)$/gm)) got.set(m[1]!, m[2]!);
        assert.equal(got.get('Version'), formatDebVersion(ours.version));
        for (const f of RELATION_FIELDS) {
          const mine: DebRelationClause[] | undefined = ours.relations[f];
          assert.equal(mine ? formatRelations(mine) : undefined, got.get(f) === '' ? undefined : got.get(f), `${f} of:\n${text}`);
        }
      }),
      { numRuns: 150, seed: 20251126 },
    );
  } finally {
    cleanup(dir);
  }
  assert.ok(accepted > 10 && refused > 10, `both outcomes exercised (accepted ${accepted}, refused ${refused})`);
});

/** An ar archive with exactly these member names (dpkg-deb's own header layout). */
function arBytes(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')];
  for (const [n, d] of members) {
    parts.push(Buffer.from(`${n.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(d.length).padEnd(10)}\`\n`, 'latin1'));
    parts.push(d);
    if (d.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

test('member names, order and debian-binary: accepted exactly when dpkg-deb accepts them', async () => {
  const dir = tmpdir('ingot-deb-layout-');
  try {
    const x = path.join(dir, 'x');
    fs.mkdirSync(x);
    runOk('ar', ['x', fixture('libfoo1', 'none')], { cwd: x });
    const control = fs.readFileSync(path.join(x, 'control.tar'));
    const data = fs.readFileSync(path.join(x, 'data.tar'));
    const db = (s: string): [string, Buffer] => ['debian-binary', Buffer.from(s, 'latin1')];
    const c = (ext = '', comp: 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'lzma' = 'none'): [string, Buffer] => [`control.tar${ext}`, compressWith(comp, control)];
    const d = (ext = '', comp: 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'lzma' = 'none'): [string, Buffer] => [`data.tar${ext}`, compressWith(comp, data)];
    const layouts: [string, [string, Buffer][]][] = [
      ['plain', [db('2.0\n'), c(), d()]],
      ['2.1', [db('2.1\n'), c(), d()]],
      ['02.0 with a second line', [db('02.0\nmore\n'), c(), d()]],
      ['no newline', [db('2.0'), c(), d()]],
      ['3.0', [db('3.0\n'), c(), d()]],
      ['no dot', [db('2\n'), c(), d()]],
      ['junk after version', [db('2.0x\n'), c(), d()]],
      ['CRLF', [db('2.0\r\n'), c(), d()]],
      ['leading space', [db(' 2.0\n'), c(), d()]],
      ['huge minor', [db('2.99999999999\n'), c(), d()]],
      ['underscore members anywhere after debian-binary', [db('2.0\n'), ['_a', Buffer.from('x')], c(), ['_b', Buffer.from('yy')], d(), ['junk', Buffer.from('z')]]],
      ['underscore member first', [['_a', Buffer.from('x')], db('2.0\n'), c(), d()]],
      ['unknown member between control and data', [db('2.0\n'), c(), ['junk', Buffer.from('z')], d()]],
      ['data before control', [db('2.0\n'), d(), c()]],
      ['two control members', [db('2.0\n'), c(), c('.gz', 'gzip'), d()]],
      ['control.tar.bz2', [db('2.0\n'), c('.bz2', 'bzip2'), d()]],
      ['control.tar.lzma', [db('2.0\n'), c('.lzma', 'lzma'), d()]],
      ['control.tar.zst and data.tar.lzma', [db('2.0\n'), c('.zst', 'zstd'), d('.lzma', 'lzma')]],
      ['data.tar.bz2', [db('2.0\n'), c('.gz', 'gzip'), d('.bz2', 'bzip2')]],
      ['data.tarx', [db('2.0\n'), c(), ['data.tarx', data]]],
      ['no data member', [db('2.0\n'), c()]],
      ['no control member', [db('2.0\n'), d()]],
      ['GNU ar names with a slash', [['debian-binary/', Buffer.from('2.0\n')], ['control.tar/', control], ['data.tar/', data]]],
    ];
    for (const [name, members] of layouts) {
      const deb = path.join(dir, 'l.deb');
      fs.writeFileSync(deb, arBytes(members));
      const theirsC = run('dpkg-deb', ['-c', deb]).status === 0;
      const theirsI = run('dpkg-deb', ['-I', deb]).status === 0;
      const oursC = await listDebContents(deb).then(
        () => true,
        (e: unknown) => {
          assert.ok(e instanceof Error && 'code' in e, `${name}: ${String(e)}`);
          return false;
        },
      );
      const oursI = await readDebInfo(deb).then(
        () => true,
        () => false,
      );
      assert.equal(oursC, theirsC, `${name}: contents (dpkg-deb -c ${theirsC ? 'accepts' : 'refuses'})`);
      assert.equal(oursI, theirsI, `${name}: info (dpkg-deb -I ${theirsI ? 'accepts' : 'refuses'})`);
    }
  } finally {
    cleanup(dir);
  }
});
