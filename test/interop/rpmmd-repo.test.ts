/**
 * rpm-md repositories against createrepo_c, and resolutions against rpm itself.
 *
 * Repositories (createrepo_c over packages built by rpmbuild, test/fixtures/build-rpms.sh),
 * each repomd.xml signed with `gpg --detach-sign --armor` by a throwaway key, served by the
 * fault-injecting fixture server on 127.0.0.1:
 * - `fx`: the reader fixtures (fx-main has every kind of dependency); gzip primary;
 * - `a`: the resolver universe at 1.0 (test/fixtures/rpm/rx-universe.spec), gzip primary;
 * - `b`: the same universe at 2.0, zstd primary and filelists (zstd(1) + modifyrepo_c: Debian's
 *   createrepo_c has no zstd);
 * - `small` (rx-richfile, rx-data, rx-lib, rx-strict at 2.0; xz) and `nofiles` (rx-lib,
 *   rx-strict; bzip2).
 *
 * Checked: every primary entry against `rpm -qp` (NEVRA, file digest, size, provides,
 * requires with createrepo_c's filtering, conflicts, obsoletes, pre-requires); signature
 * accept/reject; metadata digests; filelists fetched only when a file dependency needs a path
 * primary does not list; then `ingot resolve` over a and b for virtual provides, file
 * dependencies (primary- and filelists-only), rich dependencies (or, if, a path inside one),
 * versioned conflicts, obsoletes, several candidates and repository priority. Every answer is
 * verified with checkSolution and by `rpm -i --test` into an empty scratch root: rpm accepts
 * the chosen .rpm files without dependency errors (and refuses the set with one package left out).
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isIngotError, type IngotError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/codes.js';
import { loadRpmMdRepo, rpmMdPackageInfo, type RpmMdEntry, type RpmMdPackage } from '../../src/sources/rpmmd/repo.js';
import { loadRepos, type RepoSpec } from '../../src/sources/repos.js';
import { resolve, checkSolution } from '../../src/sources/resolve/index.js';
import { loadManifest } from '../../src/compose/manifest.js';
import { planCompose } from '../../src/compose/plan-memo.js';
import type { ComposePlan } from '../../src/compose/plan.js';
import { FixtureServer } from '../http-fixture.js';
import { cleanup, hashFile, INGOT, ROOT, run, runOk, tmpdir } from '../helpers.js';
import { Gpg, runAsync, type GpgKey } from './repo-tools.js';

let work = '';
let www = '';
let fixtures = '';
let gpg: Gpg;
let keyA: GpgKey;
let keyB: GpgKey;
let server: FixtureServer;
let cacheSeq = 0;

const REPOS = ['fx', 'a', 'b', 'small', 'nofiles'] as const;
type RepoName = (typeof REPOS)[number];

function freshCache(): string {
  return path.join(work, `cache-${++cacheSeq}`);
}

function url(repo: RepoName): string {
  return `${server.url}/${repo}`;
}

function rpmSpec(repo: RepoName, extra: Partial<RepoSpec> = {}): RepoSpec {
  return { name: repo, type: 'rpm-md', url: url(repo), keyring: [keyA.publicArmored], ...extra };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<IngotError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isIngotError(e), `expected IngotError ${code}, got ${(e as Error).stack}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

function createrepo(repo: RepoName, files: string[], compression: 'gz' | 'xz' | 'bz2' | 'zstd'): void {
  const dir = path.join(www, repo);
  fs.mkdirSync(path.join(dir, 'Packages'), { recursive: true });
  for (const f of files) fs.copyFileSync(f, path.join(dir, 'Packages', path.basename(f)));
  runOk('createrepo_c', ['--quiet', '--no-database', `--general-compress-type=${compression === 'zstd' ? 'xz' : compression}`, dir]);
  if (compression === 'zstd') {
    // Debian's createrepo_c 0.17.3 is built without zstd (Fedora's default): compress primary
    // and filelists with zstd(1) and swap them in with modifyrepo_c, which records the new
    // files' checksums and sizes in repomd.xml.
    const md = path.join(dir, 'repodata');
    for (const type of ['primary', 'filelists']) {
      // (modifyrepo_c cannot open a .zst from elsewhere; one already in repodata/ it takes.)
      const old = fs.readdirSync(md).find((f) => f.endsWith(`-${type}.xml.xz`))!;
      const plain = path.join(md, `${type}.xml`);
      fs.writeFileSync(plain, runOk('xz', ['-dc', path.join(md, old)]));
      runOk('zstd', ['-q', '-f', '-19', '--rm', plain, '-o', `${plain}.zst`]);
      runOk('modifyrepo_c', ['--remove', type, md]);
      runOk('modifyrepo_c', [`--mdtype=${type}`, '--no-compress', `${type}.xml.zst`, '.'], { cwd: md });
      assert.ok(!fs.existsSync(`${plain}.zst`) && fs.readdirSync(md).some((f) => f.endsWith(`-${type}.xml.zst`)));
    }
  }
  gpg.detachSign(keyA, path.join(dir, 'repodata/repomd.xml'), path.join(dir, 'repodata/repomd.xml.asc'), true);
}

before(() => {
  fixtures = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  work = tmpdir('ingot-rpmmd-');
  www = path.join(work, 'www');
  gpg = new Gpg(work);
  keyA = gpg.genKey('repo-a');
  keyB = gpg.genKey('repo-b');
  const inDir = (d: string, filter: (f: string) => boolean = () => true): string[] =>
    fs
      .readdirSync(d)
      .filter((f) => f.endsWith('.rpm') && filter(f))
      .map((f) => path.join(d, f));
  createrepo('fx', inDir(fixtures, (f) => !/-(rsa|eddsa)/.test(f)), 'gz');
  createrepo('a', inDir(path.join(fixtures, 'repos/a')), 'gz');
  createrepo('b', inDir(path.join(fixtures, 'repos/b')), 'zstd');
  createrepo('small', inDir(path.join(fixtures, 'repos/b'), (f) => /^rx-(richfile|data|lib|strict)-2/.test(f)), 'xz');
  createrepo('nofiles', inDir(path.join(fixtures, 'repos/b'), (f) => /^rx-(lib|strict)-2/.test(f)), 'bz2');
});

before(async () => {
  server = await FixtureServer.start(www);
});

beforeEach(() => server?.clearFaults());

after(async () => {
  await server?.close();
  gpg?.close();
  cleanup(work);
});

// ---------------------------------------------------------------------------------------------
// Reading repositories

function rpmQuery(file: string, qf: string): string {
  return runOk('rpm', ['-qp', '--qf', qf, file], { env: { LC_ALL: 'C' } });
}

const FLAG = { EQ: '=', LT: '<', LE: '<=', GT: '>', GE: '>=' } as Record<string, string>;

function entryText(e: RpmMdEntry): string {
  if (!e.flags) return e.name;
  const epoch = e.epoch && e.epoch !== '0' ? `${e.epoch}:` : '';
  return `${e.name} ${FLAG[e.flags]} ${epoch}${e.ver ?? ''}${e.rel !== undefined ? `-${e.rel}` : ''}`;
}

function lines(s: string): string[] {
  return s.split('\n').filter(Boolean).sort();
}

/** rpm's requires as createrepo_c puts them in primary (spec: package-formats §2.2). */
function createrepoRequires(file: string): { all: string[]; pre: string[] } {
  const provideNames = new Set(lines(rpmQuery(file, '[%{PROVIDENAME}\n]')));
  const ownFiles = new Set(lines(rpmQuery(file, '[%{FILENAMES}\n]')));
  const raw = rpmQuery(file, '[%{REQUIRENAME}\t%{REQUIREFLAGS}\t%{REQUIREFLAGS:depflags}\t%{REQUIREVERSION}\n]')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, flags, op, version] = l.split('\t') as [string, string, string, string];
      return { name, flags: Number(flags), text: op.trim() ? `${name} ${op.trim()} ${version}` : name };
    })
    .filter((r) => !r.name.startsWith('rpmlib(') && !provideNames.has(r.name) && !ownFiles.has(r.name));
  // PREREQ | SCRIPT_PRE | SCRIPT_POST set pre="1".
  const pre = raw.filter((r) => (r.flags & (0x40 | 0x200 | 0x400)) !== 0).map((r) => r.text);
  return { all: [...new Set(raw.map((r) => r.text))].sort(), pre: [...new Set(pre)].sort() };
}

