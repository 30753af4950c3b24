/**
 * The RPM reader against the real rpm 4.18 on packages built by rpmbuild from the recipes in
 * test/fixtures/rpm (see test/fixtures/build-rpms.sh): every header tag as `rpm -qp --xml`
 * decodes it, identity fields, `rpm -qpl --dump`, dependencies (`--requires` ...), scriptlets
 * (`--scripts`), changelog, file flags and hardlink counts, payload bytes against
 * `rpm2cpio | cpio -idm`, `rpm -K -v` on good and tampered packages, OpenPGP signatures with the
 * right and the wrong key, and the CLI (`pkg info` = `rpm -qpi`, `pkg contents` = `rpm -qplv`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isIngotError } from '../../src/core/errors.js';
import {
  HASH_ALGOS,
  KNOWN_TAGS,
  parseRpm,
  readKeyring,
  RpmType,
  rpmPackage,
  SIG,
  type RpmHead,
  type RpmKeyring,
  type RpmPackage,
} from '../../src/codecs/rpm/index.js';
import { readRpmFile, rpmFileEntries, rpmToPackageFiles, rpmToPackageInfo, verifyRpmFile } from '../../src/sources/rpm-file.js';
import { detectPackageFormat, listPackageContents, readPackageInfo } from '../../src/sources/package-file.js';
import { cleanup, hashFile, ingot, ROOT, run, runOk, tmpdir } from '../helpers.js';

let dir = '';
let work = '';
let emptyDb = '';
const UTC = { TZ: 'UTC' };

function rpmOut(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  return runOk('rpm', args, { env: { ...UTC, ...opts.env } });
}

before(() => {
  dir = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  work = tmpdir('ingot-rpm-');
  emptyDb = path.join(work, 'emptydb');
  fs.mkdirSync(emptyDb);
});

after(() => cleanup(work));

function fixtures(): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.rpm'))
    .sort();
}

async function load(f: string): Promise<{ head: RpmHead; pkg: RpmPackage }> {
  const { head } = await parseRpm(fs.readFileSync(path.join(dir, f)), { label: f });
  return { head, pkg: rpmPackage(head.header) };
}

async function keyring(...names: string[]): Promise<RpmKeyring> {
  return readKeyring(names.map((n) => ({ name: n, bytes: fs.readFileSync(path.join(dir, 'keys', `${n}.asc`)) })));
}

test('fixtures: every recipe and signature is present', () => {
  assert.deepEqual(fixtures(), [
    'fx-arch.rpm',
    'fx-bzip2.rpm',
    'fx-empty.rpm',
    'fx-gzip-eddsa.rpm',
    'fx-gzip.rpm',
    'fx-lzma.rpm',
    'fx-main-rsa-v3.rpm',
    'fx-main-rsa.rpm',
    'fx-main.rpm',
    'fx-none.rpm',
    'fx-xz.rpm',
    'fx-zstd.rpm',
  ]);
});

// ---------------------------------------------------------------------------------------------

/** `rpm -qp --xml`: tag name (lower case) -> values as text. */
function rpmXml(file: string): Map<string, string[]> {
  const xml = rpmOut(['-qp', '--xml', file]);
  const out = new Map<string, string[]>();
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  for (const m of xml.matchAll(/<rpmTag name="([^"]+)">([\s\S]*?)<\/rpmTag>/g)) {
    const values: string[] = [];
    for (const v of m[2]!.matchAll(/<(string|integer|base64)\/>|<(string|integer|base64)>([\s\S]*?)<\/\2>/g)) {
      if (v[1]) values.push('');
      else values.push(v[2] === 'base64' ? v[3]!.replace(/\s+/g, '') : unescape(v[3]!));
    }
    out.set(m[1]!.toLowerCase(), values);
  }
  return out;
}

