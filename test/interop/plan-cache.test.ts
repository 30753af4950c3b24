/**
 * The plan's caches against a real signed apt repository (packages by dpkg-deb, Packages by
 * dpkg-scanpackages, Release by apt-ftparchive, InRelease by gpg --clearsign, read through
 * file://):
 * - the parsed-index cache (CACHEDIR/indexes/apt-parsed): a hit gives exactly what parsing the
 *   index gives; a changed index is parsed anew; a damaged or ill-formed cache file is ignored
 *   and rewritten;
 * - the plan memo (CACHEDIR/plans): a second plan of the same inputs comes from it and equals
 *   the resolved plan; a changed index, manifest or lockfile misses it; a damaged memo is
 *   ignored and rewritten; the InRelease signature is checked on every plan, memo or not.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { cleanup, runOk, tmpdir } from '../helpers.js';
import { Gpg, makeDeb, type GpgKey } from './repo-tools.js';
import { aptPackageInfo, loadAptRepo, parsedIndexPath, readParsedIndex, LazyStanza, type AptRepoIndex, type AptRepoSpec } from '../../src/sources/apt/repo.js';
import { writeCacheFile } from '../../src/sources/cache-file.js';
import { loadManifest } from '../../src/compose/manifest.js';
import { planCompose, type PlanComposeResult } from '../../src/compose/plan-memo.js';
import { createLockfile, writeLockfile } from '../../src/compose/lockfile.js';
import { repoSpecsOf, type ComposePlan } from '../../src/compose/plan.js';
import { IngotError } from '../../src/core/errors.js';

let work = '';
let www = '';
let pool = '';
let gpg: Gpg;
let keyA: GpgKey;
let keyB: GpgKey;

/** Rewrites dists/stable from the pool: Packages (plain and gz), Release, InRelease signed by `key`. */
function publish(key: GpgKey = keyA): string {
  const packages = runOk('dpkg-scanpackages', ['--multiversion', 'pool'], { cwd: www });
  const dir = path.join(www, 'dists', 'stable');
  const bin = path.join(dir, 'main', 'binary-amd64');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'Packages'), packages);
  fs.writeFileSync(path.join(bin, 'Packages.gz'), zlib.gzipSync(packages));
  const o = (k: string, v: string): string[] => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  const release = runOk('apt-ftparchive', [...o('Suite', 'stable'), ...o('Codename', 'stable'), ...o('Architectures', 'amd64'), ...o('Components', 'main'), 'release', '.'], { cwd: dir });
  fs.writeFileSync(path.join(dir, 'Release'), release);
  gpg.clearsign(key, path.join(dir, 'Release'), path.join(dir, 'InRelease'));
  return packages;
}

function spec(): AptRepoSpec {
  return { name: 'local', url: pathToFileURL(www).href, suites: ['stable'], components: ['main'], arch: 'amd64', keyring: [keyA.publicBinary] };
}

/** Everything a load gives, as plain data. */
function describe(idx: AptRepoIndex): unknown[] {
  return idx.packages.map((p) => ({
    repo: p.repo,
    priority: p.priority,
    suite: p.suite,
    component: p.component,
    url: p.url,
    size: p.size,
    sha256: p.sha256,
    fields: { ...p.stanza.fields },
    info: JSON.parse(JSON.stringify(aptPackageInfo(p))) as unknown,
  }));
}

function parsedFiles(cache: string): string[] {
  const dir = path.join(cache, 'indexes', 'apt-parsed');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.idx')).sort() : [];
}

before(() => {
  work = tmpdir('ingot-plan-cache-');
  www = path.join(work, 'www');
  pool = path.join(www, 'pool', 'main');
  fs.mkdirSync(pool, { recursive: true });
  makeDeb(pool, { Package: 'libfoo1', Version: '1.0-1', Architecture: 'amd64', 'Multi-Arch': 'same', Source: 'foo (1.0-1)', Section: 'libs', Priority: 'optional' });
  makeDeb(pool, { Package: 'hello', Version: '1:2.10-3', Architecture: 'amd64', Depends: 'libfoo1 (>= 1.0), hello-data | hello-virtual', 'Pre-Depends': 'libfoo1', Recommends: 'unrelated' });
  makeDeb(pool, { Package: 'hello-data', Version: '2.10-3', Architecture: 'all', Provides: 'hello-virtual (= 2.10)', 'Multi-Arch': 'foreign', Description: 'données\n latin-1 and UTF-8 text in a field the cache keeps out of the eager part' });
  makeDeb(pool, { Package: 'base-thing', Version: '3', Architecture: 'all', Essential: 'yes', Priority: 'required', Conflicts: 'unrelated (<< 1)', Breaks: 'hello (<< 1:2)', Replaces: 'hello (<< 1:2)' });
  makeDeb(pool, { Package: 'unrelated', Version: '1', Architecture: 'all', Suggests: 'hello' });
  gpg = new Gpg(work);
  keyA = gpg.genKey('plan-a');
  keyB = gpg.genKey('plan-b');
  publish();
});