function rpmList(file: string, tag: 'PROVIDE' | 'CONFLICT' | 'OBSOLETE'): string[] {
  return lines(rpmQuery(file, `[%{${tag}NAME} %{${tag}FLAGS:depflags} %{${tag}VERSION}\n]`)).map((l) => l.replace(/\s+/g, ' ').trim());
}

function fileOf(repo: RepoName, p: RpmMdPackage): string {
  const rel = p.url.slice(url(repo).length + 1);
  return path.join(www, repo, rel);
}

function compareWithRpm(repo: RepoName, pkgs: RpmMdPackage[]): void {
  const onDisk = fs.readdirSync(path.join(www, repo, 'Packages')).filter((f) => f.endsWith('.rpm'));
  assert.equal(pkgs.length, onDisk.length, `${repo}: one entry per .rpm`);
  for (const p of pkgs) {
    const file = fileOf(repo, p);
    assert.ok(fs.existsSync(file), `${p.url} is a file of the repository`);
    const label = `${repo}/${path.basename(file)}`;
    assert.equal(`${p.name} ${p.epoch} ${p.version} ${p.release} ${p.arch}`, rpmQuery(file, '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}'), label);
    assert.equal(p.algo, 'sha256');
    assert.equal(p.checksum, hashFile(file), `${label}: pkgid is the file's SHA-256`);
    assert.equal(p.size, fs.statSync(file).size, label);
    assert.deepEqual(p.provides.map(entryText).sort(), rpmList(file, 'PROVIDE'), `${label} provides`);
    assert.deepEqual(p.conflicts.map(entryText).sort(), rpmList(file, 'CONFLICT'), `${label} conflicts`);
    assert.deepEqual(p.obsoletes.map(entryText).sort(), rpmList(file, 'OBSOLETE'), `${label} obsoletes`);
    const req = createrepoRequires(file);
    assert.deepEqual([...new Set(p.requires.map(entryText))].sort(), req.all, `${label} requires`);
    assert.deepEqual([...new Set(p.requires.filter((e) => e.pre).map(entryText))].sort(), req.pre, `${label} pre-requires`);
    // The family-neutral view splits them the same way.
    const info = rpmMdPackageInfo(p);
    assert.equal(info.preDepends.length + info.depends.length, p.requires.filter((e) => !e.name.startsWith('rpmlib(')).length);
  }
}

