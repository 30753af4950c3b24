/**
 * `ingot compose tree` on bad input, against a small unsigned apt repository of packages made
 * here with dpkg-deb (and, for the hostile one, with python3's tarfile and ar), indexed by
 * dpkg-scanpackages and apt-ftparchive and read through file::
 *
 * - a manifest typo (MANIFEST_INVALID with file:line:column and a "did you mean"), an unknown
 *   package and an unsatisfiable set (RESOLVE_UNSATISFIABLE), a payload escaping the root
 *   (ARCHIVE_PATH_UNSAFE), two packages with different content at one path (FILE_CONFLICT
 *   naming both), a failing preinst (SCRIPT_FAILED with package, script, status and output
 *   tail), a postinst in a tree without dpkg (COMPOSE_TREE_INVALID), an unreachable mirror
 *   (NETWORK_ERROR);
 * - each exits with its code's status (src/core/codes.ts), prints `error[CODE]: ...` without a
 *   stack trace (`{"error": ...}` with --json), and leaves the repository as it was: the same
 *   refs, the same files (no build root left in tmp/), `ingot repo fsck` clean.
 *
 * The good compose the failures start from is a fixture-only tree without dpkg: its packages
 * have no postinst, so the tree's `dpkg --configure -a` is not needed and the database says
 * "installed" directly; the one preinst runs with the busybox shell a fixture package ships.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cleanup, ingot, ingotOk, ostree, run, runOk, tmpdir, type RunResult } from '../helpers.js';
import { ERROR_CODES, type ErrorCode } from '../../src/core/codes.js';
import { arDeb, compressWith, pyTar } from '../fixtures/deb/helpers.js';

const REF = 'test/x86_64/os';
const STACK = /^\s+at \S/m;

let work = '';
let www = '';
let repo = '';
let cache = '';
let good = '';

interface DebSpec {
  control: Record<string, string>;
  /** Tree path → content, or a symlink target, or a host file to copy. */
  files?: Record<string, string | { link: string } | { copy: string }>;
  /** Maintainer scripts (preinst, postinst, ...): bodies, made executable. */
  scripts?: Record<string, string>;
  conffiles?: string[];
}

/** Builds a .deb with dpkg-deb from a staged tree; returns its path. */
function makeDeb(pool: string, spec: DebSpec): string {
  const c: Record<string, string> = { Version: '1.0', Architecture: 'all', Maintainer: 'Ingot Tests <tests@example.invalid>', Description: 'compose bad-input fixture', ...spec.control };
  const stage = fs.mkdtempSync(path.join(work, '.stage-'));
  fs.mkdirSync(path.join(stage, 'DEBIAN'));
  const order = ['Package', 'Version', 'Architecture', 'Maintainer'];
  const keys = [...order, ...Object.keys(c).filter((k) => !order.includes(k))];
  fs.writeFileSync(path.join(stage, 'DEBIAN/control'), keys.map((k) => `${k}: ${c[k]}`).join('\n') + '\n');
  for (const [p, v] of Object.entries(spec.files ?? {})) {
    const abs = path.join(stage, p);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(abs, v, { mode: v.startsWith('#!') ? 0o755 : 0o644 });
    else if ('link' in v) fs.symlinkSync(v.link, abs);
    else fs.copyFileSync(v.copy, abs);
  }
  for (const [name, body] of Object.entries(spec.scripts ?? {})) fs.writeFileSync(path.join(stage, 'DEBIAN', name), body, { mode: 0o755 });
  if (spec.conffiles) fs.writeFileSync(path.join(stage, 'DEBIAN/conffiles'), spec.conffiles.join('\n') + '\n');
  const out = path.join(pool, `${c['Package']}_${c['Version']}_${c['Architecture']}.deb`);
  runOk('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', stage, out], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  fs.rmSync(stage, { recursive: true, force: true });
  return out;
}

/** A .deb whose data.tar has a member named `../escaped` (dpkg-deb will not build one). */
function makeEvilDeb(pool: string): string {
  const control = 'Package: evil\nVersion: 1.0\nArchitecture: all\nMaintainer: Ingot Tests <tests@example.invalid>\nDescription: escapes the root\n';
  const ctl = compressWith('gzip', pyTar([{ name: './', type: 'dir' }, { name: './control', data: control }]));
  const data = compressWith(
    'gzip',
    pyTar([
      { name: './', type: 'dir' },
      { name: './usr/', type: 'dir' },
      { name: './usr/share/', type: 'dir' },
      { name: './usr/share/evil', data: 'harmless\n' },
      { name: './../../escaped', data: 'outside the root\n' },
    ]),
  );
  return arDeb(path.join(pool, 'evil_1.0_all.deb'), [
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', ctl],
    ['data.tar.gz', data],
  ]);
}