/** Signature tags rpm merges into the main header it shows (lib/package.c xlateTags). */
const MERGED: Record<number, number> = { 257: SIG.SIZE, 261: SIG.MD5, 269: SIG.SHA1, 273: SIG.SHA256, 1046: SIG.PAYLOADSIZE, 268: SIG.RSA, 267: SIG.DSA, 259: SIG.PGP, 262: SIG.GPG, 270: SIG.LONGSIZE, 271: SIG.LONGARCHIVESIZE };

function asText(h: RpmHead['header'], tag: number): string[] {
  const e = h.get(tag)!;
  const v = e.value;
  if (v instanceof Uint8Array) return [Buffer.from(v).toString('base64')];
  if (typeof v === 'string') return [v];
  if (e.type === RpmType.I18NSTRING) return [(v as string[])[0]!];
  return (v as (string | number | bigint)[]).map(String);
}

test('every main-header tag decodes as rpm -qp --xml shows it', async () => {
  const names = new Map(KNOWN_TAGS.map(([n, name]) => [name.toLowerCase(), n]));
  for (const f of fixtures()) {
    const { head } = await load(f);
    const xml = rpmXml(path.join(dir, f));
    let compared = 0;
    for (const [name, values] of xml) {
      const tag = names.get(name);
      assert.ok(tag !== undefined, `${f}: rpm shows an unknown tag ${name}`);
      if (head.header.has(tag)) {
        assert.deepEqual(asText(head.header, tag), values, `${f}: tag ${name} (${tag})`);
      } else {
        const sigTag = MERGED[tag];
        assert.ok(sigTag !== undefined && head.signature.has(sigTag), `${f}: ${name} is in neither header`);
        assert.deepEqual(asText(head.signature, sigTag), values, `${f}: signature tag ${sigTag} shown as ${name}`);
      }
      compared++;
    }
    for (const tag of head.header.order) {
      if (tag === 63) continue;
      const name = KNOWN_TAGS.find(([n]) => n === tag)?.[1].toLowerCase();
      assert.ok(name && xml.has(name), `${f}: our tag ${tag} is not in rpm's dump`);
    }
    assert.ok(compared > 10, `${f}: only ${compared} tags`);
  }
});

test('identity fields match rpm -qp --queryformat', async () => {
  const fields: [string, (p: RpmPackage) => string][] = [
    ['NAME', (p) => p.name],
    ['EPOCH', (p) => (p.epoch === undefined ? '(none)' : String(p.epoch))],
    ['VERSION', (p) => p.version],
    ['RELEASE', (p) => p.release],
    ['ARCH', (p) => p.arch],
    ['OS', (p) => p.os],
    ['NEVRA', (p) => `${p.name}-${p.epoch !== undefined ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`],
    ['SUMMARY', (p) => p.summary],
    ['LICENSE', (p) => p.license],
    ['SOURCERPM', (p) => p.sourceRpm ?? '(none)'],
    ['LONGSIZE', (p) => String(p.size)],
    ['BUILDTIME', (p) => String(p.buildTime)],
    ['BUILDHOST', (p) => p.buildHost],
    ['PAYLOADFORMAT', (p) => p.payloadFormat],
    ['FILEDIGESTALGO', (p) => String(p.fileDigestAlgoId)],
  ];
  const qf = fields.map(([t]) => `%{${t}}`).join('|@|');
  for (const f of fixtures()) {
    const { pkg } = await load(f);
    const want = rpmOut(['-qp', '--qf', qf, path.join(dir, f)]).split('|@|');
    assert.deepEqual(
      fields.map(([t, get]) => `${t}=${get(pkg)}`),
      fields.map(([t], i) => `${t}=${want[i]}`),
      f,
    );
    assert.equal(pkg.description, rpmOut(['-qp', '--qf', '%{DESCRIPTION}', path.join(dir, f)]), `${f}: description`);
  }
});