test('gzip primary: every entry agrees with rpm -qp on the .rpm it points to', async () => {
  for (const repo of ['fx', 'a'] as const) {
    const idx = await loadRpmMdRepo({ name: repo, url: url(repo), keyring: [keyA.publicArmored] }, { cacheDir: freshCache() });
    assert.match(idx.data.find((d) => d.type === 'primary')!.href, /primary\.xml\.gz$/);
    compareWithRpm(repo, idx.packages);
  }
});

test('zstd, xz and bzip2 primary read the same', async () => {
  for (const [repo, ext] of [['small', 'xz'], ['nofiles', 'bz2']] as const) {
    const idx = await loadRpmMdRepo({ name: repo, url: url(repo), keyring: [keyA.publicArmored] }, { cacheDir: freshCache() });
    assert.match(idx.data.find((d) => d.type === 'primary')!.href, new RegExp(`primary\\.xml\\.${ext}$`));
    compareWithRpm(repo, idx.packages);
  }
  const idx = await loadRpmMdRepo({ name: 'b', url: url('b'), keyring: [keyA.publicArmored] }, { cacheDir: freshCache() });
  assert.match(idx.data.find((d) => d.type === 'primary')!.href, /primary\.xml\.zst$/);
  compareWithRpm('b', idx.packages);
  assert.deepEqual(idx.packages.find((p) => p.name === 'rx-lib')!.version, '2.0');
  // filelists.xml.zst on demand.
  const lists = await idx.fileLists();
  const helper = idx.packages.find((p) => p.name === 'rx-helper')!;
  assert.deepEqual(lists.get(helper.checksum), ['/usr/libexec/rx-helper/run']);
});