after(() => {
  gpg?.close();
  cleanup(work);
});

test('parsed-index cache: a hit equals a parse; a changed index is parsed anew; a damaged file is ignored and rewritten', async () => {
  const cache = path.join(work, 'cache-index');
  const reference = describe(await loadAptRepo(spec(), { cacheDir: path.join(work, 'cache-none'), indexCache: false }));
  assert.equal(reference.length, 5);
  assert.deepEqual(parsedFiles(path.join(work, 'cache-none')), [], 'indexCache: false writes no cache');

  const first = await loadAptRepo(spec(), { cacheDir: cache });
  assert.ok(!first.packages.some((p) => p.stanza instanceof LazyStanza), 'the first load parses the index');
  assert.deepEqual(describe(first), reference);
  const files = parsedFiles(cache);
  assert.equal(files.length, 1);
  const digest = files[0]!.replace(/\.idx$/, '');
  const file = parsedIndexPath(cache, digest);
  assert.ok(readParsedIndex(file, digest), 'the cache file reads back');

  const hit = await loadAptRepo(spec(), { cacheDir: cache });
  assert.ok(hit.packages.every((p) => p.stanza instanceof LazyStanza), 'the second load comes from the cache');
  assert.deepEqual(describe(hit), reference);

  // Damaged files: a flipped byte, a cut, garbage, a well-formed file of the wrong shape.
  const good = fs.readFileSync(file);
  const damaged: [string, () => void][] = [
    ['a flipped byte', () => fs.writeFileSync(file, Buffer.from(good.map((b, i) => (i === good.length - 20 ? b ^ 0x20 : b))))],
    ['cut short', () => fs.writeFileSync(file, good.subarray(0, good.length >> 1))],
    ['garbage', () => fs.writeFileSync(file, 'not a cache file\n')],
    ['an intact file of the wrong shape', () => assert.ok(writeCacheFile(file, 'apt-index-2', digest, '["hello","1.0"]\n'))],
    ['offsets past the end', () => assert.ok(writeCacheFile(file, 'apt-index-2', digest, `${JSON.stringify(['p', '1', 'all', null, null, null, null, 0, 999])}\nDepends: x\n`))],
    ['a number for a field', () => assert.ok(writeCacheFile(file, 'apt-index-2', digest, `${JSON.stringify(['p', 1, 'all', null, null, null, null, 0, 11])}\nDepends: x\n`))],
    ['another index\'s cache file under this digest', () => assert.ok(writeCacheFile(file, 'apt-index-2', 'f'.repeat(64), good.subarray(good.indexOf(10) + 1)))],
  ];
  for (const [what, damage] of damaged) {
    damage();
    assert.equal(readParsedIndex(file, digest), null, `${what}: not read as a cache`);
    const again = await loadAptRepo(spec(), { cacheDir: cache });
    assert.ok(!again.packages.some((p) => p.stanza instanceof LazyStanza), `${what}: parsed from the index`);
    assert.deepEqual(describe(again), reference, what);
    assert.ok(readParsedIndex(file, digest), `${what}: the cache file was rewritten`);
  }

  // A changed index (a new version, a new package) has another digest: parsed anew, both kept.
  makeDeb(pool, { Package: 'libfoo1', Version: '1.1-1', Architecture: 'amd64', 'Multi-Arch': 'same', Source: 'foo (1.1-1)' });
  makeDeb(pool, { Package: 'extra', Version: '0.1', Architecture: 'amd64' });
  publish();
  try {
    const changed = await loadAptRepo(spec(), { cacheDir: cache });
    assert.ok(!changed.packages.some((p) => p.stanza instanceof LazyStanza));
    const names = changed.packages.map((p) => `${p.stanza.fields['Package']} ${p.stanza.fields['Version']}`).sort();
    assert.deepEqual(names, ['base-thing 3', 'extra 0.1', 'hello 1:2.10-3', 'hello-data 2.10-3', 'libfoo1 1.0-1', 'libfoo1 1.1-1', 'unrelated 1']);
    assert.equal(parsedFiles(cache).length, 2);
    const changedHit = await loadAptRepo(spec(), { cacheDir: cache });
    assert.ok(changedHit.packages.every((p) => p.stanza instanceof LazyStanza));
    assert.deepEqual(describe(changedHit), describe(await loadAptRepo(spec(), { cacheDir: path.join(work, 'cache-none'), indexCache: false })));
  } finally {
    for (const f of fs.readdirSync(pool)) if (f.startsWith('extra_') || f.startsWith('libfoo1_1.1')) fs.rmSync(path.join(pool, f));
    publish();
  }
});