test('the file list matches rpm -qpl --dump, with flags and hardlink counts', async () => {
  for (const f of fixtures()) {
    const { pkg } = await load(f);
    const zeros = '0'.repeat(HASH_ALGOS[pkg.fileDigestAlgoId]!.hexLength);
    const ours = pkg.files.map(
      (x) =>
        `${x.path} ${x.size} ${x.mtime} ${x.digest || zeros} 0${x.mode.toString(8)} ${x.user} ${x.group} ${x.flags & 1 ? 1 : 0} ${x.flags & 2 ? 1 : 0} ${x.rdev} ${x.linkTo || 'X'}`,
    );
    const dump = rpmOut(['-qpl', '--dump', path.join(dir, f)]);
    assert.deepEqual(ours, dump === '(contains no files)\n' ? [] : dump.trimEnd().split('\n'), f);
    // Flags as PackageFile maps them, against rpm's fflags letters (d c m n g l).
    const letters = rpmOut(['-qp', '--qf', '[%{FILEFLAGS:fflags}\\n]', path.join(dir, f)]).split('\n').slice(0, pkg.files.length);
    const mapped = rpmToPackageFiles(pkg).map((x) => {
      const fl = x.flags ?? {};
      return (fl.doc ? 'd' : '') + (fl.config ? 'c' : '') + (fl.missingok ? 'm' : '') + (fl.noreplace ? 'n' : '') + (fl.ghost ? 'g' : '') + (fl.license ? 'l' : '');
    });
    assert.deepEqual(mapped, letters.map((l) => l.replace(/[^dcmngl]/g, '')), `${f}: file flags`);
    const nlinks = rpmOut(['-qp', '--qf', '[%{FILENLINKS}\\n]', path.join(dir, f)]).split('\n').slice(0, pkg.files.length);
    assert.deepEqual(
      pkg.files.map((x) => String(x.hardlinks?.length ?? 1)),
      nlinks,
      `${f}: hardlink counts`,
    );
  }
  const { pkg } = await load('fx-main.rpm');
  const byPath = new Map(pkg.files.map((x) => [x.path, x]));
  assert.deepEqual(byPath.get('/usr/share/fx/hard-b')!.hardlinks!.map((i) => pkg.files[i]!.path), ['/usr/share/fx/hard-a', '/usr/share/fx/hard-b', '/usr/share/fx/hard-c']);
  assert.deepEqual(byPath.get('/usr/lib/fx/h1')!.hardlinks!.map((i) => pkg.files[i]!.path), ['/usr/lib/fx/h1', '/usr/share/fx/h2']);
  const listed = new Map(rpmToPackageFiles(pkg).map((x) => [x.path, x]));
  assert.deepEqual(listed.get('/usr/share/fx/hard-c'), { ...listed.get('/usr/share/fx/hard-c'), type: 'hardlink', target: '/usr/share/fx/hard-a' });
  assert.equal(listed.get('/usr/share/fx/hard-a')!.type, 'file');
  assert.deepEqual(listed.get('/usr/lib/fx/abs-link')!.target, '/usr/share/fx/data.txt');
  assert.deepEqual(listed.get('/etc/fx/fx.conf')!.flags, { config: true, noreplace: true });
  assert.deepEqual(listed.get('/etc/fx/optional.conf')!.flags, { config: true, missingok: true });
  assert.deepEqual(listed.get('/var/log/fx.log')!.flags, { ghost: true });
  assert.equal(listed.get('/usr/bin/fx-suid')!.mode, 0o4755);
});

function depText(d: { name: string; op?: string; version: string }): string {
  return d.op ? `${d.name} ${d.op} ${d.version}` : d.name;
}