test('repomd.xml signature: accepted with the signing key, refused otherwise', async () => {
  const load = (extra: Partial<Parameters<typeof loadRpmMdRepo>[0]>): ReturnType<typeof loadRpmMdRepo> =>
    loadRpmMdRepo({ name: 'a', url: url('a'), keyring: [keyA.publicArmored], ...extra }, { cacheDir: freshCache() });
  await load({});
  await load({ keyring: [keyB.publicBinary, keyA.publicBinary] });
  await rejectsWith(load({ keyring: [keyB.publicArmored] }), 'SIGNATURE_INVALID');
  // Tampered: a changed revision under the old signature.
  const md = fs.readFileSync(path.join(www, 'a/repodata/repomd.xml'), 'utf8');
  server.fault('/a/repodata/repomd.xml', { kind: 'body', data: Buffer.from(md.replace(/<revision>(\d+)</, (_m, r: string) => `<revision>${Number(r) + 1}<`)) });
  await rejectsWith(load({}), 'SIGNATURE_INVALID');
  // Not signed at all.
  server.fault('/a/repodata/repomd.xml.asc', { kind: 'status', status: 404 });
  await rejectsWith(load({}), 'SIGNATURE_INVALID', /not signed/);
  // The signature of another repository's repomd.xml.
  server.fault('/a/repodata/repomd.xml.asc', { kind: 'body', data: fs.readFileSync(path.join(www, 'b/repodata/repomd.xml.asc')) });
  await rejectsWith(load({}), 'SIGNATURE_INVALID');
  // gpgcheck off needs no keyring; gpgcheck on without one is a configuration error.
  await load({ gpgcheck: false, keyring: [] });
  await rejectsWith(load({ keyring: [] }), 'KEYRING_INVALID');
  // An HTML page instead of repomd.xml.
  server.fault('/a/repodata/repomd.xml', { kind: 'html' }, Infinity);
  await rejectsWith(load({}), 'NETWORK_ERROR', /HTML page/);
});

test('primary whose checksum differs from repomd.xml is refused (DIGEST_MISMATCH), nothing cached', async () => {
  const md = fs.readFileSync(path.join(www, 'a/repodata/repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(md)![1]!;
  const real = fs.readFileSync(path.join(www, 'a', href));
  const other = Buffer.from(real);
  other[other.length - 9] ^= 0xff;
  server.fault(`/a/${href}`, { kind: 'body', data: other }, Infinity);
  const cacheDir = freshCache();
  await rejectsWith(loadRpmMdRepo({ name: 'a', url: url('a'), keyring: [keyA.publicArmored] }, { cacheDir }), 'DIGEST_MISMATCH');
  const files = fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(cacheDir, f)).isFile()) : [];
  assert.deepEqual(files, []);
});

function filelistsRequests(repo: RepoName, since: number): number {
  return server.log.slice(since).filter((l) => l.path.startsWith(`/${repo}/repodata/`) && /filelists/.test(l.path)).length;
}

