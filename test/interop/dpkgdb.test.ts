/**
 * The dpkg database writer (src/compose/pkgdb/dpkg.ts) against the real dpkg 1.21, on the
 * fixture packages built by dpkg-deb (test/fixtures/build-debs.sh: hello with conffiles,
 * maintainer scripts, a debconf config script, triggers, hard links and long names; libfoo1,
 * Multi-Arch: same, without md5sums; bigdata) plus two made here with dpkg-deb: libfoo1 for
 * i386 (a second Multi-Arch: same instance) and a package whose control file needs dpkg's
 * normalisations (upper-case name, `0:` epoch, `Priority: Optional`, `Multi-Arch: No`,
 * Essential, the obsolete Recommended field, an empty field, relation spacing, explicit and
 * file trigger interests).
 *
 * - a tree unpacked with src/sources/extract.ts plus ingot's database is read by dpkg-query
 *   (-W, -L, -S, -s) and dpkg (--verify clean and seeing edits, --audit quiet), and dpkg
 *   removes and installs packages on top of it;
 * - the database equals, file by file and byte for byte, the one `dpkg -i` writes for the same
 *   packages into an empty admin directory, except for the files dpkg makes as it runs (lock,
 *   lock-frontend, status-old) and the empty ones ingot adds (available, diversions,
 *   statoverride);
 * - the tmpfiles.d snippet makes /var/lib/dpkg work after systemd-tmpfiles.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isIngotError } from '../../src/core/errors.js';
import { extractDebData } from '../../src/sources/extract.js';
import { DPKG_ADMINDIR, planDpkgDb, readDpkgDbPackage, writeDpkgDb, type DpkgDbPackage } from '../../src/compose/pkgdb/dpkg.js';
import { PKGDB_TMPFILES, writePkgdbTmpfiles } from '../../src/compose/pkgdb/tmpfiles.js';
import { cleanup, describeTree, run, runOk, tmpdir, treeDiff } from '../helpers.js';
import { fixture } from '../fixtures/deb/helpers.js';

let work = '';
let tree = '';
let admin = '';
let debs: string[] = [];
let pkgs: DpkgDbPackage[] = [];

const ODD_CONTROL = `Package: Odd-Name
Version: 0:1.0-1
Architecture: all
Maintainer: X <x@example.invalid>
Priority: Optional
Multi-Arch: No
Essential: yes
Protected: no
Section: misc
Origin: ingot
Bugs: mailto:x@example.invalid
Depends: foo (>= 0:1.0),   bar   (<< 2) |baz, qux:any
Provides: odd-virtual (= 1)
Recommended: old-rec
X-Empty: 
Description: odd
 long.
 .
 more
`;

/** Builds the two extra packages with dpkg-deb. */
function buildExtra(): string[] {
  const odd = path.join(work, 'odd');
  fs.mkdirSync(path.join(odd, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(odd, 'usr/share/odd'), { recursive: true });
  fs.writeFileSync(path.join(odd, 'usr/share/odd/f'), 'hi\n');
  fs.writeFileSync(path.join(odd, 'DEBIAN/control'), ODD_CONTROL);
  fs.writeFileSync(path.join(odd, 'DEBIAN/conffiles'), '/usr/share/odd/f\n');
  fs.writeFileSync(path.join(odd, 'DEBIAN/triggers'), '# interests\ninterest /usr/share/odd\ninterest-noawait odd-trigger\n  interest-await odd-trigger2  \nactivate-noawait ldconfig\n');
  const oddDeb = path.join(work, 'odd.deb');
  runOk('dpkg-deb', ['--build', '--root-owner-group', odd, oddDeb]);

  const i386 = path.join(work, 'libfoo1-i386');
  runOk('dpkg-deb', ['-R', fixture('libfoo1', 'gzip'), i386]);
  const ctl = path.join(i386, 'DEBIAN/control');
  fs.writeFileSync(ctl, fs.readFileSync(ctl, 'utf8').replace('Architecture: amd64', 'Architecture: i386'));
  fs.renameSync(path.join(i386, 'usr/lib/x86_64-linux-gnu'), path.join(i386, 'usr/lib/i386-linux-gnu'));
  const i386Deb = path.join(work, 'libfoo1_i386.deb');
  runOk('dpkg-deb', ['--build', '--root-owner-group', i386, i386Deb]);
  return [oddDeb, i386Deb];
}

before(async () => {
  work = tmpdir('ingot-dpkgdb-');
  const [oddDeb, i386Deb] = buildExtra();
  debs = [fixture('hello', 'xz'), fixture('libfoo1', 'zstd'), i386Deb!, fixture('bigdata', 'gzip'), oddDeb!];
  tree = path.join(work, 'tree');
  fs.mkdirSync(tree);
  for (const d of debs) await extractDebData(d, tree);
  pkgs = await Promise.all(debs.map((d) => readDpkgDbPackage(d)));
  writeDpkgDb(tree, pkgs, { arch: 'amd64' });
  admin = path.join(tree, DPKG_ADMINDIR);
});

after(() => cleanup(work));

function query(args: string[]): string {
  return runOk('dpkg-query', ['--admindir', admin, ...args]);
}

function dpkg(root: string, adminDir: string, args: string[]): { status: number; stdout: string; stderr: string } {
  return run('dpkg', ['--root', root, '--admindir', adminDir, '--force-script-chrootless', ...args]);
}

test('dpkg-query -W lists exactly the set, with versions and status', () => {
  assert.equal(query(['-W']), 'bigdata\t0.1\nhello\t1:2.10-3+b1\nlibfoo1:amd64\t1.0-1\nlibfoo1:i386\t1.0-1\nodd-name\t1.0-1\n');
  assert.equal(
    query(['-W', '-f', '${binary:Package} ${db:Status-Abbrev} ${Status} ${source:Package} ${source:Version}\\n']),
    [
      'bigdata ii  install ok installed bigdata 0.1',
      'hello ii  install ok installed hello-src 2.10-3',
      'libfoo1:amd64 ii  install ok installed libfoo1 1.0-1',
      'libfoo1:i386 ii  install ok installed libfoo1 1.0-1',
      'odd-name ii  install ok installed odd-name 1.0-1',
      '',
    ].join('\n'),
  );
  const r = run('dpkg-query', ['--admindir', admin, '-W', 'not-there']);
  assert.notEqual(r.status, 0);
});

/** The data archive's member names as dpkg records them, from dpkg-deb and tar. */
function tarList(deb: string): string[] {
  const names = runOk('bash', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -t', 'list', deb]).split('\n').filter(Boolean);
  return names.map((n) => (n === './' ? '/.' : n.replace(/^\./, '').replace(/\/$/, '')));
}

test('dpkg-query -L lists every member in archive order; -S finds owners', () => {
  assert.deepEqual(query(['-L', 'hello']).trim().split('\n'), tarList(debs[0]!));
  assert.deepEqual(query(['-L', 'libfoo1:amd64']).trim().split('\n'), tarList(debs[1]!));
  assert.deepEqual(query(['-L', 'libfoo1:i386']).trim().split('\n'), tarList(debs[2]!));
  assert.equal(query(['-S', '/usr/bin/hello']), 'hello: /usr/bin/hello\n');
  assert.equal(query(['-S', '/usr/bin/hi']), 'hello: /usr/bin/hi\n');
  assert.equal(query(['-S', '/usr/share/doc/hello/grüße-日本.txt']), 'hello: /usr/share/doc/hello/grüße-日本.txt\n');
  assert.equal(query(['-S', '/usr/lib/i386-linux-gnu/libfoo.so.1']), 'libfoo1:i386: /usr/lib/i386-linux-gnu/libfoo.so.1\n');
  assert.equal(query(['-S', '/usr/share/odd/f']), 'odd-name: /usr/share/odd/f\n');
  assert.equal(query(['-S', '/usr/lib']), 'libfoo1:i386, libfoo1:amd64, hello: /usr/lib\n');
  assert.notEqual(run('dpkg-query', ['--admindir', admin, '-S', '/etc/passwd']).status, 0);
});

test('dpkg-query -s shows the status stanza in dpkg order', () => {
  const s = query(['-s', 'hello']);
  const names = s.split('\n').filter((l) => /^[A-Z][^:]*:/.test(l)).map((l) => l.slice(0, l.indexOf(':')));
  assert.deepEqual(names, [
    'Package', 'Status', 'Priority', 'Section', 'Installed-Size', 'Maintainer', 'Architecture', 'Multi-Arch', 'Source', 'Version',
    'Replaces', 'Provides', 'Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Enhances', 'Conffiles',
    'Description', 'Homepage', 'X-Ingot-Test',
  ]);
  assert.match(s, /^Conffiles:\n \/etc\/hello\/hello\.conf [0-9a-f]{32}\n \/etc\/hello\/other\.conf [0-9a-f]{32}\n/m);
  assert.match(query(['-s', 'odd-name']), /^Package: odd-name\nEssential: yes\nStatus: install ok installed\nPriority: optional\n/);
});

test('dpkg --verify is clean and sees edits; dpkg --audit is quiet', () => {
  const v = dpkg(tree, admin, ['--verify']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout + v.stderr, '');
  const audit = dpkg(tree, admin, ['--audit']);
  assert.equal(audit.status, 0);
  assert.equal(audit.stdout + audit.stderr, '');

  const copy = path.join(work, 'edited');
  runOk('cp', ['-a', tree, copy]);
  fs.appendFileSync(path.join(copy, 'etc/hello/hello.conf'), 'edited\n');
  fs.appendFileSync(path.join(copy, 'usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0'), 'x');
  fs.appendFileSync(path.join(copy, 'usr/share/bigdata/text.txt'), 'x');
  const r = dpkg(copy, path.join(copy, DPKG_ADMINDIR), ['--verify']);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), [
    '??5??????   /usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0',
    '??5??????   /usr/share/bigdata/text.txt',
    '??5?????? c /etc/hello/hello.conf',
  ]);
});