test('dependencies match rpm -qp --requires/--provides/... and rich ones parse', async () => {
  const kinds = ['requires', 'provides', 'conflicts', 'obsoletes', 'recommends', 'suggests', 'supplements', 'enhances'] as const;
  for (const f of fixtures()) {
    const { pkg } = await load(f);
    for (const k of kinds) {
      const want = rpmOut(['-qp', `--${k}`, path.join(dir, f)]).split('\n').filter(Boolean);
      assert.deepEqual(pkg[k].map(depText), want, `${f}: ${k}`);
    }
  }
  const { pkg } = await load('fx-main.rpm');
  const info = rpmToPackageInfo(pkg);
  const rich = (text: string) => [...info.depends, ...info.recommends, ...info.suggests, ...info.conflicts].find((d) => d.rich === text) ?? (info.extra!['supplements'] as typeof info.depends).concat(info.extra!['enhances'] as typeof info.depends).find((d) => d.rich === text);
  assert.deepEqual(rich('(fx-a or fx-b)'), { anyOf: [{ name: 'fx-a' }, { name: 'fx-b' }], rich: '(fx-a or fx-b)', richTree: { op: 'or', args: [{ op: 'atom', atom: { name: 'fx-a' } }, { op: 'atom', atom: { name: 'fx-b' } }] } });
  assert.deepEqual(rich('(fx-c >= 1.0 and (fx-d if fx-e else fx-f))')!.richTree, {
    op: 'and',
    args: [
      { op: 'atom', atom: { name: 'fx-c', op: '>=', version: '1.0' } },
      { op: 'if', then: { op: 'atom', atom: { name: 'fx-d' } }, cond: { op: 'atom', atom: { name: 'fx-e' } }, else: { op: 'atom', atom: { name: 'fx-f' } } },
    ],
  });
  assert.equal(rich('(fx-c >= 1.0 and (fx-d if fx-e else fx-f))')!.anyOf.length, 0);
  assert.equal(rich('(fx-m with fx-m-feature)')!.richTree!.op, 'with');
  assert.equal(rich('(fx-n without fx-n-broken)')!.richTree!.op, 'without');
  assert.equal(rich('(fx-g2 unless fx-h2)')!.richTree!.op, 'unless');
  assert.equal(rich('(fx-k and fx-l)')!.richTree!.op, 'and');
  // PackageInfo: rpmlib() requires are rpm's own; (pre)/(pretrans) requires are preDepends.
  const names = (ds: typeof info.depends) => ds.map((d) => d.rich ?? depText({ ...d.anyOf[0]!, version: d.anyOf[0]!.version ?? '' }));
  assert.ok(!names(info.depends).some((n) => n.startsWith('rpmlib(')));
  assert.deepEqual(names(info.preDepends).sort(), ['/bin/sh', 'fx-pre-tool', 'fx-pretrans-tool'].sort());
  assert.ok(names(info.depends).includes('fx-post-tool >= 2'));
  assert.ok(names(info.depends).includes('fx-exact = 1:2.0-3'));
  assert.deepEqual(info.provides.find((p) => p.name === 'fx-virtual'), { name: 'fx-virtual', op: '=', version: '9.9' });
  assert.deepEqual(info.obsoletes, [{ name: 'fx-ancient', op: '<', version: '0.9' }, { name: 'fx-legacy', op: '<=', version: '1.1' }]);
  assert.deepEqual(info.conflicts.map((d) => d.rich ?? depText({ ...d.anyOf[0]!, version: d.anyOf[0]!.version ?? '' })), ['(fx-k and fx-l)', 'fx-bad = 2:1.0-1', 'fx-old < 1.0']);
  assert.equal(info.sourceName, 'fx-main');
  assert.equal(info.sourceVersion, '1.2.3-4.fx');
  assert.equal(info.epoch, 2);
  const arch = rpmToPackageInfo((await load('fx-arch.rpm')).pkg);
  assert.deepEqual(arch.provides, [{ name: 'fx-arch', op: '=', version: '0.1-1' }, { name: 'fx-arch(x86-64)', op: '=', version: '0.1-1' }]);
  assert.equal(arch.epoch, 0);
});