test('filelists.xml is fetched only when a file dependency needs a path primary does not list', async () => {
  // The reader alone: never until asked, then once.
  let n0 = server.log.length;
  const idx = await loadRpmMdRepo({ name: 'a', url: url('a'), keyring: [keyA.publicArmored] }, { cacheDir: freshCache() });
  assert.equal(filelistsRequests('a', n0), 0);
  assert.ok(!idx.packages.find((p) => p.name === 'rx-helper')!.files.includes('/usr/libexec/rx-helper/run'), 'primary leaves the path out');
  assert.ok(idx.packages.find((p) => p.name === 'rx-tools')!.files.includes('/usr/bin/rx-tool'), 'primary lists bin/ paths');
  await idx.fileLists();
  await idx.fileLists();
  assert.equal(filelistsRequests('a', n0), 1);
  // loadRepos: no file dependencies at all -> not fetched.
  n0 = server.log.length;
  await loadRepos([rpmSpec('nofiles')], { cacheDir: freshCache() });
  assert.equal(filelistsRequests('nofiles', n0), 0);
  // rx-app requires /usr/libexec/rx-helper/run -> fetched.
  n0 = server.log.length;
  await loadRepos([rpmSpec('a')], { cacheDir: freshCache() });
  assert.equal(filelistsRequests('a', n0), 1);
  // A path inside a rich dependency counts too: (/usr/share/rx-data/table or rx-missing).
  n0 = server.log.length;
  const small = await loadRepos([rpmSpec('small')], { cacheDir: freshCache() });
  assert.equal(filelistsRequests('small', n0), 1);
  const r = resolve({ install: ['rx-richfile'] }, small.universe);
  assert.ok(r.ok, r.ok ? '' : r.explanation.join('\n'));
  assert.deepEqual(r.packages.map((p) => p.name), ['rx-data', 'rx-richfile']);
});

test('plan memo (rpm-md): a second plan of the same inputs comes from the memo and equals the resolved plan', async () => {
  // rx-app needs a path only filelists lists: the memo must still give the same set.
  const dir = path.join(work, 'memo-os');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'os.yaml');
  fs.writeFileSync(file, `ref: test/rpm\nrepos:\n  - name: a\n    type: rpm-md\n    url: ${url('a')}\n    keyring: ${keyA.publicArmored}\narch: x86_64\npackages: [rx-app]\n`);
  const lm = loadManifest(file);
  const cacheDir = freshCache();
  const data = (p: ComposePlan): unknown =>
    JSON.parse(JSON.stringify({ hash: p.inputHash, downloads: p.downloads, packages: p.packages.map(({ candidate: c, ...x }) => ({ ...x, repo: c.repo, priority: c.priority ?? 0, size: c.downloadSize })) })) as unknown;
  const off = await planCompose(lm, { cacheDir, noMemo: true });
  assert.ok(off.plan.packages.some((p) => p.name === 'rx-helper'), 'the file dependency was resolved');
  const miss = await planCompose(lm, { cacheDir });
  const n0 = server.log.length;
  const hit = await planCompose(lm, { cacheDir });
  assert.deepEqual([off.memo, miss.memo, hit.memo], ['off', 'miss', 'hit']);
  assert.deepEqual(data(hit.plan), data(off.plan));
  assert.deepEqual(data(miss.plan), data(off.plan));
  const paths = server.log.slice(n0).map((l) => l.path);
  assert.deepEqual(paths.sort(), ['/a/repodata/repomd.xml', '/a/repodata/repomd.xml.asc'], 'a memo hit verifies repomd.xml and reads nothing else');
});

// ---------------------------------------------------------------------------------------------
// Resolution, verified by checkSolution and by rpm

interface CliPackage {
  name: string;
  version: string;
  arch: string;
  repo: string;
}

async function cliResolve(repos: RepoName[], request: string[]): Promise<{ status: number; packages: CliPackage[]; stderr: string }> {
  const args = ['--json', 'resolve', '--cachedir', freshCache(), '--keyring', keyA.publicArmored];
  for (const r of repos) args.push('--repo-url', url(r));
  const r = await runAsync(process.execPath, [INGOT, ...args, ...request]);
  if (r.status !== 0) return { status: r.status, packages: [], stderr: r.stderr };
  return { status: 0, packages: (JSON.parse(r.stdout) as { packages: CliPackage[] }).packages, stderr: r.stderr };
}

/** The .rpm files of a CLI answer (repo1, repo2 ... name the --repo-url order). */
function filesOf(repos: RepoName[], pkgs: CliPackage[]): string[] {
  return pkgs.map((p) => {
    const repo = repos.length === 1 ? repos[0]! : repos[Number(p.repo.replace('repo', '')) - 1]!;
    const f = path.join(www, repo, 'Packages', `${p.name}-${p.version}.${p.arch}.rpm`);
    assert.ok(fs.existsSync(f), f);
    return f;
  });
}

