/**
 * `ingot compose tree` from the real Debian bookworm archive, checked with the real ostree,
 * dpkg-query and bubblewrap. The mirror is this machine's (the manifest says `mirror: debian`,
 * which ingot takes from the apt sources; no host is named here), the signatures are checked
 * with debian-archive-keyring, and the verified indexes and packages are cached under
 * $INGOT_TEST_TMP/debian-compose-cache between runs (a warm run downloads only the indexes'
 * updates).
 *
 * - The `Priority: required` set plus bash and coreutils composes into one commit; `ostree
 *   fsck` is clean; in a checkout, `dpkg-query --admindir CO/usr/lib/sysimage/dpkg -W` lists
 *   exactly the commit's inventory (`ingot db list --json`), -S and -L answer, and the composed
 *   bash runs under bubblewrap with the checkout as `/`.
 * - Unchanged inputs make no commit (same ref tip; the output says so).
 * - `--force` with the same SOURCE_DATE_EPOCH gives the same ContentChecksum (reproducible).
 * - One package more (less) makes a commit whose `ingot db diff --json` shows exactly that.
 * - A local package whose postinst fails, composed with the real archive (so the tree's own
 *   dpkg configures it): SCRIPT_FAILED naming the package, the script and its status; the ref
 *   stays where it was.
 * - Incremental composes (the last compose's configured root upgraded by the tree's dpkg): the
 *   one-package change above, the failing postinst (during one), then a package added, then one
 *   upgraded (its scripts see the upgrade arguments, the file it no longer ships is gone, its
 *   conffile is the new one) and one added: dpkg-query lists exactly the set, dpkg --verify is
 *   clean, db diff shows exactly the change, the commit names its base; `--from-scratch` gives
 *   the same set with fresh-install script effects and the same dpkg --verify report.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, ostree, ostreeOk, run, runOk, tmpdir, DEBIAN_BOOKWORM_REPOS } from '../helpers.js';

const REF = 'debian/bookworm/x86_64/minimal';
const SDE = '1700000000';
const REPOS = DEBIAN_BOOKWORM_REPOS;

let work = '';
let repo = '';
let cache = '';
let manifest = '';
let first: ComposeJson;

interface ComposeJson {
  unchanged: boolean;
  commit: string;
  contentChecksum?: string;
  packages: number;
  ref: string;
  incremental?: { base: string; added: string[]; changed: string[]; removed: string[] };
}

function compose(m: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): ComposeJson {
  // INGOT_COMPOSE_CHECK_STATE: an incremental compose also reads its whole configured root
  // and fails when the kept root it recorded from the scripts' changes differs.
  const r = ingot(['--json', 'compose', 'tree', m, '--repo', repo, '--cachedir', cache, ...extra], { env: { SOURCE_DATE_EPOCH: SDE, INGOT_COMPOSE_CHECK_STATE: '1', ...env } });
  assert.equal(r.status, 0, `compose ${path.basename(m)} exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as ComposeJson;
}

function tip(): string {
  return ostreeOk(repo, ['rev-parse', REF]).trim();
}

function contentChecksum(commit: string): string {
  const m = /^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(ostreeOk(repo, ['show', commit]));
  assert.ok(m, 'ostree show prints a ContentChecksum');
  return m[1]!;
}

before(() => {
  const base = process.env['INGOT_TEST_TMP'] ?? os.tmpdir();
  cache = path.join(base, 'debian-compose-cache');
  fs.mkdirSync(cache, { recursive: true });
  work = tmpdir('ingot-compose-debian-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  manifest = path.join(work, 'minimal.yaml');
  fs.writeFileSync(manifest, `ref: ${REF}\n${REPOS}include-priority: [required]\npackages:\n  - bash\n  - coreutils\n`);
});

after(() => cleanup(work));

test('the required set plus bash and coreutils composes from the real archive; ostree fsck is clean', () => {
  first = compose(manifest);
  assert.equal(first.unchanged, false);
  assert.ok(first.packages > 50 && first.packages < 200, `${first.packages} packages`);
  assert.equal(tip(), first.commit);
  const fsck = ostree(repo, ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr + fsck.stdout);
  assert.match(fsck.stdout, /completed successfully - no errors found/);
});

test('in a checkout, dpkg-query lists exactly the inventory, and the composed bash runs', () => {
  const co = path.join(work, 'co');
  ostreeOk(repo, ['checkout', REF, co]);
  const admindir = path.join(co, 'usr/lib/sysimage/dpkg');
  const w = runOk('dpkg-query', ['--admindir', admindir, '-W', '-f', '${Package} ${Version} ${Architecture} ${db:Status-Status}\n']);
  const rows = w.trim().split('\n').sort();
  for (const r of rows) assert.match(r, / installed$/, `every package is installed: ${r}`);
  const list = JSON.parse(ingotOk(['--json', 'db', 'list', '--repo', repo, REF])) as { commit: string; family: string; count: number; packages: { name: string; evr: string; arch: string }[] };
  assert.equal(list.commit, first.commit);
  assert.equal(list.family, 'deb');
  assert.equal(list.count, first.packages);
  assert.deepEqual(
    rows.map((r) => r.replace(/ installed$/, '')),
    list.packages.map((p) => `${p.name} ${p.evr} ${p.arch}`).sort(),
  );
  for (const name of ['bash', 'coreutils', 'dpkg', 'libc6', 'base-files']) assert.ok(list.packages.some((p) => p.name === name), name);
  assert.equal(runOk('dpkg-query', ['--admindir', admindir, '-S', '/bin/bash']).trim(), 'bash: /bin/bash');
  assert.match(runOk('dpkg-query', ['--admindir', admindir, '-L', 'coreutils']), /^\/bin\/ls$/m);
  // Configured by the tree's own dpkg: the postinsts left their marks (alternatives, ld.so.cache).
  assert.ok(fs.existsSync(path.join(co, 'usr/etc/alternatives')), 'update-alternatives ran');
  assert.ok(fs.existsSync(path.join(co, 'usr/lib/tmpfiles.d')), 'the /var content became tmpfiles.d entries');

  const out = runOk('bwrap', ['--bind', co, '/', '--proc', '/proc', '--dev', '/dev', '/usr/bin/bash', '-c', 'echo ok; ls /usr/bin | wc -l']);
  const [ok, count] = out.trim().split('\n');
  assert.equal(ok, 'ok');
  assert.ok(Number(count) > 100, `ls /usr/bin lists ${count} entries`);
});

test('composing again with unchanged inputs makes no commit', () => {
  const r = ingot(['compose', 'tree', manifest, '--repo', repo, '--cachedir', cache]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${first.commit}\\nunchanged: ${REF.replace(/\//g, '\\/')} already holds a commit of the same inputs`));
  assert.equal(tip(), first.commit);
  assert.equal(ostreeOk(repo, ['log', REF]).match(/^commit /gm)?.length, 1, 'still one commit on the ref');
});

test('reproducible: --force with the same SOURCE_DATE_EPOCH gives the same ContentChecksum', () => {
  const again = compose(manifest, ['--force']);
  assert.equal(again.unchanged, false);
  assert.notEqual(again.commit, first.commit, 'a new commit (its parent differs)');
  assert.equal(again.contentChecksum, first.contentChecksum);
  assert.equal(contentChecksum(again.commit), contentChecksum(first.commit));
  assert.equal(tip(), again.commit);
});

test('one package more makes a commit whose db diff shows exactly that change', () => {
  const before = tip();
  const withLess = path.join(work, 'with-less.yaml');
  fs.writeFileSync(withLess, `ref: ${REF}\n${REPOS}include-priority: [required]\npackages:\n  - bash\n  - coreutils\n  - less\n`);
  const r = compose(withLess);
  assert.equal(r.unchanged, false);
  assert.equal(r.packages, first.packages + 1);
  // Composed incrementally: the tree's dpkg installed less into the last compose's configured root.
  assert.deepEqual(r.incremental, { base: before, added: ['less'], changed: [], removed: [] });
  assert.equal(ostreeOk(repo, ['show', '--print-metadata-key=ingot.compose.base', r.commit]).trim(), `'${before}'`);
  assert.equal(tip(), r.commit);
  const d = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', repo, before, REF])) as {
    from: { commit: string };
    to: { commit: string };
    added: { name: string; evr: string }[];
    removed: unknown[];
    upgraded: unknown[];
    downgraded: unknown[];
    changed: unknown[];
  };
  assert.equal(d.from.commit, before);
  assert.equal(d.to.commit, r.commit);
  assert.deepEqual(d.added.map((p) => p.name), ['less']);
  assert.deepEqual([d.removed, d.upgraded, d.downgraded, d.changed], [[], [], [], []]);
  // The one-argument form compares with the parent: the same answer.
  const d1 = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', repo, REF])) as { added: { name: string }[] };
  assert.deepEqual(d1.added.map((p) => p.name), ['less']);
  const text = ingotOk(['db', 'diff', '--repo', repo, before, REF]);
  assert.match(text, /^Added:\n {2}less \S+ amd64$/m);
});

test('a failing postinst, configured by the tree\'s own dpkg: SCRIPT_FAILED with package, script and status; the ref stays', () => {
  // A local unsigned repository beside the archive, with one package whose postinst fails.
  const www = path.join(work, 'local');
  const stage = path.join(work, 'stage-failpost');
  fs.mkdirSync(path.join(stage, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(stage, 'usr/share/failpost'), { recursive: true });
  fs.writeFileSync(path.join(stage, 'usr/share/failpost/README'), 'fails\n');
  fs.writeFileSync(path.join(stage, 'DEBIAN/control'), 'Package: failpost\nVersion: 1.0\nArchitecture: all\nMaintainer: Ingot Tests <tests@example.invalid>\nDepends: bash\nDescription: postinst fails\n');
  fs.writeFileSync(path.join(stage, 'DEBIAN/postinst'), '#!/bin/bash\necho "configuring failpost ($1)"\necho "no frobnicator" >&2\nexit 4\n', { mode: 0o755 });
  fs.mkdirSync(path.join(www, 'pool'), { recursive: true });
  runOk('dpkg-deb', ['--build', '--root-owner-group', stage, path.join(www, 'pool', 'failpost_1.0_all.deb')]);
  const bin = path.join(www, 'dists', 'local', 'main', 'binary-amd64');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'Packages'), runOk('dpkg-scanpackages', ['--multiversion', 'pool'], { cwd: www }));
  const o = (k: string, v: string): string[] => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  const release = runOk('apt-ftparchive', [...o('Suite', 'local'), ...o('Architectures', 'amd64'), ...o('Components', 'main'), 'release', '.'], { cwd: path.join(www, 'dists', 'local') });
  fs.writeFileSync(path.join(www, 'dists', 'local', 'Release'), release);
  const m = path.join(work, 'failpost.yaml');
  fs.writeFileSync(
    m,
    `ref: ${REF}\n${REPOS.replace('arch: amd64\n', '')}  - name: local\n    type: apt\n    url: local\n    suites: [local]\n    gpgcheck: false\narch: amd64\ninclude-priority: [required]\npackages:\n  - bash\n  - coreutils\n  - failpost\n`,
  );
  const before = tip();
  const refsBefore = ingotOk(['repo', 'refs', '--repo', repo]);
  const r = ingot(['--json', 'compose', 'tree', m, '--repo', repo, '--cachedir', cache]);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  const e = (JSON.parse(r.stderr) as { error: { code: string; message: string; hint: string; package: string; script: string; status: number; output: string } }).error;
  assert.equal(e.code, 'SCRIPT_FAILED', e.message);
  assert.equal(e.package, 'failpost');
  assert.equal(e.script, 'postinst configure');
  assert.equal(e.status, 4);
  assert.match(e.output, /configuring failpost \(configure\)/);
  assert.match(e.output, /no frobnicator/);
  assert.match(e.message, /^failpost: postinst configure exited with status 4/);
  // It failed while upgrading the kept root of the ref's commit (the next test composes from it again).
  assert.match(e.hint, /upgraded the configured root of [0-9a-f]{12}.*--from-scratch/);
  assert.equal(tip(), before);
  assert.equal(ingotOk(['repo', 'refs', '--repo', repo]), refsBefore);
  assert.deepEqual(fs.readdirSync(path.join(repo, 'tmp')).filter((n) => n.startsWith('ingot-compose-')), [], 'no build root left');
});

/** A local unsigned apt repository `DIR` (suite `local`) of packages made here with dpkg-deb. */
function localRepo(dir: string, debs: { control: string; files: Record<string, string>; scripts?: Record<string, string>; conffiles?: string[] }[]): void {
  fs.mkdirSync(path.join(dir, 'pool'), { recursive: true });
  for (const d of debs) {
    const stage = fs.mkdtempSync(path.join(work, 'stage-'));
    fs.mkdirSync(path.join(stage, 'DEBIAN'));
    fs.writeFileSync(path.join(stage, 'DEBIAN/control'), d.control);
    for (const [p, body] of Object.entries(d.files)) {
      fs.mkdirSync(path.dirname(path.join(stage, p)), { recursive: true });
      fs.writeFileSync(path.join(stage, p), body);
    }
    for (const [n, body] of Object.entries(d.scripts ?? {})) fs.writeFileSync(path.join(stage, 'DEBIAN', n), body, { mode: 0o755 });
    if (d.conffiles) fs.writeFileSync(path.join(stage, 'DEBIAN/conffiles'), d.conffiles.map((c) => `${c}\n`).join(''));
    const name = /^Package: (\S+)$/m.exec(d.control)![1]!;
    const version = /^Version: (\S+)$/m.exec(d.control)![1]!;
    runOk('dpkg-deb', ['--build', '--root-owner-group', stage, path.join(dir, 'pool', `${name}_${version}_all.deb`)], { env: { SOURCE_DATE_EPOCH: SDE } });
    fs.rmSync(stage, { recursive: true, force: true });
  }
  const bin = path.join(dir, 'dists', 'local', 'main', 'binary-amd64');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'Packages'), runOk('dpkg-scanpackages', ['--multiversion', 'pool'], { cwd: dir }));
  const o = (k: string, v: string): string[] => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  fs.writeFileSync(path.join(dir, 'dists', 'local', 'Release'), runOk('apt-ftparchive', [...o('Suite', 'local'), ...o('Architectures', 'amd64'), ...o('Components', 'main'), 'release', '.'], { cwd: path.join(dir, 'dists', 'local') }));
}