function adminFiles(dir: string): Map<string, { mode: number; data: Buffer | null }> {
  const out = new Map<string, { mode: number; data: Buffer | null }>();
  const walk = (abs: string, rel: string): void => {
    for (const n of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(p);
      out.set(r, { mode: st.mode & 0o7777, data: st.isDirectory() ? null : fs.readFileSync(p) });
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(dir, '');
  return out;
}

test('the database equals, file by file, what dpkg -i writes', () => {
  const real = path.join(work, 'real');
  const realAdmin = path.join(real, 'var/lib/dpkg');
  fs.mkdirSync(path.join(realAdmin, 'info'), { recursive: true });
  fs.mkdirSync(path.join(realAdmin, 'updates'));
  fs.writeFileSync(path.join(realAdmin, 'status'), '');
  assert.equal(dpkg(real, realAdmin, ['--add-architecture', 'i386']).status, 0);
  const r = dpkg(real, realAdmin, ['--force-depends', '-i', ...debs]);
  assert.equal(r.status, 0, r.stderr);
  const a = adminFiles(realAdmin);
  const b = adminFiles(admin);
  const onlyReal = [...a.keys()].filter((k) => !b.has(k));
  const onlyOurs = [...b.keys()].filter((k) => !a.has(k));
  assert.deepEqual(onlyReal.sort(), ['lock', 'lock-frontend', 'status-old']);
  assert.deepEqual(onlyOurs.sort(), ['available', 'diversions', 'statoverride']);
  for (const k of onlyOurs) assert.equal(b.get(k)!.data!.length, 0, k);
  let compared = 0;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) continue;
    assert.equal(w.mode.toString(8), v.mode.toString(8), `mode of ${k}`);
    if (v.data === null) assert.equal(w.data, null, `${k} is a directory`);
    else assert.equal(w.data?.toString('latin1'), v.data.toString('latin1'), `content of ${k}`);
    compared++;
  }
  assert.ok(compared >= 30, `only ${compared} files compared`);
  // What the comparison covered.
  for (const k of ['status', 'arch', 'info/format', 'info/libfoo1:i386.md5sums', 'info/hello.config', 'triggers/File', 'triggers/odd-trigger', 'triggers/Unincorp']) assert.ok(a.has(k), k);
});