/** The scriptlets in `rpm -qp --scripts` layout. */
function scriptsText(p: RpmPackage): string {
  const label: Record<string, string> = { pretrans: 'pretrans', prein: 'preinstall', postin: 'postinstall', preun: 'preuninstall', postun: 'postuninstall', posttrans: 'posttrans', verify: 'verify' };
  return p.scriptlets
    .map((s) => {
      const using = s.interpreter.length ? ` (using ${s.interpreter.join(' ')})` : '';
      return s.body !== '' ? `${label[s.name]} scriptlet${using}:\n${s.body}\n` : `${label[s.name]} program: ${s.interpreter.join(' ')}\n`;
    })
    .join('');
}

test('scriptlets, triggers and changelog match rpm', async () => {
  for (const f of fixtures()) {
    const { pkg } = await load(f);
    assert.equal(scriptsText(pkg), rpmOut(['-qp', '--scripts', path.join(dir, f)]), `${f}: scripts`);
    const cl = rpmOut(['-qp', '--qf', '[%{CHANGELOGTIME}|%{CHANGELOGNAME}|%{CHANGELOGTEXT}|@|]', path.join(dir, f)]);
    assert.equal(pkg.changelog.map((c) => `${c.time}|${c.name}|${c.text}|@|`).join(''), cl, `${f}: changelog`);
  }
  const { pkg } = await load('fx-main.rpm');
  assert.deepEqual(
    pkg.scriptlets.map((s) => [s.name, s.interpreter.join(' ')]),
    [
      ['pretrans', '<lua>'],
      ['prein', '/bin/sh'],
      ['postin', '/bin/sh'],
      ['preun', '/usr/bin/perl -w'],
      ['postun', '/sbin/ldconfig'],
      ['posttrans', '/bin/sh'],
      ['verify', '/bin/sh'],
    ],
  );
  assert.equal(pkg.changelog.length, 3);
  assert.equal(pkg.changelog[2]!.name, 'Other Person <other@example.com> - 1.0-1');
  assert.deepEqual(pkg.triggers.map((t) => [t.type, t.body, t.conditions.map((c) => c.name)]), [['triggerin', 'echo triggered', ['fx-trigger-target']]]);
  const info = rpmToPackageInfo(pkg);
  assert.deepEqual(info.scriptlets.find((s) => s.name === 'postun'), { name: 'postun', interpreter: '/sbin/ldconfig', body: '' });
});

// ---------------------------------------------------------------------------------------------

function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of fs.readdirSync(path.join(root, rel))) {
    const p = `${rel}/${n}`;
    out.push(p);
    if (fs.lstatSync(path.join(root, p)).isDirectory()) out.push(...walk(root, p));
  }
  return out;
}

test('payload bytes equal rpm2cpio | cpio -idm for every compression', async () => {
  for (const f of fixtures()) {
    const dest = path.join(work, `cpio-${f}`);
    fs.mkdirSync(dest);
    runOk('sh', ['-c', `rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet)`, 'sh', path.join(dir, f), dest]);
    const seen = new Set<string>();
    let withData = 0;
    for await (const e of rpmFileEntries(path.join(dir, f))) {
      const p = path.join(dest, e.file.path);
      const st = fs.lstatSync(p);
      seen.add(e.file.path);
      const type = e.file.mode & 0o170000;
      const h = createHash('sha256');
      let n = 0;
      for await (const c of e.body) {
        h.update(c);
        n += c.length;
      }
      assert.equal(n, e.size, `${f}: ${e.file.path}: body length`);
      if (type === 0o100000) {
        assert.ok(st.isFile(), `${f}: ${e.file.path} is a file`);
        assert.equal(st.size, e.file.size);
        if (e.size > 0) {
          withData++;
          assert.equal(h.digest('hex'), hashFile(p), `${f}: ${e.file.path}: content`);
        }
        assert.equal(st.mode & 0o7777, e.file.mode & 0o7777, `${f}: ${e.file.path}: mode`);
      } else if (type === 0o120000) {
        assert.equal(fs.readlinkSync(p), e.file.linkTo, `${f}: ${e.file.path}: target`);
      } else if (type === 0o040000) {
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o7777, e.file.mode & 0o7777, `${f}: ${e.file.path}: mode`);
      }
      if (e.file.hardlinks) {
        const first = fs.statSync(path.join(dest, (await load(f)).pkg.files[e.file.hardlinks[0]!]!.path), { throwIfNoEntry: false });
        if (first) assert.equal(first.ino, st.ino, `${f}: ${e.file.path} is linked`);
      }
    }
    const { pkg } = await load(f);
    const expected = pkg.files.filter((x) => !(x.flags & 64)).map((x) => x.path);
    assert.deepEqual([...seen].sort(), expected.sort(), `${f}: members`);
    // cpio created nothing else but the parent directories of members.
    const extra = walk(dest).filter((p) => !seen.has(p) && !fs.lstatSync(path.join(dest, p)).isDirectory());
    assert.deepEqual(extra, [], `${f}: files cpio made that we did not see`);
    if (pkg.files.some((x) => x.size > 0 && (x.mode & 0o170000) === 0o100000)) assert.ok(withData > 0);
  }
});

