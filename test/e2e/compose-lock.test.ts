/**
 * `ingot compose lock` end to end against a small unsigned apt repository made by the real
 * tools (dpkg-deb, dpkg-scanpackages, apt-ftparchive) and read through file: (a repository
 * `url` written as a path relative to the manifest): the lockfile's content and stability,
 * `--output -`, and bad manifests (a typo, an unknown package, an include cycle) failing with
 * their codes, file, line and column.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cleanup, hashFile, ingot, runOk, tmpdir } from '../helpers.js';
import { makeDeb } from '../interop/repo-tools.js';
import { parseLockfile } from '../../src/compose/lockfile.js';

let work = '';
let cache = '';

before(() => {
  work = tmpdir('ingot-compose-lock-');
  cache = path.join(work, 'cache');
  const www = path.join(work, 'www');
  const pool = path.join(www, 'pool', 'main');
  fs.mkdirSync(pool, { recursive: true });
  makeDeb(pool, { Package: 'libfoo1', Version: '1.0-1', Architecture: 'amd64' });
  makeDeb(pool, { Package: 'libfoo1', Version: '1.1-1', Architecture: 'amd64' });
  makeDeb(pool, { Package: 'hello', Version: '2.10-3', Architecture: 'amd64', Depends: 'libfoo1 (>= 1.0), hello-data' });
  makeDeb(pool, { Package: 'hello-data', Version: '2.10-3', Architecture: 'all' });
  makeDeb(pool, { Package: 'unrelated', Version: '1', Architecture: 'all' });
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
  fs.mkdirSync(path.join(work, 'os', 'files'), { recursive: true });
  fs.writeFileSync(path.join(work, 'os', 'files', 'motd'), 'welcome\n');
  fs.writeFileSync(
    path.join(work, 'os', 'base.yaml'),
    `repos:
  - name: local
    type: apt
    url: ../www
    suites: [stable]
    gpgcheck: false
arch: amd64
`,
  );
  fs.writeFileSync(
    path.join(work, 'os', 'os.yaml'),
    `include: base.yaml
ref: demo/x86_64/stable
packages:
  - hello
add-files:
  - [files/motd, /etc/motd]
automatic-version-prefix: "<date:%Y>"
`,
  );
});

after(() => cleanup(work));

test('compose lock writes the exact set beside the manifest, with relative URLs and digests', () => {
  const r = ingot(['--json', 'compose', 'lock', path.join(work, 'os', 'os.yaml'), '--cachedir', cache]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { lockfile: string; family: string; arch: string; count: number; downloadSize: number; inputHash: string; packages: { name: string; version: string }[] };
  const lockPath = path.join(work, 'os', 'os.lock.json');
  assert.equal(out.lockfile, lockPath);
  assert.equal(out.family, 'deb');
  assert.equal(out.arch, 'amd64');
  assert.match(out.inputHash, /^[0-9a-f]{64}$/);
  assert.deepEqual(out.packages.map((p) => `${p.name} ${p.version}`), ['hello 2.10-3', 'hello-data 2.10-3', 'libfoo1 1.1-1']);
  const text = fs.readFileSync(lockPath, 'utf8');
  const lock = parseLockfile(text, lockPath);
  assert.equal(lock.family, 'deb');
  assert.equal(lock.arch, 'amd64');
  for (const p of lock.packages) {
    assert.equal(p.repo, 'local');
    assert.match(p.url, /^pool\/main\/[^/]+\.deb$/, 'relative to the repository URL');
    const file = path.join(work, 'www', p.url);
    assert.equal(p.digest, `sha256:${hashFile(file)}`);
    assert.equal(p.size, fs.statSync(file).size);
  }
  assert.equal(lock.downloadSize, out.downloadSize);
  assert.doesNotMatch(text, new RegExp(work.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no machine path in the lockfile');

  // Stable: locking again (from the warm cache) gives the same bytes; --output - prints them.
  const again = ingot(['compose', 'lock', path.join(work, 'os', 'os.yaml'), '--cachedir', cache, '--output', path.join(work, 'again.json')]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /^hello\s+2\.10-3\s+amd64\s+.*requested$/m);
  assert.match(again.stdout, /3 packages, .* to download\nwrote /);
  assert.equal(fs.readFileSync(path.join(work, 'again.json'), 'utf8'), text);
  const stdout = ingot(['compose', 'lock', path.join(work, 'os', 'os.yaml'), '--cachedir', cache, '--output', '-']);
  assert.equal(stdout.status, 0, stdout.stderr);
  assert.equal(stdout.stdout, text);
});

test('compose lock: bad manifests fail with a code, file, line and column', () => {
  const os = path.join(work, 'os');
  const cases: { file: string; text: string; code: string; status: number; stderr: RegExp }[] = [
    {
      file: 'typo.yaml',
      text: 'include: base.yaml\nref: a/b\npakages: [hello]\n',
      code: 'MANIFEST_INVALID',
      status: 1,
      stderr: /^error\[MANIFEST_INVALID\]: \S*typo\.yaml:3:1: unknown key 'pakages' in manifest; did you mean 'packages'\?\n {2}hint: did you mean 'packages'\?/,
    },
    {
      file: 'unknown.yaml',
      text: 'include: base.yaml\npackages:\n  - hello\n  - no-such-thing\n',
      code: 'RESOLVE_UNSATISFIABLE',
      status: 1,
      stderr: /^error\[RESOLVE_UNSATISFIABLE\]: \S*unknown\.yaml:4:5: no consistent package set: nothing provides 'no-such-thing'/,
    },
    {
      file: 'cycle.yaml',
      text: 'include: cycle2.yaml\n',
      code: 'MANIFEST_INCLUDE_CYCLE',
      status: 1,
      stderr: /^error\[MANIFEST_INCLUDE_CYCLE\]: \S*cycle2\.yaml:1:10: include cycle: \S*cycle\.yaml → \S*cycle2\.yaml → \S*cycle\.yaml/,
    },
  ];
  fs.writeFileSync(path.join(os, 'cycle2.yaml'), 'include: cycle.yaml\n');
  for (const c of cases) {
    fs.writeFileSync(path.join(os, c.file), c.text);
    const r = ingot(['compose', 'lock', path.join(os, c.file), '--cachedir', cache]);
    assert.equal(r.status, c.status, `${c.file}: ${r.stderr}`);
    assert.match(r.stderr, c.stderr, c.file);
    const j = ingot(['--json', 'compose', 'lock', path.join(os, c.file), '--cachedir', cache]);
    const err = (JSON.parse(j.stderr) as { error: { code: string; line?: number; column?: number } }).error;
    assert.equal(err.code, c.code);
    assert.equal(typeof err.line, 'number');
    assert.equal(typeof err.column, 'number');
    assert.ok(!fs.existsSync(path.join(os, c.file.replace('.yaml', '.lock.json'))), 'no lockfile is written on failure');
  }
  const missing = ingot(['compose', 'lock', path.join(os, 'absent.yaml')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^error\[PATH_NOT_FOUND\]: manifest '.*absent\.yaml' does not exist/);
});