test('dpkg removes and installs packages on top of the database', () => {
  const copy = path.join(work, 'ontop');
  runOk('cp', ['-a', tree, copy]);
  const a = path.join(copy, DPKG_ADMINDIR);
  let r = dpkg(copy, a, ['--force-depends', '-r', 'bigdata']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!fs.existsSync(path.join(copy, 'usr/share/bigdata/text.txt')));
  r = dpkg(copy, a, ['--force-depends', '--purge', 'hello']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!fs.existsSync(path.join(copy, 'etc/hello/hello.conf')), 'purge removes the conffiles it knows');
  assert.ok(!fs.existsSync(path.join(copy, 'usr/bin/hello')));
  r = dpkg(copy, a, ['--force-depends', '-i', fixture('bigdata', 'xz')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(runOk('dpkg-query', ['--admindir', a, '-W']), 'bigdata\t0.1\nlibfoo1:amd64\t1.0-1\nlibfoo1:i386\t1.0-1\nodd-name\t1.0-1\n');
  const v = dpkg(copy, a, ['--verify']);
  assert.equal(v.stdout + v.stderr, '');
});

test('the output is reproducible and the writer replaces an existing database', () => {
  const one = path.join(work, 'repro1');
  const two = path.join(work, 'repro2');
  writeDpkgDb(one, pkgs, { arch: 'amd64', mtime: 1700000000 });
  // Written twice in another order: the same database.
  writeDpkgDb(two, [...pkgs].reverse().slice(0, 2), { arch: 'amd64', mtime: 1 });
  writeDpkgDb(two, pkgs, { arch: 'amd64', mtime: 1700000000 });
  assert.deepEqual(treeDiff(describeTree(one), describeTree(two)), []);
  assert.equal(fs.statSync(path.join(one, DPKG_ADMINDIR, 'status')).mtimeMs, 1700000000 * 1000);
  assert.deepEqual(fs.readdirSync(path.join(two, path.dirname(DPKG_ADMINDIR))), ['dpkg']);
});

test('bad input: a package given twice, a newline in a path', () => {
  assert.throws(
    () => planDpkgDb([pkgs[0]!, pkgs[0]!], { arch: 'amd64' }),
    (e: unknown) => isIngotError(e, 'PKGDB_INVALID') && /given twice/.test((e as Error).message),
  );
  // Two Multi-Arch: same instances of one architecture are one package twice.
  assert.throws(() => planDpkgDb([pkgs[1]!, pkgs[1]!], { arch: 'amd64' }), (e: unknown) => isIngotError(e, 'PKGDB_INVALID'));
  assert.throws(
    () => planDpkgDb([{ ...pkgs[3]!, files: ['/.', '/usr/evil\nname'] }], { arch: 'amd64' }),
    (e: unknown) => isIngotError(e, 'PKGDB_INVALID') && /newline/.test((e as Error).message),
  );
  assert.throws(
    () => planDpkgDb([{ ...pkgs[3]!, control: 'Package: x\nVersion: a b\nArchitecture: all\n' }], { arch: 'amd64' }),
    (e: unknown) => isIngotError(e, 'DEB_CONTROL_INVALID'),
  );
  assert.ok(!fs.existsSync(path.join(work, 'never')));
});

test('tmpfiles.d snippet: /var/lib/dpkg works after systemd-tmpfiles', () => {
  const root = path.join(work, 'tmpfiles');
  runOk('cp', ['-a', tree, root]);
  const file = writePkgdbTmpfiles(root, 'deb');
  assert.equal(file, path.join(root, PKGDB_TMPFILES));
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /^L \/var\/lib\/dpkg - - - - \.\.\/\.\.\/usr\/lib\/sysimage\/dpkg$/m);
  assert.doesNotMatch(text, /rpm/);
  runOk('systemd-tmpfiles', ['--create', `--root=${root}`, file]);
  assert.equal(fs.readlinkSync(path.join(root, 'var/lib/dpkg')), '../../usr/lib/sysimage/dpkg');
  // dpkg's default admin directory under --root is /var/lib/dpkg.
  const r = run('dpkg', ['--root', root, '--verify']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '');
  assert.equal(runOk('dpkg-query', ['--admindir', path.join(root, 'var/lib/dpkg'), '-W', '-f', '${Package}\\n', 'hello']), 'hello\n');
});