// ---------------------------------------------------------------------------------------------

function rpmK(file: string, dbpath = emptyDb): string[] {
  const r = run('rpm', ['-Kv', '--dbpath', dbpath, file], { env: UTC });
  return r.stdout.trimEnd().split('\n').slice(1).map((l) => l.trim());
}

function ourK(checks: Awaited<ReturnType<typeof verifyRpmFile>>): string[] {
  return checks
    .filter((c) => c.kind !== 'size')
    .map((c) => `${c.label}: ${c.status === 'ok' ? 'OK' : c.status === 'bad' ? 'BAD' : 'NOKEY'}${c.kind === 'digest' && c.status === 'bad' ? ` (Expected ${c.expected} != ${c.actual})` : ''}`);
}

test('rpm -K -v agrees on every digest and signature (no keys, then the right keys)', async () => {
  const db = path.join(work, 'keydb');
  fs.mkdirSync(db);
  runOk('rpmkeys', ['--dbpath', db, '--import', path.join(dir, 'keys', 'rsa.asc'), path.join(dir, 'keys', 'eddsa.asc')]);
  const keys = await keyring('rsa', 'eddsa');
  for (const f of fixtures()) {
    const file = path.join(dir, f);
    const without = await verifyRpmFile(file);
    assert.deepEqual(ourK(without), rpmK(file), `${f}: without keys`);
    assert.ok(without.filter((c) => c.kind !== 'signature').every((c) => c.status === 'ok'), f);
    const withKeys = await verifyRpmFile(file, keys);
    assert.deepEqual(ourK(withKeys), rpmK(file, db), `${f}: with keys`);
    assert.ok(withKeys.every((c) => c.status === 'ok'), f);
  }
});

test('signatures verify with the right key and fail with a wrong one', async () => {
  const right = await keyring('rsa', 'eddsa');
  const wrong = await keyring('other');
  for (const f of ['fx-main-rsa.rpm', 'fx-main-rsa-v3.rpm', 'fx-gzip-eddsa.rpm']) {
    const file = path.join(dir, f);
    const head = await readRpmFile(file, { keyring: right, requireSignature: true });
    assert.ok(head.signatures.length >= 1);
    assert.ok(head.checks.filter((c) => c.kind === 'signature').every((c) => c.status === 'ok'));
    await assert.rejects(readRpmFile(file, { keyring: wrong, requireSignature: true }), (e) => isIngotError(e, 'RPM_SIGNATURE_INVALID') && e.data['reason'] === 'nokey');
    const checks = await verifyRpmFile(file, wrong);
    assert.ok(checks.filter((c) => c.kind === 'signature').every((c) => c.status === 'nokey'), f);
  }
  const { signatures } = await readRpmFile(path.join(dir, 'fx-gzip-eddsa.rpm'));
  assert.deepEqual(
    signatures.map((s) => [s.tag, s.pubkeyAlgo, s.range]),
    [[267, 'EdDSA', 'header']],
  );
  const v3 = await readRpmFile(path.join(dir, 'fx-main-rsa-v3.rpm'));
  assert.deepEqual(
    v3.signatures.map((s) => [s.tag, s.pubkeyAlgo, s.range]),
    [
      [268, 'RSA', 'header'],
      [1002, 'RSA', 'header+payload'],
    ],
  );
  await assert.rejects(readRpmFile(path.join(dir, 'fx-main.rpm'), { keyring: right, requireSignature: true }), (e) => isIngotError(e, 'RPM_UNSIGNED'));
  await assert.rejects(readKeyring([{ name: 'junk', bytes: Buffer.from('not a key') }]), (e) => isIngotError(e, 'KEYRING_INVALID'));
});