/** A plan as plain data: everything later steps use. */
function planData(p: ComposePlan): unknown {
  return {
    source: p.source,
    family: p.family,
    arch: p.arch,
    ref: p.ref,
    inputHash: p.inputHash,
    version: p.version,
    downloadSize: p.downloadSize,
    downloads: p.downloads,
    inventory: p.inventory,
    packages: p.packages.map((x) => ({
      name: x.name,
      epoch: x.epoch,
      version: x.version,
      release: x.release,
      evr: x.evr,
      arch: x.arch,
      repo: x.repo,
      reason: x.reason,
      requiredBy: x.requiredBy,
      sourceName: x.sourceName,
      sourceVersion: x.sourceVersion,
      digest: x.digest,
      size: x.size,
      url: x.url,
      info: JSON.parse(JSON.stringify(x.info)) as unknown,
      candidate: { repo: x.candidate.repo, priority: x.candidate.priority ?? 0, downloadSize: x.candidate.downloadSize },
    })),
  };
}

function memoFiles(cache: string): string[] {
  const dir = path.join(cache, 'plans');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => path.join(dir, n)) : [];
}

test('plan memo: the same inputs plan from the memo, equal to resolving; changes miss it; signatures are checked every time', async () => {
  const cache = path.join(work, 'cache-plan');
  const os = path.join(work, 'os');
  fs.mkdirSync(os, { recursive: true });
  const manifest = (name: string, packages: string[]): string => {
    const file = path.join(os, name);
    fs.writeFileSync(
      file,
      `ref: test/plan
repos:
  - name: local
    type: apt
    url: ${pathToFileURL(www).href}
    suites: [stable]
    keyring: ${keyA.publicBinary}
arch: amd64
include-essential: true
recommends: true
automatic-version-prefix: "1"
packages: [${packages.join(', ')}]
`,
    );
    return file;
  };
  const lm = loadManifest(manifest('os.yaml', ['hello']));
  const opts = { cacheDir: cache, previousVersion: '1.4' };
  const resolved = await planCompose(lm, { ...opts, noMemo: true });
  assert.equal(resolved.memo, 'off');
  assert.deepEqual(memoFiles(cache), [], 'noMemo writes no memo');
  assert.deepEqual(resolved.plan.packages.map((p) => `${p.name} ${p.evr} ${p.reason}`), ['base-thing 3 essential', 'hello 1:2.10-3 requested', 'hello-data 2.10-3 dependency', 'libfoo1 1.0-1 dependency', 'unrelated 1 recommended']);
  assert.equal(resolved.plan.version, '1.5');
  const want = planData(resolved.plan);

  const miss = await planCompose(lm, opts);
  assert.equal(miss.memo, 'miss');
  assert.deepEqual(planData(miss.plan), want);
  assert.equal(memoFiles(cache).length, 1);
  const hit = await planCompose(lm, opts);
  assert.equal(hit.memo, 'hit');
  assert.equal(hit.repos, undefined, 'no index was read');
  assert.deepEqual(planData(hit.plan), want);
  // The version is computed anew on a hit.
  assert.equal((await planCompose(lm, { cacheDir: cache, previousVersion: '1.5' })).plan.version, '1.6');

  // Damaged memos: ignored (resolved again, the same plan) and rewritten.
  const [memo] = memoFiles(cache);
  const key = path.basename(memo!, '.json');
  const good = fs.readFileSync(memo!);
  const damaged: [string, () => void][] = [
    ['a flipped byte', () => fs.writeFileSync(memo!, Buffer.from(good.map((b, i) => (i === good.length - 30 ? b ^ 0x01 : b))))],
    ['cut short', () => fs.writeFileSync(memo!, good.subarray(0, 100))],
    ['an intact file of the wrong shape', () => assert.ok(writeCacheFile(memo!, 'plan', key, JSON.stringify({ format: 1, source: 'manifest', family: 'deb', arch: 'amd64', packages: [{ record: { type: 'apt' }, reason: 'requested' }] })))],
    ['a record whose version does not parse', () => {
      const body = JSON.parse(good.subarray(good.indexOf(10) + 1).toString('utf8')) as { packages: { record: { fields: Record<string, string> } }[] };
      body.packages[0]!.record.fields['Version'] = 'not a version!';
      assert.ok(writeCacheFile(memo!, 'plan', key, JSON.stringify(body)));
    }],
  ];
  for (const [what, damage] of damaged) {
    damage();
    const r = await planCompose(lm, opts);
    assert.equal(r.memo, 'miss', what);
    assert.deepEqual(planData(r.plan), want, what);
    assert.equal((await planCompose(lm, opts)).memo, 'hit', `${what}: rewritten`);
  }

  // Another request misses (and is memoised on its own); the first one still hits.
  const lm2 = loadManifest(manifest('os2.yaml', ['hello', 'unrelated']));
  assert.equal((await planCompose(lm2, opts)).memo, 'miss');
  assert.equal((await planCompose(lm2, opts)).memo, 'hit');
  assert.equal((await planCompose(lm, opts)).memo, 'hit');

  // A lockfile: memoised by its bytes; an edited lockfile is checked against the indexes again.
  const lockPath = path.join(os, 'os.lock.json');
  writeLockfile(lockPath, createLockfile(resolved.plan, repoSpecsOf(lm.manifest)));
  const locked = (): Promise<PlanComposeResult> => planCompose(lm, { ...opts, lockfile: lockPath });
  const l1 = await locked();
  const l2 = await locked();
  assert.deepEqual([l1.memo, l2.memo], ['miss', 'hit']);
  assert.equal(l2.plan.source, 'lockfile');
  assert.deepEqual(planData(l2.plan), planData(l1.plan));
  assert.ok(l2.plan.packages.every((p) => p.reason === 'locked'));
  assert.equal(l2.plan.inputHash, resolved.plan.inputHash);
  const text = fs.readFileSync(lockPath, 'utf8');
  const libfoo = resolved.plan.packages.find((p) => p.name === 'libfoo1')!;
  fs.writeFileSync(lockPath, text.replace(libfoo.digest, `sha256:${'0'.repeat(64)}`));
  await assert.rejects(locked(), (e: unknown) => e instanceof IngotError && e.code === 'LOCKFILE_MISMATCH');
  fs.writeFileSync(lockPath, text);
  assert.equal((await locked()).memo, 'hit');

  // The Release signed by a key outside the keyring: refused although a memo exists for
  // exactly this Release content.
  const dir = path.join(www, 'dists', 'stable');
  gpg.clearsign(keyB, path.join(dir, 'Release'), path.join(dir, 'InRelease'));
  await assert.rejects(planCompose(lm, opts), (e: unknown) => e instanceof IngotError && e.code === 'SIGNATURE_INVALID');
  publish();
  assert.equal((await planCompose(lm, opts)).memo, 'hit');

  // A changed index (a newer libfoo1): the memo misses and the plan takes the new version.
  makeDeb(pool, { Package: 'libfoo1', Version: '1.1-1', Architecture: 'amd64', 'Multi-Arch': 'same' });
  publish();
  try {
    const changed = await planCompose(lm, opts);
    assert.equal(changed.memo, 'miss');
    assert.equal(changed.plan.packages.find((p) => p.name === 'libfoo1')!.evr, '1.1-1');
    assert.notEqual(changed.plan.inputHash, resolved.plan.inputHash);
    assert.equal((await planCompose(lm, opts)).memo, 'hit');
  } finally {
    for (const f of fs.readdirSync(pool)) if (f.startsWith('libfoo1_1.1')) fs.rmSync(path.join(pool, f));
    publish();
  }
});