/** `rpm -i --test` of the files into an empty scratch root: null when rpm accepts, else its complaint. */
function rpmTest(files: string[]): string | null {
  const root = fs.mkdtempSync(path.join(work, 'rpmroot-'));
  try {
    runOk('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--initdb']);
    const r = run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-i', '--test', ...files], { env: { LC_ALL: 'C' } });
    const complaint = r.stderr
      .split('\n')
      .filter((l) => l && !/should not be used directly|assuming you know what you are doing/.test(l))
      .join('\n');
    return r.status === 0 && !/error|Failed dependencies/.test(complaint) ? null : `exit ${r.status}: ${complaint}`;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

interface Case {
  what: string;
  repos: RepoName[];
  request: string[];
  /** Exactly this set (name-version). */
  expect?: string[];
  has?: string[];
  hasNot?: string[];
}

const A_APP = ['rx-app-1.0-1', 'rx-cli-1.0-1', 'rx-helper-1.0-1', 'rx-impl-a-1.0-1', 'rx-lib-1.0-1', 'rx-tools-1.0-1'];

const CASES: Case[] = [
  {
    what: 'virtual provide, file dependency in filelists only and in primary, rich or, versioned requires',
    repos: ['a'],
    request: ['rx-app'],
    has: ['rx-app-1.0-1', 'rx-helper-1.0-1', 'rx-tools-1.0-1', 'rx-lib-1.0-1'],
    hasNot: ['rx-plugin-1.0-1', 'rx-extra-1.0-1'],
  },
  { what: 'the newest of several candidates across repositories', repos: ['a', 'b'], request: ['rx-app'], has: A_APP.filter((p) => /app|helper|tools|lib/.test(p)).map((p) => p.replace('1.0', '2.0')) },
  { what: 'a conflict steers the rich or to its other side', repos: ['a'], request: ['rx-app', 'rx-headless'], has: ['rx-cli-1.0-1', 'rx-headless-1.0-1'], hasNot: ['rx-gui-1.0-1'] },
  { what: 'rich if: the condition installed pulls the consequence', repos: ['a'], request: ['rx-app', 'rx-extra'], has: ['rx-extra-1.0-1', 'rx-plugin-1.0-1'] },
  { what: 'versioned conflict forces the version from the other repository', repos: ['a', 'b'], request: ['rx-strict'], expect: ['rx-lib-2.0-1', 'rx-strict-2.0-1'] },
  { what: 'versioned conflict with an older strict', repos: ['a', 'b'], request: ['rx-strict = 1.0'], expect: ['rx-lib-2.0-1', 'rx-strict-1.0-1'] },
  { what: 'a version constraint in the request picks among candidates', repos: ['a', 'b'], request: ['rx-lib < 2'], expect: ['rx-lib-1.0-1'] },
  { what: 'obsoletes: the obsoleting package meets the requirement on the obsoleted name', repos: ['a', 'b'], request: ['rx-legacy-user', 'rx-new'], expect: ['rx-legacy-user-2.0-1', 'rx-new-2.0-1'] },
  { what: 'obsoleted package alone', repos: ['a'], request: ['rx-legacy-user'], expect: ['rx-legacy-user-1.0-1', 'rx-old-1.0-1'] },
  { what: 'a path inside a rich dependency (filelists only)', repos: ['small'], request: ['rx-richfile'], expect: ['rx-data-2.0-1', 'rx-richfile-2.0-1'] },
  { what: 'a file path as the request', repos: ['a', 'b'], request: ['/usr/libexec/rx-helper/run'], expect: ['rx-helper-2.0-1'] },
];

for (const c of CASES) {
  test(`ingot resolve: ${c.what}`, async () => {
    const r = await cliResolve(c.repos, c.request);
    assert.equal(r.status, 0, r.stderr);
    const got = r.packages.map((p) => `${p.name}-${p.version}`).sort();
    if (c.expect) assert.deepEqual(got, [...c.expect].sort());
    for (const p of c.has ?? []) assert.ok(got.includes(p), `${p} in ${got.join(' ')}`);
    for (const p of c.hasNot ?? []) assert.ok(!got.includes(p), `${p} not in ${got.join(' ')}`);
    // The library gives the same answer, and the independent checker accepts it.
    const repos = await loadRepos(
      c.repos.map((name, i) => rpmSpec(name, { name: c.repos.length > 1 ? `repo${i + 1}` : 'repo' })),
      { cacheDir: freshCache() },
    );
    const lib = resolve({ install: c.request }, repos.universe, { weakDeps: false });
    assert.ok(lib.ok);
    assert.deepEqual(lib.packages.map((p) => `${p.name}-${p.version}`).sort(), got);
    const check = checkSolution(lib.packages, { install: c.request }, { family: 'rpm', arch: repos.arch, universe: repos.candidates });
    assert.deepEqual(check.problems, []);
    // rpm accepts exactly these files.
    const files = filesOf(c.repos, r.packages);
    assert.equal(rpmTest(files), null, `rpm -i --test ${files.map((f) => path.basename(f)).join(' ')}`);
  });
}

test('rpm, the oracle, does refuse an incomplete set (one dependency left out)', () => {
  const files = A_APP.map((p) => path.join(www, 'a', 'Packages', `${p}.noarch.rpm`));
  assert.equal(rpmTest(files), null);
  for (const drop of ['rx-helper', 'rx-tools', 'rx-impl-a', 'rx-cli', 'rx-lib']) {
    const complaint = rpmTest(files.filter((f) => !path.basename(f).startsWith(`${drop}-1`)));
    assert.ok(complaint && /Failed dependencies/.test(complaint), `without ${drop}: ${complaint}`);
  }
  assert.match(rpmTest([path.join(www, 'b/Packages/rx-strict-2.0-1.noarch.rpm'), path.join(www, 'a/Packages/rx-lib-1.0-1.noarch.rpm')]) ?? '', /conflicts/);
});

test('repository priority wins over a newer version, but not over a hard conflict', async () => {
  const repos = await loadRepos([rpmSpec('a', { priority: 10 }), rpmSpec('b', { priority: 0 })], { cacheDir: freshCache() });
  const pick = (req: string[]): string[] => {
    const r = resolve({ install: req }, repos.universe, { weakDeps: false });
    assert.ok(r.ok, r.ok ? '' : r.explanation.join('\n'));
    assert.deepEqual(checkSolution(r.packages, { install: req }, { family: 'rpm', arch: repos.arch, universe: repos.candidates }).problems, []);
    return r.packages.map((p) => `${p.name}-${p.version}@${p.repo}`).sort();
  };
  assert.deepEqual(pick(['rx-lib']), ['rx-lib-1.0-1@a']);
  assert.deepEqual(pick(['rx-strict']), ['rx-lib-2.0-1@b', 'rx-strict-1.0-1@a']);
  const app = pick(['rx-app']);
  assert.ok(app.every((p) => p.endsWith('@a')), app.join(' '));
  const files = app.map((p) => path.join(www, 'a', 'Packages', `${p.replace(/@a$/, '')}.noarch.rpm`));
  assert.equal(rpmTest(files), null);
});

test('ingot resolve: unsatisfiable requests say why (RESOLVE_UNSATISFIABLE)', async () => {
  const conflict = await cliResolve(['a'], ['rx-strict']);
  assert.equal(conflict.status, 1);
  assert.match(conflict.stderr, /RESOLVE_UNSATISFIABLE/);
  assert.match(conflict.stderr, /rx-lib/);
  // rpm agrees: the only candidates conflict.
  assert.match(rpmTest([path.join(www, 'a/Packages/rx-strict-1.0-1.noarch.rpm'), path.join(www, 'a/Packages/rx-lib-1.0-1.noarch.rpm')]) ?? '', /conflicts/);
  const both = await cliResolve(['a'], ['rx-gui', 'rx-headless']);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /rx-gui|rx-headless/);
  const missing = await cliResolve(['a', 'b'], ['rx-nonexistent']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /rx-nonexistent/);
});