/** greeter VERSION: a conffile, a file only 1.0 ships, and scripts that log their arguments. */
function greeter(version: string, greeting: string, extra: Record<string, string>): Parameters<typeof localRepo>[1][number] {
  const log = (s: string): string => `#!/bin/sh\nset -e\necho "${s} $1 \${2:-none}" >> /etc/greeter.log\n`;
  return {
    control: `Package: greeter\nVersion: ${version}\nArchitecture: all\nMaintainer: Ingot Tests <tests@example.invalid>\nDepends: bash\nDescription: logs its maintainer scripts\n`,
    files: { 'etc/greeter.conf': `greeting=${greeting}\n`, 'usr/share/greeter/version': `${version}\n`, ...extra },
    conffiles: ['/etc/greeter.conf'],
    scripts: { preinst: log('preinst'), postinst: log('postinst') },
  };
}

function manifestWith(name: string, localDir: string, packages: string[]): string {
  const m = path.join(work, name);
  fs.writeFileSync(
    m,
    `ref: ${REF}\n${REPOS.replace('arch: amd64\n', '')}  - name: local\n    type: apt\n    url: ${localDir}\n    suites: [local]\n    gpgcheck: false\narch: amd64\ninclude-priority: [required]\npackages:\n${['bash', 'coreutils', 'less', ...packages].map((p) => `  - ${p}\n`).join('')}`,
  );
  return m;
}