test('tampering is caught: header, signature, payload and file content', async () => {
  const right = await keyring('rsa', 'eddsa');
  const tamper = async (f: string, at: (b: Buffer, head: RpmHead) => number): Promise<string> => {
    const b = fs.readFileSync(path.join(dir, f));
    const { head } = await parseRpm(b);
    const i = at(b, head);
    b[i] = b[i]! ^ 0x20;
    const out = path.join(work, `tampered-${i}-${f}`);
    fs.writeFileSync(out, b);
    return out;
  };
  // A byte of the main header's data: header digests and the header signature are BAD.
  const hdr = await tamper('fx-main-rsa.rpm', (b, h) => b.indexOf('fixtures.invalid', h.headerStart));
  const hc = await verifyRpmFile(hdr, right);
  assert.deepEqual(ourK(hc), rpmK(hdr));
  assert.deepEqual(hc.map((c) => c.status), ['bad', 'bad', 'bad', 'ok', 'bad', 'ok']);
  await assert.rejects(readRpmFile(hdr), (e) => isIngotError(e, 'RPM_DIGEST_MISMATCH'));
  await assert.rejects(readPackageInfo(hdr), (e) => isIngotError(e, 'RPM_DIGEST_MISMATCH'));
  // A byte of the signature packet itself.
  const sig = await tamper('fx-gzip-eddsa.rpm', (_b, h) => h.signatureStart + 16 + 16 * h.signature.il + h.signature.get(267)!.offset + 30);
  const sc = await verifyRpmFile(sig, right);
  assert.equal(sc[0]!.status, 'bad');
  assert.equal(rpmK(sig)[0], `${sc[0]!.label}: BAD`);
  // A byte of the compressed payload: rpm -K and our iteration both fail.
  const pl = await tamper('fx-main.rpm', (b) => b.length - 5000);
  const pc = await verifyRpmFile(pl);
  assert.equal(pc.find((c) => c.label === 'Payload SHA256 digest')!.status, 'bad');
  assert.ok(rpmK(pl).some((l) => l.startsWith('Payload SHA256 digest: BAD')));
  await assert.rejects(
    (async () => {
      for await (const e of rpmFileEntries(pl)) for await (const _ of e.body) void _;
    })(),
    (e) => isIngotError(e) && ['RPM_DIGEST_MISMATCH', 'DECOMPRESS_FAILED', 'CPIO_INVALID'].includes(e.code),
  );
  // An uncompressed payload with one byte of a file changed: that file's digest fails first.
  const fileByte = await tamper('fx-none.rpm', (b) => b.indexOf('small\n'));
  await assert.rejects(
    (async () => {
      for await (const e of rpmFileEntries(fileByte)) void e;
    })(),
    (e) => isIngotError(e, 'RPM_DIGEST_MISMATCH') && e.data['path'] === '/usr/share/fx-none/small.txt',
  );
  // Truncation anywhere.
  const full = fs.readFileSync(path.join(dir, 'fx-arch.rpm'));
  for (const n of [0, 50, 100, 200, 4000, full.length - 1]) {
    const p = path.join(work, `trunc-${n}.rpm`);
    fs.writeFileSync(p, full.subarray(0, n));
    await assert.rejects(
      (async () => {
        for await (const e of rpmFileEntries(p)) void e;
      })(),
      (e) => isIngotError(e) && ['RPM_INVALID', 'DECOMPRESS_FAILED', 'CPIO_INVALID', 'RPM_DIGEST_MISMATCH'].includes(e.code),
      `truncated at ${n}`,
    );
  }
});

