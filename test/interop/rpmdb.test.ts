/**
 * The rpmdb writer (src/compose/pkgdb/rpmdb.ts) against the real rpm 4.18, on the packages
 * built by rpmbuild from test/fixtures/rpm (test/fixtures/build-rpms.sh):
 *
 * - a tree made of the packages' payloads (rpm2cpio | cpio) plus ingot's database is queried
 *   by rpm without any rebuild: -qa, -q, -qf, -ql, --requires, --provides, --whatprovides,
 *   --whatrequires, -V (clean, and it sees edits), `-e --test` (installed dependencies);
 * - the database equals the one `SOURCE_DATE_EPOCH=T rpm -i --justdb --nodeps` writes, given
 *   the packages in rpm's order: the same schema, Packages blobs byte for byte (signature and
 *   install-time dribbles included, with signed packages too), the same rows in every index
 *   table;
 * - rpmdb --verifydb passes, --rebuilddb keeps every package, rpm installs on top of it; the
 *   file is self-contained (no WAL) and reproducible;
 * - the tmpfiles.d snippet makes /var/lib/rpm work after systemd-tmpfiles.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { isIngotError } from '../../src/core/errors.js';
import { parseRpm, rpmPackage } from '../../src/codecs/rpm/index.js';
import { installedHeader, readRpmDbPackage, richIndexKeys, RPMDB_INDEXES, writeRpmDb, type RpmDbPackage } from '../../src/compose/pkgdb/rpmdb.js';
import { PKGDB_TMPFILES, writePkgdbTmpfiles } from '../../src/compose/pkgdb/tmpfiles.js';
import { cleanup, ROOT, run, runOk, tmpdir } from '../helpers.js';

const DBPATH = '/usr/lib/sysimage/rpm';
const SDE = 1700000000;
const SET = ['fx-main', 'fx-empty', 'fx-zstd', 'fx-gzip', 'fx-arch'];
const SIGNED_SET = ['fx-main-rsa-v3', 'fx-gzip-eddsa', 'fx-xz', 'fx-none', 'fx-bzip2', 'fx-lzma', 'fx-empty'];

let dir = '';
let work = '';
let tree = '';

const rpmFile = (n: string): string => path.join(dir, `${n}.rpm`);

function rpm(root: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const r = run('rpm', ['--root', root, '--dbpath', DBPATH, ...args], { env: { TZ: 'UTC', ...env } });
  // Debian's rpm warns about alien on every write; nothing else may appear on stderr.
  r.stderr = r.stderr
    .split('\n')
    .filter((l) => l !== '' && !l.includes('RPM should not be used directly') && !l.includes('assuming you know what you are doing'))
    .join('\n');
  return r;
}

function rpmOk(root: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = rpm(root, args, env);
  assert.equal(r.status, 0, `rpm ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  assert.equal(r.stderr, '', `rpm ${args.join(' ')} printed on stderr`);
  return r.stdout;
}

/** A root with the users the fixtures name, so that rpm -V can map owners. */
function newRoot(name: string): string {
  const r = path.join(work, name);
  fs.mkdirSync(path.join(r, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  fs.writeFileSync(path.join(r, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return r;
}

const IDS: Record<string, number> = { root: 0, nobody: 65534, nogroup: 65534 };

/** Unpacks a package's payload with rpm2cpio | cpio, then gives files the owners the header names. */
async function unpack(root: string, file: string): Promise<void> {
  runOk('bash', ['-c', 'rpm2cpio "$1" | cpio -idmu --quiet', 'unpack', file], { cwd: root });
  const { head } = await parseRpm(fs.readFileSync(file));
  for (const f of rpmPackage(head.header).files) {
    if (f.user === 'root' && f.group === 'root') continue;
    const p = path.join(root, f.path);
    if (fs.existsSync(p)) fs.lchownSync(p, IDS[f.user]!, IDS[f.group]!);
  }
}

async function load(names: string[]): Promise<RpmDbPackage[]> {
  return Promise.all(names.map((n) => readRpmDbPackage(rpmFile(n))));
}

const heads = new Map<string, Awaited<ReturnType<typeof parseRpm>>['head']>();

before(async () => {
  dir = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  for (const n of [...SET, ...SIGNED_SET]) heads.set(rpmFile(n), (await parseRpm(fs.readFileSync(rpmFile(n)))).head);
  work = tmpdir('ingot-rpmdb-');
  tree = newRoot('tree');
  for (const n of SET) await unpack(tree, rpmFile(n));
  writeRpmDb(tree, await load(SET), { installTime: SDE });
});

after(() => cleanup(work));

test('rpm -qa lists exactly the set, with no warning', () => {
  const nevras = rpmOk(tree, ['-qa', '--qf', '%{NEVRA}\\n']).trim().split('\n').sort();
  assert.deepEqual(nevras, ['fx-arch-0.1-1.x86_64', 'fx-empty-0-0.noarch', 'fx-gzip-1.0-1.noarch', 'fx-main-2:1.2.3-4.fx.noarch', 'fx-zstd-1.0-1.noarch']);
  // Packages are in the order given (hnum), and each has the install-time tags.
  assert.deepEqual(rpmOk(tree, ['-qa', '--qf', '%{NAME} %{DBINSTANCE} %{INSTALLTIME} %{INSTALLTID} %{INSTALLCOLOR}\\n']).trim().split('\n'), [
    `fx-main 1 ${SDE} ${SDE} 3`,
    `fx-empty 2 ${SDE + 1} ${SDE} 3`,
    `fx-zstd 3 ${SDE + 2} ${SDE} 3`,
    `fx-gzip 4 ${SDE + 3} ${SDE} 3`,
    `fx-arch 5 ${SDE + 4} ${SDE} 3`,
  ]);
  for (const n of SET) assert.equal(rpmOk(tree, ['-q', '--qf', '%{NAME}', n]), n);
  const absent = rpm(tree, ['-q', 'fx-xz']);
  assert.notEqual(absent.status, 0);
  assert.match(absent.stdout, /not installed/);
});

test('rpm -qf finds the owner of files, directories, symlinks and ghosts', () => {
  const cases: [string, string][] = [
    ['/usr/share/fx/data.txt', 'fx-main'],
    ['/usr/share/fx', 'fx-main'],
    ['/usr/bin/fx-link', 'fx-main'],
    ['/var/log/fx.log', 'fx-main'],
    ['/usr/share/fx/ünïcödé.txt', 'fx-main'],
    ['/usr/share/fx/name with spaces.txt', 'fx-main'],
    ['/usr/lib64/libfx.so.1', 'fx-arch'],
    ['/usr/share/fx-zstd/numbers.txt', 'fx-zstd'],
    ['/usr/share/fx-gzip/link', 'fx-gzip'],
  ];
  for (const [p, owner] of cases) assert.equal(rpmOk(tree, ['-qf', '--qf', '%{NAME}\\n', p]).trim(), owner, p);
  const none = rpm(tree, ['-qf', '/etc/passwd']);
  assert.notEqual(none.status, 0);
  assert.match(none.stdout, /is not owned by any package/);
});

test('rpm -ql, --requires, --provides and --scripts agree with the package files', () => {
  for (const n of SET) {
    const f = rpmFile(n);
    for (const q of [['-l'], ['--requires'], ['--provides'], ['--conflicts'], ['--obsoletes'], ['--recommends'], ['--suggests'], ['--supplements'], ['--enhances'], ['--scripts'], ['--triggers'], ['--changelog'], ['-i'], ['--dump']]) {
      const installed = rpmOk(tree, ['-q', ...q, n]);
      const file = runOk('rpm', ['-qp', ...q, f], { env: { TZ: 'UTC' } });
      if (q[0] === '-i') {
        // -qi of an installed package shows the install date; -qpi shows "(not installed)".
        assert.equal(installed.replace(/^Install Date:.*$/m, ''), file.replace(/^Install Date:.*$/m, ''), `${n} ${q}`);
        assert.match(installed, /^Install Date: Tue Nov 14 22:13:2[0-4] 2023$/m);
      } else {
        assert.equal(installed, file, `${n} ${q}`);
      }
    }
  }
  assert.ok(rpmOk(tree, ['-ql', 'fx-main']).includes('/usr/share/fx/hard-c\n'));
  assert.equal(rpmOk(tree, ['-ql', 'fx-empty']), '(contains no files)\n');
});

test('rpm --whatprovides / --whatrequires / --whatrecommends use the indexes', () => {
  const q = (args: string[]): string[] => rpmOk(tree, ['-q', '--qf', '%{NAME}\\n', ...args]).trim().split('\n').sort();
  assert.deepEqual(q(['--whatprovides', 'fx-virtual']), ['fx-main']);
  assert.deepEqual(q(['--whatprovides', 'fx-arch(x86-64)']), ['fx-arch']);
  assert.deepEqual(q(['--whatprovides', 'config(fx-main)']), ['fx-main']);
  assert.deepEqual(q(['--whatprovides', '/usr/share/fx/data.txt']), ['fx-main']);
  assert.deepEqual(q(['--whatrequires', 'fx-main']), ['fx-empty']);
  // Leaves of rich dependencies are indexed too.
  assert.deepEqual(q(['--whatrequires', 'fx-m-feature']), ['fx-main']);
  assert.deepEqual(q(['--whatrequires', 'perl(Fx::Mod)']), ['fx-main']);
  assert.deepEqual(q(['--whatrecommends', 'fx-rec']), ['fx-main']);
  assert.deepEqual(q(['--whatconflicts', 'fx-k']), ['fx-main']);
  assert.deepEqual(q(['--whatobsoletes', 'fx-legacy']), ['fx-main']);
  // Install-only requirements (post scriptlet, rpmlib) are not in Requirename, as rpm does.
  const none = rpm(tree, ['-q', '--whatrequires', 'fx-post-tool']);
  assert.match(none.stdout, /no package requires fx-post-tool/);
});

test('rpm -V is clean on the unpacked tree and sees edits', () => {
  for (const n of SET) {
    const r = rpm(tree, ['-V', '--nodeps', '--noscripts', n]);
    assert.equal(r.status, 0, `${n}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '', n);
    assert.equal(r.stderr, '', n);
  }
  // Verbose: every file was checked (no "(no state)"), the ghost reads as missing as with rpm's own database.
  const v = rpmOk(tree, ['-Vv', '--nodeps', '--noscripts', 'fx-main']);
  assert.doesNotMatch(v, /no state/);
  assert.match(v, /^\.{9} {2}c \/etc\/fx\/fx\.conf$/m);
  assert.match(v, /^missing {3}g \/var\/log\/fx\.log$/m);

  const copy = path.join(work, 'edited');
  runOk('cp', ['-a', tree, copy]);
  fs.appendFileSync(path.join(copy, 'usr/share/fx/data.txt'), 'more\n');
  fs.chmodSync(path.join(copy, 'usr/bin/fx'), 0o700);
  fs.rmSync(path.join(copy, 'usr/bin/fx-link'));
  fs.symlinkSync('elsewhere', path.join(copy, 'usr/bin/fx-link'));
  const r = rpm(copy, ['-V', '--nodeps', '--noscripts', 'fx-main']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^S\.5\.\.\.\.T\. {4}\/usr\/share\/fx\/data\.txt$/m);
  assert.match(r.stdout, /^\.M\.{7} {4}\/usr\/bin\/fx$/m);
  assert.match(r.stdout, /^\.{4}L\.{4} {4}\/usr\/bin\/fx-link$/m);
});

test('rpm -e --test sees the installed dependencies', () => {
  const r = rpm(tree, ['-e', '--test', 'fx-main']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /fx-main is needed by \(installed\) fx-empty-0-0\.noarch/);
  assert.equal(rpm(tree, ['-e', '--test', 'fx-empty']).status, 0);
});

/** Every table of an rpmdb: schema text and rows (keys in hex, with their storage class). */
function dumpDb(file: string): { schema: string[]; packages: Map<number, string>; tables: Map<string, string[]>; sequence: unknown[] } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const schema = (db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY rowid").all() as { sql: string }[]).map((r) => JSON.stringify(r));
    const packages = new Map((db.prepare("SELECT hnum, hex(blob) AS b FROM 'Packages'").all() as { hnum: number; b: string }[]).map((r) => [r.hnum, r.b]));
    const tables = new Map<string, string[]>();
    for (const d of RPMDB_INDEXES) {
      const rows = db.prepare(`SELECT typeof(key) AS t, hex(key) AS k, hnum, idx FROM '${d.table}' ORDER BY rowid`).all() as { t: string; k: string; hnum: number; idx: number }[];
      tables.set(d.table, rows.map((r) => `${r.t} ${r.k} ${r.hnum} ${r.idx}`));
    }
    const sequence = db.prepare('SELECT * FROM sqlite_sequence').all();
    return { schema, packages, tables, sequence };
  } finally {
    db.close();
  }
}

/** Installs `names` with the real rpm (--justdb --nodeps) and writes ingot's database for them in rpm's order; returns both files. */
async function againstRpm(name: string, names: string[]): Promise<{ real: string; ours: string; order: string[] }> {
  const real = path.join(work, `${name}-rpm`);
  fs.mkdirSync(real);
  const r = rpm(real, ['-i', '--justdb', '--nodeps', ...names.map(rpmFile)], { SOURCE_DATE_EPOCH: String(SDE) });
  assert.equal(r.status, 0, r.stderr);
  const realDb = path.join(real, DBPATH, 'rpmdb.sqlite');
  const db = new Database(realDb, { readonly: true });
  const order = (db.prepare("SELECT key FROM 'Name' ORDER BY hnum").all() as { key: string }[]).map((x) => x.key);
  db.close();
  const byName = new Map(names.map((n) => [heads.get(rpmFile(n))!.header.string(1000)!, n]));
  const ours = path.join(work, `${name}-ingot`);
  writeRpmDb(ours, await load(order.map((n) => byName.get(n)!)), { installTime: SDE });
  return { real: realDb, ours: path.join(ours, DBPATH, 'rpmdb.sqlite'), order };
}

for (const [name, names] of [
  ['plain', SET],
  ['signed', SIGNED_SET],
] as const) {
  test(`the database equals what rpm -i --justdb writes (${name} packages)`, async () => {
    const { real, ours, order } = await againstRpm(name, [...names]);
    assert.equal(order.length, names.length);
    const a = dumpDb(real);
    const b = dumpDb(ours);
    assert.deepEqual(b.schema, a.schema);
    assert.deepEqual(b.sequence, a.sequence);
    assert.equal(b.packages.size, a.packages.size);
    for (const [hnum, blob] of a.packages) assert.equal(b.packages.get(hnum), blob, `Packages blob of hnum ${hnum} (${order[hnum - 1]})`);
    for (const d of RPMDB_INDEXES) assert.deepEqual(b.tables.get(d.table), a.tables.get(d.table), `table ${d.table}`);
    // The comparison is not vacuous.
    assert.ok(a.tables.get('Basenames')!.length > 20 && a.tables.get('Requirename')!.length > 10 && a.tables.get('Sigmd5')!.length === names.length);
  });
}

test('rich dependency keys follow rpm (leaves sorted, negated conditions, rpmlib skipped)', () => {
  assert.deepEqual(richIndexKeys('(fx-c >= 1.0 and (fx-d if fx-e else fx-f))'), ['fx-c', 'fx-d', 'fx-e', 'fx-f', '!fx-e']);
  assert.deepEqual(richIndexKeys('(fx-t unless fx-u else fx-v)'), ['fx-t', 'fx-u', 'fx-v', '!fx-u']);
  assert.deepEqual(richIndexKeys('(fx-g if fx-h)'), ['fx-g', '!fx-h']);
  assert.deepEqual(richIndexKeys('(a or (b and rpmlib(Foo) >= 1) or a)'), ['a', 'b']);
  // A negation inside a condition flips back: d is in a positive position.
  assert.deepEqual(richIndexKeys('(a if (b or (c unless d)))'), ['a', 'd', '!b', '!c']);
  assert.equal(richIndexKeys('(a or'), undefined);
});

const RICH_SPEC = `Name: fx-rich
Version: 1
Release: 1
Summary: rich dependencies of many shapes
License: MIT
BuildArch: noarch
Requires: (a1 if (b1 or c1) else (d1 if e1 else f1))
Requires: ((a2 with b2) and (c2 without d2) and (e2 if f2 else g2))
Requires: (z3 and (y3 if x3) and rpmlib(Foo) >= 1 and (w3 or w3))
Requires: (\u00fc4 or a4)
Recommends: (a5 if (b5 and (c5 if d5)))
Suggests: (a6 if b6 else (c6 if d6 else e6))
Supplements: (a7 unless (b7 or (c7 unless d7)))
Supplements: ((a8 unless b8 else c8) or d8)
Enhances: (a9 unless b9)
Conflicts: (a10 or (b10 unless c10))
%description
Rich dependencies.
%files
`;

test('rich dependencies of every shape are indexed as rpm indexes them', async () => {
  const top = path.join(work, 'rich');
  fs.mkdirSync(top);
  fs.writeFileSync(path.join(top, 'fx-rich.spec'), RICH_SPEC);
  runOk('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, path.join(top, 'fx-rich.spec')]);
  const file = path.join(top, 'RPMS/noarch/fx-rich-1-1.noarch.rpm');
  const real = path.join(work, 'rich-rpm');
  fs.mkdirSync(real);
  assert.equal(rpm(real, ['-i', '--justdb', '--nodeps', file], { SOURCE_DATE_EPOCH: String(SDE) }).status, 0);
  const ours = path.join(work, 'rich-ingot');
  writeRpmDb(ours, [await readRpmDbPackage(file)], { installTime: SDE });
  const a = dumpDb(path.join(real, DBPATH, 'rpmdb.sqlite'));
  const b = dumpDb(path.join(ours, DBPATH, 'rpmdb.sqlite'));
  for (const d of RPMDB_INDEXES) assert.deepEqual(b.tables.get(d.table), a.tables.get(d.table), `table ${d.table}`);
  assert.deepEqual(b.packages, a.packages);
  assert.equal(a.tables.get('Supplementname')!.length, 11);
});

test('rpmdb --verifydb passes, --rebuilddb keeps every package, rpm installs on top', () => {
  rpmOk(tree, ['--verifydb']);
  const copy = path.join(work, 'rebuilt');
  runOk('cp', ['-a', tree, copy]);
  const before = rpmOk(copy, ['-qa', '--qf', '%{NEVRA} %{INSTALLTIME}\\n']).split('\n').sort();
  const r = run('rpmdb', ['--root', copy, '--dbpath', DBPATH, '--rebuilddb']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /skipping|bad/);
  assert.deepEqual(rpmOk(copy, ['-qa', '--qf', '%{NEVRA} %{INSTALLTIME}\\n']).split('\n').sort(), before);
  rpmOk(copy, ['-i', '--justdb', '--nodeps', rpmFile('fx-xz')]);
  assert.equal(rpmOk(copy, ['-qa']).trim().split('\n').length, SET.length + 1);
  rpmOk(copy, ['-e', '--justdb', '--nodeps', 'fx-gzip']);
  assert.deepEqual(rpmOk(copy, ['-qa', '--qf', '%{NAME}\\n']).trim().split('\n').sort(), ['fx-arch', 'fx-empty', 'fx-main', 'fx-xz', 'fx-zstd']);
});

test('the database is one self-contained, reproducible file that scanners can copy', async () => {
  const dbdir = path.join(tree, DBPATH);
  assert.deepEqual(fs.readdirSync(dbdir).sort(), ['.rpm.lock', 'rpmdb.sqlite']);
  const file = path.join(dbdir, 'rpmdb.sqlite');
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
  // Rollback journal (1), not WAL (2): readable without -shm on a read-only /usr.
  assert.deepEqual([bytes[18], bytes[19]], [1, 1]);
  assert.equal(bytes.readUInt16BE(16), 4096);
  // go-rpmdb / syft: copy the single file, SELECT blob FROM Packages.
  const copy = path.join(work, 'scanner.sqlite');
  fs.copyFileSync(file, copy);
  const db = new Database(copy, { readonly: true });
  assert.equal((db.prepare('SELECT count(*) AS n FROM Packages').get() as { n: number }).n, SET.length);
  assert.equal((db.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check, 'ok');
  assert.deepEqual(db.pragma('foreign_key_check'), []);
  db.close();
  // Same input, same bytes.
  const again = path.join(work, 'again');
  writeRpmDb(again, await load(SET), { installTime: SDE });
  assert.ok(fs.readFileSync(path.join(again, DBPATH, 'rpmdb.sqlite')).equals(bytes));
  // Rewriting replaces the database (and drops a stale WAL).
  fs.writeFileSync(path.join(again, DBPATH, 'rpmdb.sqlite-wal'), 'stale');
  writeRpmDb(again, await load(['fx-xz']), { installTime: SDE });
  assert.deepEqual(fs.readdirSync(path.join(again, DBPATH)).sort(), ['.rpm.lock', 'rpmdb.sqlite']);
  assert.equal(rpmOk(again, ['-qa', '--qf', '%{NAME}\\n']), 'fx-xz\n');
});

test('an unprivileged user can query the database in a read-only directory', () => {
  // A WAL database (what rpm leaves) needs a writable -shm file to be opened; a tree's /usr is
  // read-only, so ingot writes rollback-journal mode.
  const ro = fs.mkdtempSync(path.join(os.tmpdir(), 'ingot-rpmdb-ro-'));
  try {
    runOk('cp', ['-a', tree, path.join(ro, 'tree')]);
    runOk('chmod', ['-R', 'a-w,a+rX', ro]);
    const r = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'rpm', '--root', path.join(ro, 'tree'), '--dbpath', DBPATH, '-qa', '--qf', '%{NAME}\\n']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.stdout.trim().split('\n'), SET);
  } finally {
    runOk('chmod', ['-R', 'u+w', ro]);
    fs.rmSync(ro, { recursive: true, force: true });
  }
});

test('file states: a file recorded as not installed is not verified', async () => {
  const root = newRoot('states');
  await unpack(root, rpmFile('fx-gzip'));
  const [pkg] = await load(['fx-gzip']);
  const files = rpmPackage(heads.get(rpmFile('fx-gzip'))!.header).files;
  const i = files.findIndex((f) => f.path === '/usr/share/fx-gzip/numbers.txt');
  const states = files.map((_, k) => (k === i ? 2 : 0));
  fs.rmSync(path.join(root, 'usr/share/fx-gzip/numbers.txt'));
  writeRpmDb(root, [{ ...pkg!, fileStates: states }], { installTime: SDE });
  assert.equal(rpmOk(root, ['-V', '--nodeps', '--noscripts', 'fx-gzip']), '');
  assert.match(rpmOk(root, ['-q', '--qf', '[%{FILESTATES:fstate} %{FILENAMES}\\n]', 'fx-gzip']), /^not installed \/usr\/share\/fx-gzip\/numbers\.txt$/m);
});

test('bad input: a package given twice, a source package, a foreign byte order', async () => {
  const [main] = await load(['fx-main']);
  assert.throws(
    () => writeRpmDb(path.join(work, 'dup'), [main!, main!], { installTime: SDE }),
    (e: unknown) => isIngotError(e, 'PKGDB_INVALID') && /given twice/.test((e as Error).message),
  );
  assert.ok(!fs.existsSync(path.join(work, 'dup')), 'nothing is written on bad input');

  const top = path.join(work, 'srpm');
  runOk('rpmbuild', ['-bs', '--quiet', '--define', `_topdir ${top}`, path.join(ROOT, 'test/fixtures/rpm/fx-empty.spec')]);
  const srpm = path.join(top, 'SRPMS', fs.readdirSync(path.join(top, 'SRPMS'))[0]!);
  const src = await readRpmDbPackage(srpm);
  assert.throws(() => installedHeader(src, { installTime: SDE, installTid: SDE, color: 3 }), (e: unknown) => isIngotError(e, 'RPM_INVALID') && /source package/.test((e as Error).message));

  // A big-endian target stores Installtid in its order (rpm writes the host's).
  const be = path.join(work, 'be');
  writeRpmDb(be, [main!], { installTime: 0x01020304, arch: 's390x' });
  const db = new Database(path.join(be, DBPATH, 'rpmdb.sqlite'), { readonly: true });
  assert.deepEqual(db.prepare("SELECT hex(key) AS k FROM 'Installtid'").all(), [{ k: '01020304' }]);
  db.close();
});

test('tmpfiles.d snippet: /var/lib/rpm works after systemd-tmpfiles', () => {
  const root = path.join(work, 'tmpfiles');
  runOk('cp', ['-a', tree, root]);
  const file = writePkgdbTmpfiles(root, 'rpm');
  assert.equal(file, path.join(root, PKGDB_TMPFILES));
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /^L \/var\/lib\/rpm - - - - \.\.\/\.\.\/usr\/lib\/sysimage\/rpm$/m);
  assert.doesNotMatch(text, /dpkg/);
  runOk('systemd-tmpfiles', ['--create', `--root=${root}`, file]);
  assert.equal(fs.readlinkSync(path.join(root, 'var/lib/rpm')), '../../usr/lib/sysimage/rpm');
  const r = run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-qa']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, SET.length);
});