interface DiffJson {
  added: { name: string }[];
  removed: { name: string }[];
  upgraded: { name: string; from: string; to: string }[];
  downgraded: unknown[];
  changed: unknown[];
}

let beforeV1 = '';
let v1 = '';
let v2: ComposeJson;

test('after the failed compose, the next one starts from the kept root again: one package added', () => {
  localRepo(path.join(work, 'local-v1'), [greeter('1.0', 'hello', { 'usr/share/greeter/only-in-1.0': 'old\n' })]);
  beforeV1 = tip();
  const r = compose(manifestWith('greeter-1.yaml', 'local-v1', ['greeter']));
  assert.deepEqual(r.incremental, { base: beforeV1, added: ['greeter'], changed: [], removed: [] });
  v1 = r.commit;
});

test('incremental: one package upgraded (scripts get the upgrade arguments) and one added; dpkg sees exactly the new set', () => {
  localRepo(path.join(work, 'local-v2'), [greeter('2.0', 'hi', {})]);
  const m = manifestWith('greeter-2.yaml', 'local-v2', ['greeter', 'hello']);
  v2 = compose(m);
  assert.deepEqual(v2.incremental, { base: v1, added: ['hello'], changed: ['greeter'], removed: [] });
  assert.equal(tip(), v2.commit);
  assert.equal(ostreeOk(repo, ['show', '--print-metadata-key=ingot.compose.base', v2.commit]).trim(), `'${v1}'`);

  const d = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', repo, v1, v2.commit])) as DiffJson;
  assert.deepEqual(d.added.map((p) => p.name), ['hello']);
  assert.deepEqual(d.upgraded.map((p) => [p.name, p.from, p.to]), [['greeter', '1.0', '2.0']]);
  assert.deepEqual([d.removed, d.downgraded, d.changed], [[], [], []]);

  const co = path.join(work, 'co-v2');
  ostreeOk(repo, ['checkout', REF, co]);
  const admindir = path.join(co, 'usr/lib/sysimage/dpkg');
  const rows = runOk('dpkg-query', ['--admindir', admindir, '-W', '-f', '${Package} ${Version} ${Architecture} ${db:Status-Status}\n']).trim().split('\n').sort();
  const list = JSON.parse(ingotOk(['--json', 'db', 'list', '--repo', repo, REF])) as { packages: { name: string; evr: string; arch: string }[] };
  assert.deepEqual(rows, list.packages.map((p) => `${p.name} ${p.evr} ${p.arch} installed`).sort());
  // What dpkg does on an upgrade: the scripts saw "upgrade 1.0" and "configure 1.0", the file
  // only 1.0 shipped is gone, the unmodified conffile is the new version's.
  assert.equal(fs.readFileSync(path.join(co, 'usr/etc/greeter.log'), 'utf8'), 'preinst install none\npostinst configure none\npreinst upgrade 1.0\npostinst configure 1.0\n');
  assert.ok(!fs.existsSync(path.join(co, 'usr/share/greeter/only-in-1.0')));
  assert.equal(fs.readFileSync(path.join(co, 'usr/share/greeter/version'), 'utf8'), '2.0\n');
  assert.equal(fs.readFileSync(path.join(co, 'usr/etc/greeter.conf'), 'utf8'), 'greeting=hi\n');
  assert.ok(fs.existsSync(path.join(co, 'usr/bin/hello')));
  assert.equal(runOk('bwrap', ['--bind', co, '/', '--proc', '/proc', '--dev', '/dev', '/usr/bin/hello']).trim(), 'Hello, world!');
  // dpkg --verify with the checkout as root (its /etc is in /usr/etc): the changed packages are clean.
  fs.symlinkSync('usr/etc', path.join(co, 'etc'));
  const v = run('dpkg', ['--root', co, '--admindir', admindir, '--verify', 'greeter', 'hello']);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout + v.stderr, '');
  fs.writeFileSync(path.join(work, 'verify-incremental'), run('dpkg', ['--root', co, '--admindir', admindir, '--verify']).stdout);
  const fsck = ostree(repo, ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr + fsck.stdout);
});