/** Names, sizes and link targets of everything in the repository (objects, refs, tmp/, config). */
function repoListing(): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string): void => {
    for (const n of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, n);
      const st = fs.lstatSync(p);
      const r = `${rel}/${n}`;
      if (st.isDirectory()) {
        out.push(`${r}/`);
        walk(p, r);
      } else out.push(`${r} ${st.size}${st.isSymbolicLink() ? ` -> ${fs.readlinkSync(p)}` : ''}`);
    }
  };
  walk(repo, '');
  return out;
}

function repoState(): { refs: string; listing: string[]; fsck: string } {
  const fsck = ingot(['--json', 'repo', 'fsck', '--repo', repo]);
  assert.equal(fsck.status, 0, `repo fsck: ${fsck.stderr}`);
  const f = JSON.parse(fsck.stdout) as { problems: unknown[] };
  assert.deepEqual(f.problems, []);
  return { refs: ingotOk(['repo', 'refs', '--repo', repo]), listing: repoListing(), fsck: JSON.stringify(f.problems) };
}

/**
 * Composes `manifest` (text then --json), expecting `code`: exit status, one `error[CODE]:`
 * line first, no stack trace, the JSON error, and the repository unchanged. Returns both runs
 * and the JSON error object.
 */
function expectComposeError(code: ErrorCode, manifest: string): { text: RunResult; error: Record<string, unknown> } {
  const stateBefore = repoState();
  const args = ['compose', 'tree', manifest, '--repo', repo, '--cachedir', cache];
  const exit = ERROR_CODES[code].exit;
  const text = ingot(args);
  assert.equal(text.status, exit, `${path.basename(manifest)}: want exit ${exit} (${code}), got ${text.status}:\n${text.stderr}${text.stdout}`);
  assert.ok(text.stderr.startsWith(`error[${code}]: `), `${path.basename(manifest)}: stderr should start with error[${code}]:\n${text.stderr}`);
  assert.doesNotMatch(text.stderr, STACK, 'no stack trace');
  assert.equal(text.stdout, '', 'nothing on stdout');
  const json = ingot(['--json', ...args]);
  assert.equal(json.status, exit);
  const error = (JSON.parse(json.stderr) as { error: Record<string, unknown> }).error;
  assert.equal(error['code'], code);
  assert.deepEqual(repoState(), stateBefore, `${path.basename(manifest)}: the repository changed`);
  return { text, error };
}

function writeManifest(name: string, body: string): string {
  const p = path.join(work, 'os', name);
  fs.writeFileSync(p, body);
  return p;
}

before(() => {
  work = tmpdir('ingot-compose-bad-');
  www = path.join(work, 'www');
  const pool = path.join(www, 'pool', 'main');
  fs.mkdirSync(pool, { recursive: true });
  assert.ok(fs.existsSync('/bin/busybox'), 'the test packages the static busybox: apt-get install busybox-static');
  // The good system.
  makeDeb(pool, {
    control: { Package: 'hello', Architecture: 'amd64', Depends: 'libhello (>= 1.0)' },
    files: { 'usr/bin/hello': '#!/bin/sh\necho hello\n', 'etc/hello.conf': 'greeting=hello\n' },
    conffiles: ['/etc/hello.conf'],
  });
  makeDeb(pool, { control: { Package: 'libhello', Architecture: 'amd64' }, files: { 'usr/lib/libhello.txt': 'lib\n' } });
  makeDeb(pool, {
    control: { Package: 'busybox-sh', Architecture: 'amd64', Essential: 'yes' },
    files: { 'usr/bin/busybox': { copy: '/bin/busybox' }, 'usr/bin/sh': { link: 'busybox' } },
  });
  makeDeb(pool, {
    control: { Package: 'greeter', 'Pre-Depends': 'busybox-sh' },
    files: { 'usr/share/greeter/README': 'greeter\n' },
    // dpkg runs a preinst before it unpacks the package: its files are not there yet.
    scripts: { preinst: '#!/bin/sh\nset -e\nif [ -e /usr/share/greeter/README ]; then w=after; else w=before; fi\necho "preinst $1, $w the unpack" > /usr/lib/greeter-preinst-ran\n' },
  });
  // Bad ones.
  makeDeb(pool, { control: { Package: 'loner', Conflicts: 'hello' }, files: { 'usr/share/loner': 'x\n' } });
  makeDeb(pool, { control: { Package: 'clash-a' }, files: { 'usr/share/clash/data': 'from clash-a\n' } });
  makeDeb(pool, { control: { Package: 'clash-b' }, files: { 'usr/share/clash/data': 'from clash-b\n' } });
  makeDeb(pool, { control: { Package: 'same-a' }, files: { 'usr/share/same/data': 'identical\n' } });
  makeDeb(pool, { control: { Package: 'same-b' }, files: { 'usr/share/same/data': 'identical\n' } });
  makeDeb(pool, {
    control: { Package: 'failpre', 'Pre-Depends': 'busybox-sh' },
    files: { 'usr/share/failpre': 'x\n' },
    scripts: { preinst: '#!/bin/sh\necho "line $1 one"\necho "checking the frobnicator" >&2\necho "frobnicator missing, giving up"\nexit 3\n' },
  });
  makeDeb(pool, {
    control: { Package: 'needsconf', 'Pre-Depends': 'busybox-sh' },
    files: { 'usr/share/needsconf': 'x\n' },
    scripts: { postinst: '#!/bin/sh\nexit 0\n' },
  });
  makeEvilDeb(pool);

  const packages = runOk('dpkg-scanpackages', ['--multiversion', 'pool'], { cwd: www });
  const bin = path.join(www, 'dists', 'stable', 'main', 'binary-amd64');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'Packages'), packages);
  fs.writeFileSync(path.join(bin, 'Packages.gz'), zlib.gzipSync(packages));
  const o = (k: string, v: string): string[] => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  const release = runOk('apt-ftparchive', [...o('Suite', 'stable'), ...o('Codename', 'stable'), ...o('Architectures', 'amd64'), ...o('Components', 'main'), 'release', '.'], {
    cwd: path.join(www, 'dists', 'stable'),
  });
  fs.writeFileSync(path.join(www, 'dists', 'stable', 'Release'), release);

  fs.mkdirSync(path.join(work, 'os'));
  writeManifest('base.yaml', 'repos:\n  - name: local\n    type: apt\n    url: ../www\n    suites: [stable]\n    gpgcheck: false\narch: amd64\n');
  good = writeManifest('good.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - hello\n  - greeter\n`);
  repo = path.join(work, 'repo');
  cache = path.join(work, 'cache');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
});