// ---------------------------------------------------------------------------------------------

test('ingot pkg info prints what rpm -qpi prints; pkg contents what rpm -qplv prints', async () => {
  for (const f of fixtures()) {
    const file = path.join(dir, f);
    const info = ingot(['pkg', 'info', file], { env: UTC });
    assert.equal(info.status, 0, info.stderr);
    assert.equal(info.stdout, rpmOut(['-qpi', file]), `${f}: info`);
    const contents = ingot(['pkg', 'contents', file], { env: UTC });
    assert.equal(contents.status, 0, contents.stderr);
    assert.equal(contents.stdout, rpmOut(['-qplv', file]), `${f}: contents`);
  }
  const json = JSON.parse(ingot(['pkg', 'info', '--json', path.join(dir, 'fx-main.rpm')]).stdout);
  assert.equal(json.family, 'rpm');
  assert.equal(json.name, 'fx-main');
  assert.equal(json.extra.nevra, 'fx-main-2:1.2.3-4.fx.noarch');
  const files = JSON.parse(ingot(['pkg', 'contents', '--json', path.join(dir, 'fx-main.rpm')]).stdout);
  assert.equal(files.length, 25);
  const junk = path.join(work, 'junk.bin');
  fs.writeFileSync(junk, 'hello world');
  const r = ingot(['pkg', 'info', '--json', junk]);
  assert.equal(r.status, 1);
  assert.equal(JSON.parse(r.stderr).error.code, 'PACKAGE_FORMAT_UNKNOWN');
  const trunc = path.join(work, 'trunc.rpm');
  fs.writeFileSync(trunc, fs.readFileSync(path.join(dir, 'fx-main.rpm')).subarray(0, 3000));
  const t = ingot(['pkg', 'info', trunc]);
  assert.equal(t.status, 1);
  assert.match(t.stderr, /^error\[RPM_INVALID\]: .*the file ends inside the signature header/);
});

test('package-file dispatches on the magic bytes', async () => {
  assert.equal(detectPackageFormat(path.join(dir, 'fx-main.rpm')), 'rpm');
  const renamed = path.join(work, 'package.deb');
  fs.copyFileSync(path.join(dir, 'fx-arch.rpm'), renamed);
  assert.equal((await readPackageInfo(renamed)).family, 'rpm');
  assert.equal((await listPackageContents(renamed))[0]!.path, '/usr/lib64/libfx.so.1');
  // A .deb goes to the Debian reader.
  const root = path.join(work, 'debroot');
  fs.mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr', 'share'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr', 'share', 'f'), 'x');
  fs.writeFileSync(path.join(root, 'DEBIAN', 'control'), 'Package: fx-deb\nVersion: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.com>\nDescription: d\n');
  const deb = path.join(work, 'fx-deb.rpm');
  runOk('dpkg-deb', ['--build', '--root-owner-group', root, deb]);
  assert.equal(detectPackageFormat(deb), 'deb');
  const info = await readPackageInfo(deb);
  assert.deepEqual([info.family, info.name, info.version, info.release], ['deb', 'fx-deb', '1.0', '1']);
  assert.ok((await listPackageContents(deb)).some((x) => x.path === '/usr/share/f'));
  await assert.rejects(readPackageInfo(path.join(work, 'missing.rpm')), (e) => isIngotError(e, 'IO_ERROR'));
});