test('--from-scratch composes the same set anew: no base, the same packages, scripts run as on a fresh install', () => {
  const r = compose(path.join(work, 'greeter-2.yaml'), ['--from-scratch', '--force']);
  assert.equal(r.incremental, undefined);
  assert.equal(r.packages, v2.packages);
  assert.notEqual(ostree(repo, ['show', '--print-metadata-key=ingot.compose.base', r.commit]).status, 0, 'no ingot.compose.base');
  const d = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', repo, v2.commit, r.commit])) as DiffJson;
  assert.deepEqual([d.added, d.removed, d.upgraded, d.downgraded, d.changed], [[], [], [], [], []]);
  const co = path.join(work, 'co-scratch');
  ostreeOk(repo, ['checkout', REF, co]);
  assert.equal(fs.readFileSync(path.join(co, 'usr/etc/greeter.log'), 'utf8'), 'preinst install none\npostinst configure none\n');
  // dpkg --verify says the same of both trees.
  fs.symlinkSync('usr/etc', path.join(co, 'etc'));
  const v = run('dpkg', ['--root', co, '--admindir', path.join(co, 'usr/lib/sysimage/dpkg'), '--verify']).stdout;
  assert.equal(v, fs.readFileSync(path.join(work, 'verify-incremental'), 'utf8'));
  // The package cache, kept roots included, is intact.
  const pfsck = ostree(path.join(cache, 'pkgcache-repo'), ['fsck']);
  assert.equal(pfsck.status, 0, pfsck.stderr);
});