after(() => cleanup(work));

test('the starting point: a fixture-only tree without dpkg composes; its database says installed', () => {
  const r = ingot(['--json', 'compose', 'tree', good, '--repo', repo, '--cachedir', cache]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { unchanged: boolean; commit: string; packages: number };
  assert.equal(out.unchanged, false);
  assert.equal(out.packages, 4);
  const co = path.join(work, 'co-good');
  runOk('ostree', [`--repo=${repo}`, 'checkout', REF, co]);
  assert.ok(!fs.existsSync(path.join(co, 'usr/bin/dpkg')), 'no dpkg in this tree');
  const w = runOk('dpkg-query', ['--admindir', path.join(co, 'usr/lib/sysimage/dpkg'), '-W', '-f', '${Package} ${Version} ${Status}\n']);
  assert.deepEqual(w.trim().split('\n').sort(), ['busybox-sh 1.0 install ok installed', 'greeter 1.0 install ok installed', 'hello 1.0 install ok installed', 'libhello 1.0 install ok installed']);
  // The preinst ran (with the busybox shell of busybox-sh, ordered first by Pre-Depends and
  // unpacked first as part of the essential set), before greeter itself was unpacked.
  assert.equal(fs.readFileSync(path.join(co, 'usr/lib/greeter-preinst-ran'), 'utf8'), 'preinst install, before the unpack\n');
  assert.equal(fs.readFileSync(path.join(co, 'usr/share/greeter/README'), 'utf8'), 'greeter\n');
  assert.equal(fs.readFileSync(path.join(co, 'usr/etc/hello.conf'), 'utf8'), 'greeting=hello\n');
  assert.ok(!fs.existsSync(path.join(co, 'usr/sbin/policy-rc.d')), 'the temporary policy-rc.d is gone');
  const fsck = ostree(repo, ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr);
});

test('a manifest typo: MANIFEST_INVALID with file, line, column and a suggestion', () => {
  const m = writeManifest('typo.yaml', `include: base.yaml\nref: ${REF}\npackages: [hello]\nexclude-pakages: [greeter]\n`);
  const { text, error } = expectComposeError('MANIFEST_INVALID', m);
  assert.match(text.stderr, /^error\[MANIFEST_INVALID\]: \S*typo\.yaml:4:1: unknown key 'exclude-pakages' in manifest; did you mean 'exclude-packages'\?/);
  assert.equal(error['line'], 4);
  assert.equal(error['column'], 1);
});

test('an unknown package: RESOLVE_UNSATISFIABLE pointing at the manifest line', () => {
  const m = writeManifest('unknown.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - hello\n  - no-such-package\n`);
  const { text } = expectComposeError('RESOLVE_UNSATISFIABLE', m);
  assert.match(text.stderr, /^error\[RESOLVE_UNSATISFIABLE\]: \S*unknown\.yaml:5:5: no consistent package set: nothing provides 'no-such-package'/);
});

test('an unsatisfiable set (two requested packages conflict): RESOLVE_UNSATISFIABLE naming both', () => {
  const m = writeManifest('conflict.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - hello\n  - loner\n`);
  const { text, error } = expectComposeError('RESOLVE_UNSATISFIABLE', m);
  assert.match(text.stderr, /loner/);
  assert.match(text.stderr, /hello/);
  assert.ok(Array.isArray(error['explanation']));
});

test('a payload that escapes the root: ARCHIVE_PATH_UNSAFE, nothing written outside', () => {
  const m = writeManifest('evil.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - hello\n  - evil\n`);
  const { text } = expectComposeError('ARCHIVE_PATH_UNSAFE', m);
  assert.match(text.stderr, /\.\.\/\.\.\/escaped|escaped/);
  // Neither beside the build root nor two levels up (the repository's tmp/ and the repository).
  for (const p of [path.join(repo, 'escaped'), path.join(work, 'escaped'), path.join(repo, 'tmp', 'escaped')]) assert.ok(!fs.existsSync(p), p);
});

test('two packages with different content at one path: FILE_CONFLICT naming both; identical content is fine', () => {
  const m = writeManifest('clash.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - clash-a\n  - clash-b\n`);
  const { text, error } = expectComposeError('FILE_CONFLICT', m);
  assert.match(text.stderr, /^error\[FILE_CONFLICT\]: clash-[ab] and clash-[ab] both ship '\/usr\/share\/clash\/data' with different content/);
  assert.deepEqual([...(error['packages'] as string[])].sort(), ['clash-a', 'clash-b']);
  assert.equal(error['path'], '/usr/share/clash/data');
  // The same bytes at one path are allowed (as dpkg allows shared identical files).
  const ok = writeManifest('same.yaml', `include: base.yaml\nref: test/x86_64/same\npackages:\n  - same-a\n  - same-b\n`);
  const r = ingot(['compose', 'tree', ok, '--repo', repo, '--cachedir', cache]);
  assert.equal(r.status, 0, r.stderr);
  ingotOk(['repo', 'refs', '--repo', repo, '--delete', 'test/x86_64/same']);
});

test('a failing preinst: SCRIPT_FAILED with the package, the script, its status and the tail of its output', () => {
  const m = writeManifest('failpre.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - hello\n  - failpre\n`);
  const { text, error } = expectComposeError('SCRIPT_FAILED', m);
  assert.match(text.stderr, /^error\[SCRIPT_FAILED\]: failpre: preinst install exited with status 3:\n/);
  // The script's stdout and stderr arrive on two pipes: both are in the tail, in either order.
  assert.match(text.stderr, /^checking the frobnicator$/m);
  assert.match(text.stderr, /^frobnicator missing, giving up$/m);
  assert.equal(error['package'], 'failpre');
  assert.equal(error['script'], 'preinst install');
  assert.equal(error['status'], 3);
  assert.match(String(error['output']), /^line install one\n/);
  assert.match(String(error['output']), /^frobnicator missing, giving up$/m);
});

test('a postinst in a tree without dpkg: COMPOSE_TREE_INVALID naming the package, before any script runs', () => {
  const m = writeManifest('needsconf.yaml', `include: base.yaml\nref: ${REF}\npackages:\n  - hello\n  - needsconf\n`);
  const { text, error } = expectComposeError('COMPOSE_TREE_INVALID', m);
  assert.match(text.stderr, /^error\[COMPOSE_TREE_INVALID\]: needsconf has a postinst or triggers, but the tree has no \/usr\/bin\/dpkg to configure it\n {2}hint: add 'dpkg'/);
  assert.deepEqual(error['packages'], ['needsconf']);
});

test('an unreachable mirror: NETWORK_ERROR, quickly', () => {
  const m = writeManifest(
    'unreachable.yaml',
    `ref: ${REF}\narch: amd64\nrepos:\n  - name: nowhere\n    type: apt\n    url: http://127.0.0.1:1/\n    suites: [stable]\n    gpgcheck: false\npackages: [hello]\n`,
  );
  const t0 = Date.now();
  const { text } = expectComposeError('NETWORK_ERROR', m);
  assert.match(text.stderr, /127\.0\.0\.1:1/);
  assert.ok(Date.now() - t0 < 60_000, 'no long retry loop');
});

test('after all of that, the good manifest is still unchanged on the ref', () => {
  const r = ingot(['compose', 'tree', good, '--repo', repo, '--cachedir', cache]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /unchanged: test\/x86_64\/os already holds a commit of the same inputs/);
  const fsck = run('ostree', [`--repo=${repo}`, 'fsck']);
  assert.equal(fsck.status, 0, fsck.stderr);
});
