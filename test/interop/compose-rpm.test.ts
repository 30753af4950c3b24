/**
 * `ingot compose tree` of an RPM system, checked with the real rpm and ostree: packages built
 * by rpmbuild from test/fixtures/rpm/cx-compose.spec (test/fixtures/build-rpms.sh), indexed by
 * createrepo_c into an unsigned rpm-md repository (`gpgcheck: false`), composed from a
 * manifest that asks for cx-app only. cx-app has %pre (adds a user whose files it ships),
 * %post and %posttrans scriptlets, config files, a virtual dependency (cx-mta, provided by
 * cx-mail) and a file dependency (/usr/libexec/cx-helper, listed only in filelists.xml); the
 * shell the scriptlets need is cx-busybox's /bin/sh (the machine's static busybox), found
 * through a file dependency too.
 *
 * In a checkout of the commit (made by the real ostree), `rpm --root CO --dbpath
 * /usr/lib/sysimage/rpm` lists exactly the composed set, finds owners, lists files, resolves
 * the virtual provide and verifies every package clean; the scriptlets' effects are there;
 * `ostree fsck` is clean; composing again with the same inputs makes no commit.
 *
 * About the checkout rpm verifies: a composed commit keeps configuration in /usr/etc (a
 * deployment makes /etc from it), while the rpmdb records /etc paths. So the checkout is
 * turned into what a deployment shows, by moving usr/etc back to etc, before `rpm -V`. And
 * OSTree stores no file timestamps (every checkout and deployment has its own), so rpm's mtime
 * check (the `T` column) cannot hold on any OSTree system, rpm-ostree's included: `-V` runs
 * with `--nomtime` for the clean check, and without it the test asserts that `T` is the only
 * thing reported.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, ostree, ROOT, run, runOk, tmpdir } from '../helpers.js';

const DBPATH = '/usr/lib/sysimage/rpm';
const REF = 'cx/x86_64/base';
const SET = ['cx-app-1.0-1.noarch', 'cx-busybox-1.0-1.x86_64', 'cx-helper-1.0-1.noarch', 'cx-mail-1.0-1.noarch', 'cx-setup-1.0-1.noarch'];

let work = '';
let repo = '';
let cache = '';
let manifest = '';
let co = '';
let commit = '';

function rpm(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = run('rpm', ['--root', co, '--dbpath', DBPATH, ...args], { env: { TZ: 'UTC', LC_ALL: 'C' } });
  r.stderr = r.stderr
    .split('\n')
    .filter((l) => l !== '' && !l.includes('RPM should not be used directly') && !l.includes('assuming you know what you are doing'))
    .join('\n');
  return r;
}

function rpmOk(args: string[]): string {
  const r = rpm(args);
  assert.equal(r.status, 0, `rpm ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  assert.equal(r.stderr, '', `rpm ${args.join(' ')} printed on stderr`);
  return r.stdout;
}

before(() => {
  const fixtures = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  const built = path.join(fixtures, 'compose');
  assert.ok(fs.existsSync(built), `${built} is missing: build-rpms.sh makes it only when /bin/busybox exists (apt-get install busybox-static)`);
  work = tmpdir('ingot-compose-rpm-');
  const rpms = path.join(work, 'rpms');
  fs.mkdirSync(rpms);
  for (const f of fs.readdirSync(built)) fs.copyFileSync(path.join(built, f), path.join(rpms, f));
  runOk('createrepo_c', ['--quiet', rpms]);
  repo = path.join(work, 'repo');
  cache = path.join(work, 'cache');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  manifest = path.join(work, 'cx.yaml');
  fs.writeFileSync(
    manifest,
    `ref: ${REF}
repos:
  - name: cx
    type: rpm-md
    url: rpms
    gpgcheck: false
packages:
  - cx-app
`,
  );
});

after(() => cleanup(work));

test('compose tree: an rpm-md system with scriptlets becomes one commit; ostree fsck is clean', () => {
  const r = ingot(['--json', 'compose', 'tree', manifest, '--repo', repo, '--cachedir', cache], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { unchanged: boolean; commit: string; packages: number; ref: string };
  assert.equal(out.unchanged, false);
  assert.equal(out.ref, REF);
  assert.equal(out.packages, SET.length, 'cx-app and what it needs; cx-extra is not pulled in');
  commit = out.commit;
  assert.equal(ostree(repo, ['rev-parse', REF]).stdout.trim(), commit);
  const fsck = ostree(repo, ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr + fsck.stdout);
  assert.match(fsck.stdout, /completed successfully - no errors found/);

  co = path.join(work, 'co');
  runOk('ostree', [`--repo=${repo}`, 'checkout', REF, co]);
  // The committed layout: configuration in /usr/etc, the rpmdb in /usr/lib/sysimage/rpm, and
  // a tmpfiles.d entry for the usual /var/lib/rpm.
  assert.ok(fs.existsSync(path.join(co, 'usr/etc/cx-app/app.conf')));
  assert.ok(!fs.existsSync(path.join(co, 'etc')));
  assert.ok(fs.statSync(path.join(co, DBPATH, 'rpmdb.sqlite')).size > 0);
  const tmpfiles = fs.readdirSync(path.join(co, 'usr/lib/tmpfiles.d')).map((f) => fs.readFileSync(path.join(co, 'usr/lib/tmpfiles.d', f), 'utf8')).join('\n');
  assert.match(tmpfiles, /^L \/var\/lib\/rpm .*\/usr\/lib\/sysimage\/rpm$/m);
  // What a deployment shows as /etc (see the top of this file).
  fs.renameSync(path.join(co, 'usr/etc'), path.join(co, 'etc'));
});

test('rpm -qa in the checkout lists exactly the composed set, as ingot db list does', () => {
  const qa = rpmOk(['-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n']).trim().split('\n').sort();
  assert.deepEqual(qa, SET);
  const list = JSON.parse(ingotOk(['--json', 'db', 'list', '--repo', repo, REF])) as { commit: string; family: string; packages: { name: string; evr: string; arch: string }[] };
  assert.equal(list.commit, commit);
  assert.equal(list.family, 'rpm');
  assert.deepEqual(list.packages.map((p) => `${p.name}-${p.evr}.${p.arch}`).sort(), qa);
});

test('rpm -qf finds owners, -ql lists files, --whatprovides resolves the virtual provide', () => {
  const owners: [string, string][] = [
    ['/bin/sh', 'cx-busybox'],
    ['/bin/busybox', 'cx-busybox'],
    ['/usr/libexec/cx-helper', 'cx-helper'],
    ['/usr/sbin/cx-sendmail', 'cx-mail'],
    ['/etc/cx-app/app.conf', 'cx-app'],
    ['/etc/passwd', 'cx-setup'],
    ['/usr/share/cx-app/secret', 'cx-app'],
  ];
  for (const [file, pkg] of owners) assert.equal(rpmOk(['-qf', '--qf', '%{NAME}\n', file]).trim(), pkg, file);
  // A file a scriptlet made belongs to no package (rpm -qf with --root looks the path up in
  // the database only, and then stats it outside the root to explain: either message will do).
  const unowned = rpm(['-qf', '/usr/lib/cx-app/post-ran']);
  assert.equal(unowned.status, 1, unowned.stdout);
  assert.doesNotMatch(unowned.stdout, /^cx-/m);
  assert.deepEqual(rpmOk(['-ql', 'cx-app']).trim().split('\n'), [
    '/etc/cx-app',
    '/etc/cx-app/app.conf',
    '/etc/cx-app/logging.conf',
    '/usr/lib/cx-app',
    '/usr/lib/cx-app/cx-app',
    '/usr/share/cx-app',
    '/usr/share/cx-app/secret',
  ]);
  assert.deepEqual(rpmOk(['-qc', 'cx-app']).trim().split('\n'), ['/etc/cx-app/app.conf', '/etc/cx-app/logging.conf']);
  assert.equal(rpmOk(['-q', '--whatprovides', 'cx-mta', '--qf', '%{NAME}\n']).trim(), 'cx-mail');
  assert.equal(rpmOk(['-q', '--whatprovides', '/bin/sh', '--qf', '%{NAME}\n']).trim(), 'cx-busybox');
  assert.equal(rpmOk(['-q', '--whatrequires', 'cx-mta', '--qf', '%{NAME}\n']).trim(), 'cx-app');
});

test('rpm -V is clean for every package (timestamps aside: OSTree stores none) and sees an edit', () => {
  for (const nevra of SET) {
    const v = rpm(['-V', '--nomtime', nevra]);
    assert.equal(v.status, 0, `rpm -V ${nevra}: ${v.stdout}${v.stderr}`);
    assert.equal(v.stdout + v.stderr, '', nevra);
  }
  // Without --nomtime, the file timestamps are the only difference rpm reports.
  const all = rpm(['-Va']);
  for (const line of all.stdout.trim().split('\n').filter(Boolean)) assert.match(line, /^\.{7}T\.\s+[cdlr ]?\s*\//, line);
  // The owner of the file cx-app ships for the user its %pre made is checked by name.
  assert.equal(rpmOk(['-q', '--qf', '[%{FILENAMES} %{FILEUSERNAME}:%{FILEGROUPNAME}\n]', 'cx-app']).split('\n').find((l) => l.startsWith('/usr/share/cx-app/secret')), '/usr/share/cx-app/secret cxd:cxd');
  const st = fs.statSync(path.join(co, 'usr/share/cx-app/secret'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [990, 990, 0o640]);
  // An edit is seen.
  const conf = path.join(co, 'etc/cx-app/app.conf');
  const orig = fs.readFileSync(conf);
  fs.appendFileSync(conf, 'edited=1\n');
  try {
    const v = rpm(['-V', '--nomtime', 'cx-app']);
    assert.equal(v.status, 1);
    assert.match(v.stdout, /^S\.5\.{6} {2}c \/etc\/cx-app\/app\.conf$/m);
  } finally {
    fs.writeFileSync(conf, orig);
  }
});

test('the scriptlets ran in the tree, in order: %pre before the payload, %post after it, then %posttrans', () => {
  const read = (p: string): string => fs.readFileSync(path.join(co, p), 'utf8');
  assert.equal(read('usr/lib/cx-app/pre-ran'), 'pre 1\n');
  // %post read a file of the payload (owned by the user %pre made).
  assert.equal(read('usr/lib/cx-app/post-ran'), 'post 1 only cxd reads this\n');
  assert.equal(read('usr/lib/cx-app/posttrans-ran'), 'posttrans\n');
  assert.equal(fs.readlinkSync(path.join(co, 'usr/bin/cx-app')), '/usr/lib/cx-app/cx-app');
  assert.equal(read('etc/cx-app/conf.d/generated.conf'), 'generated=1\n');
  assert.match(read('etc/passwd'), /^cxd:x:990:990:cx daemon:\/:\/sbin\/nologin$/m);
  assert.match(read('etc/group'), /^cxd:x:990:$/m);
  // No script or temporary file is left behind in the tree.
  assert.deepEqual(fs.readdirSync(co).filter((n) => n.startsWith('.ingot')), []);
  // The composed programs run with the composed shell.
  const r = runOk('bwrap', ['--bind', co, '/', '--proc', '/proc', '--dev', '/dev', '/bin/sh', '-c', 'cx-app; /usr/libexec/cx-helper']);
  assert.equal(r, 'cx-app\nhelper\n');
});

test('composing again with the same inputs makes no commit', () => {
  const before = ostree(repo, ['rev-parse', REF]).stdout.trim();
  const r = ingot(['compose', 'tree', manifest, '--repo', repo, '--cachedir', cache]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /unchanged: cx\/x86_64\/base already holds a commit of the same inputs/);
  assert.equal(ostree(repo, ['rev-parse', REF]).stdout.trim(), before);
});
