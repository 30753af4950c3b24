/**
 * apt repositories and the package cache against a repository made by the real tools and read
 * by apt itself.
 *
 * The repository: the .deb fixtures (test/fixtures/build-debs.sh) plus a few tiny packages
 * built here with dpkg-deb (several versions, an epoch, a tilde, a virtual package, an arch-all
 * package), indexed by `dpkg-scanpackages --multiversion` into
 * dists/SUITE/main/binary-amd64/Packages(.gz, .xz), a Release from `apt-ftparchive release`,
 * signed by `gpg --clearsign` (InRelease) or `gpg --detach-sign` (Release.gpg, armored or binary)
 * with throwaway keys. It is served by the fault-injecting fixture server (test/http-fixture.ts)
 * on 127.0.0.1, and read through file:// as well.
 *
 * Checked: signatures with the right key, a wrong key, tampering, unsigned text around the
 * signed message; Packages whose checksum differs from the Release; Valid-Until; by-hash;
 * unsigned repositories; redirects; apt (in an isolated configuration) reads the same
 * repository, refuses what ingot refuses (one known, explained difference: a binary
 * Release.gpg), and agrees on every version and on what `install` chooses; the CLI. Then
 * PackageCache: parallel downloads, resumption after a killed process and after dropped
 * connections (a Range request, and the result verifies), a 500 retried, and refusal with a
 * clear code of HTML pages, truncated, longer or altered files, while a wrong Content-Length,
 * a server ignoring Range, slow and stalled responses still end with the right file; nothing
 * unverified is ever at the final path.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { isIngotError, type IngotError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/codes.js';
import { loadAptRepo, aptPackageInfo, type AptRepoSpec, type AptRepoIndex } from '../../src/sources/apt/repo.js';
import { PackageCache, type CacheItem } from '../../src/sources/cache.js';
import { loadRepos } from '../../src/sources/repos.js';
import { resolve, checkSolution, compare, versionScheme } from '../../src/sources/resolve/index.js';
import { formatVersion } from '../../src/sources/package.js';
import { FixtureServer } from '../http-fixture.js';
import { cleanup, hashFile, INGOT, ROOT, runOk, tmpdir } from '../helpers.js';
import { debFixtures } from '../fixtures/deb/helpers.js';
import { AptSandbox, Gpg, makeDeb, runAsync, type GpgKey } from './repo-tools.js';

let work = '';
let www = '';
let gpg: Gpg;
let keyA: GpgKey;
let keyB: GpgKey;
let server: FixtureServer;
let packagesText = '';
let cacheSeq = 0;

/** The stanzas dpkg-scanpackages wrote, read independently of ingot's parser. */
interface Stanza {
  Package: string;
  Version: string;
  Architecture: string;
  Filename: string;
  Size: string;
  SHA256: string;
}
let stanzas: Stanza[] = [];

const BIG = '/pool/main/bigdata_0.1_all.deb';

function freshCache(): string {
  return path.join(work, `cache-${++cacheSeq}`);
}

function spec(suite: string, extra: Partial<AptRepoSpec> = {}): AptRepoSpec {
  return { name: 'fixture', url: server.url, suites: [suite], components: ['main'], arch: 'amd64', keyring: [keyA.publicBinary], ...extra };
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

function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', 'UTC');
}

/** Writes dists/SUITE: the Packages indexes, a Release by apt-ftparchive, and its signature(s). */
function writeSuite(
  suite: string,
  opts: {
    sign: 'inrelease' | 'detached-armor' | 'detached-binary' | 'none';
    key?: GpgKey;
    validUntil?: Date;
    byHash?: 'files' | 'no-files';
    packages?: string;
  },
): string {
  const dir = path.join(www, 'dists', suite);
  const bin = path.join(dir, 'main', 'binary-amd64');
  fs.mkdirSync(bin, { recursive: true });
  const text = opts.packages ?? packagesText;
  fs.writeFileSync(path.join(bin, 'Packages'), text);
  fs.writeFileSync(path.join(bin, 'Packages.gz'), zlib.gzipSync(text, { level: 9 }));
  runOk('xz', ['-k', '-f', path.join(bin, 'Packages')]);
  const o = (k: string, v: string): string[] => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  const release = runOk(
    'apt-ftparchive',
    [
      ...o('Origin', 'ingot-tests'),
      ...o('Label', 'ingot-tests'),
      ...o('Suite', suite),
      ...o('Codename', suite),
      ...o('Architectures', 'amd64'),
      ...o('Components', 'main'),
      ...o('ValidTime', String(7 * 86400)),
      ...(opts.byHash ? o('Acquire-By-Hash', 'yes') : []),
      'release',
      '.',
    ],
    { cwd: dir },
  );
  // (apt-ftparchive computes Valid-Until from the clock: set a given one afterwards.)
  const until = opts.validUntil;
  fs.writeFileSync(path.join(dir, 'Release'), until ? release.replace(/^Valid-Until: .*$/m, `Valid-Until: ${rfc2822(until)}`) : release);
  if (opts.byHash === 'files') {
    const byHash = path.join(bin, 'by-hash', 'SHA256');
    fs.mkdirSync(byHash, { recursive: true });
    for (const f of ['Packages', 'Packages.gz', 'Packages.xz']) fs.copyFileSync(path.join(bin, f), path.join(byHash, hashFile(path.join(bin, f))));
  }
  const key = opts.key ?? keyA;
  if (opts.sign === 'inrelease') {
    gpg.clearsign(key, path.join(dir, 'Release'), path.join(dir, 'InRelease'));
    fs.rmSync(path.join(dir, 'Release'));
  } else if (opts.sign === 'detached-armor' || opts.sign === 'detached-binary') {
    gpg.detachSign(key, path.join(dir, 'Release'), path.join(dir, 'Release.gpg'), opts.sign === 'detached-armor');
  }
  return dir;
}

function parseStanzas(text: string): Stanza[] {
  return text
    .split(/\n\n+/)
    .filter((s) => s.trim())
    .map((s) => {
      const f: Record<string, string> = {};
      for (const m of s.matchAll(/^([A-Za-z0-9-]+): (.*)$/gm)) f[m[1]!] = m[2]!;
      return f as unknown as Stanza;
    });
}

const deb = versionScheme('deb');

/** ingot reports fingerprints in lower case, gpg in upper case. */
function fpr(k: GpgKey): string {
  return k.fingerprint.toLowerCase();
}

before(async () => {
  work = tmpdir('ingot-apt-repo-');
  www = path.join(work, 'www');
  const pool = path.join(www, 'pool', 'main');
  fs.mkdirSync(pool, { recursive: true });
  // The fixture packages, under their Debian file names.
  const fx = debFixtures();
  fs.copyFileSync(path.join(fx, 'hello_xz.deb'), path.join(pool, 'hello_2.10-3+b1_amd64.deb'));
  fs.copyFileSync(path.join(fx, 'libfoo1_gzip.deb'), path.join(pool, 'libfoo1_1.0-1_amd64.deb'));
  fs.copyFileSync(path.join(fx, 'bigdata_none.deb'), path.join(www, BIG));
  // Versions apt and ingot must order alike, and a small installable dependency graph.
  for (const v of ['1.0-1', '1.0-2', '1:0.9-1']) makeDeb(pool, { Package: 'ingot-vt', Version: v, Architecture: 'amd64' });
  for (const v of ['2.0~rc1-1', '2.0-1', '2.0+b1-1~bpo1']) makeDeb(pool, { Package: 'ingot-tilde', Version: v, Architecture: 'all' });
  makeDeb(pool, { Package: 'ingot-impl', Version: '3.0-1', Architecture: 'amd64', Provides: 'ingot-virt (= 3)' });
  makeDeb(pool, { Package: 'ingot-data', Version: '0.1', Architecture: 'all' });
  makeDeb(pool, {
    Package: 'ingot-app',
    Version: '1.0-1',
    Architecture: 'amd64',
    'Pre-Depends': 'ingot-data',
    Depends: 'ingot-vt (>= 1:0), ingot-virt, ingot-tilde (>= 2.0~rc1) | ingot-none, ingot-none2 | ingot-data',
    Conflicts: 'ingot-vt (<< 1.0-2)',
  });
  packagesText = runOk('dpkg-scanpackages', ['--multiversion', 'pool'], { cwd: www });
  stanzas = parseStanzas(packagesText);
  assert.equal(stanzas.length, 12);

  gpg = new Gpg(work);
  keyA = gpg.genKey('archive-a');
  keyB = gpg.genKey('archive-b');

  writeSuite('stable', { sign: 'inrelease' });
  writeSuite('signed-b', { sign: 'inrelease', key: keyB });
  writeSuite('detached', { sign: 'detached-armor' });
  writeSuite('detached-bin', { sign: 'detached-binary' });
  writeSuite('unsigned', { sign: 'none' });
  writeSuite('expired', { sign: 'inrelease', validUntil: new Date(Date.now() - 86400_000) });
  writeSuite('byhash', { sign: 'inrelease', byHash: 'files' });
  writeSuite('byhash-missing', { sign: 'inrelease', byHash: 'no-files' });
  // Tampered after signing: one byte of the signed text.
  const tampered = writeSuite('tampered', { sign: 'inrelease' });
  const t = fs.readFileSync(path.join(tampered, 'InRelease'), 'utf8');
  assert.ok(t.includes('Codename: tampered'));
  fs.writeFileSync(path.join(tampered, 'InRelease'), t.replace('Codename: tampered', 'Codename: tamperee'));
  // Unsigned text around a good signature: after it, and a second signed message glued on.
  const trailing = writeSuite('trailing', { sign: 'inrelease' });
  fs.appendFileSync(path.join(trailing, 'InRelease'), `\nSHA256:\n ${'f'.repeat(64)} 1 main/binary-amd64/Packages.gz\n`);
  const glued = writeSuite('glued', { sign: 'inrelease' });
  fs.appendFileSync(path.join(glued, 'InRelease'), fs.readFileSync(path.join(glued, 'InRelease')));
  // A Release signed over indexes that were replaced afterwards.
  const badsum = writeSuite('badsum', { sign: 'inrelease' });
  const extra = `${packagesText.trimEnd()}\n\nPackage: evil\nVersion: 6.6.6\nArchitecture: all\nFilename: pool/main/evil.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\nDescription: injected\n\n`;
  const bin = path.join(badsum, 'main', 'binary-amd64');
  fs.writeFileSync(path.join(bin, 'Packages'), extra);
  fs.writeFileSync(path.join(bin, 'Packages.gz'), zlib.gzipSync(extra));
  runOk('xz', ['-k', '-f', path.join(bin, 'Packages')]);

  server = await FixtureServer.start(www);
});

// A test that fails half-way must not leave its faults to the next one.
beforeEach(() => server?.clearFaults());

after(async () => {
  await server?.close();
  gpg?.close();
  cleanup(work);
});

function versionsByName(idx: AptRepoIndex): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const p of idx.packages) {
    const v = p.stanza.fields['Version']!;
    const l = m.get(p.stanza.fields['Package']!) ?? [];
    l.push(v);
    m.set(p.stanza.fields['Package']!, l);
  }
  for (const l of m.values()) l.sort((a, b) => deb.compare(b, a));
  return m;
}

// ---------------------------------------------------------------------------------------------
// Signatures and index verification

test('InRelease signed by the keyring key: verified, and every stanza with its URL, size and SHA256', async () => {
  const idx = await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  assert.deepEqual(idx.releases[0]!.signers, [fpr(keyA)]);
  assert.equal(idx.releases[0]!.release.suite, 'stable');
  const got = idx.packages.map((p) => `${p.stanza.fields['Package']} ${p.stanza.fields['Version']} ${p.url} ${p.size} ${p.sha256}`).sort();
  const want = stanzas.map((s) => `${s.Package} ${s.Version} ${server.url}/${s.Filename} ${s.Size} ${s.SHA256}`).sort();
  assert.deepEqual(got, want);
  // The digests in the index are the files' digests.
  for (const s of stanzas) assert.equal(hashFile(path.join(www, s.Filename)), s.SHA256);
  // Verified indexes went through the digest cache: the .gz variant, as the Release lists it.
  assert.ok(server.requests('/dists/stable/main/binary-amd64/Packages.gz').length >= 1);
  // An armored keyring and a keyring holding both keys work too; the signer is still key A.
  const both = await loadAptRepo(spec('stable', { keyring: [keyB.publicArmored, keyA.publicArmored] }), { cacheDir: freshCache() });
  assert.deepEqual(both.releases[0]!.signers, [fpr(keyA)]);
});

test('a repository signed by another key is refused (SIGNATURE_INVALID)', async () => {
  await rejectsWith(loadAptRepo(spec('stable', { keyring: [keyB.publicBinary] }), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
  await rejectsWith(loadAptRepo(spec('signed-b'), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
  // ... and accepted with that key.
  const idx = await loadAptRepo(spec('signed-b', { keyring: [keyB.publicBinary] }), { cacheDir: freshCache() });
  assert.deepEqual(idx.releases[0]!.signers, [fpr(keyB)]);
});

test('a tampered InRelease is refused (SIGNATURE_INVALID), and nothing of it is fetched further', async () => {
  const before = server.log.length;
  await rejectsWith(loadAptRepo(spec('tampered'), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
  assert.deepEqual(
    server.log.slice(before).map((l) => l.path),
    ['/dists/tampered/InRelease'],
  );
});

test('InRelease with unsigned text before or after the signed message is refused', async () => {
  const signed = fs.readFileSync(path.join(www, 'dists/stable/InRelease'), 'utf8');
  const evilHash = 'f'.repeat(64);
  const bad = [
    // An unsigned Release before the signed message.
    `Origin: evil\nSHA256:\n ${evilHash} 1 main/binary-amd64/Packages.gz\n\n${signed}`,
    // Unsigned fields after the signature.
    `${signed}\nSHA256:\n ${evilHash} 1 main/binary-amd64/Packages.gz\n`,
    // A second signed message glued on.
    `${signed}${signed.replace(/SHA256:\n( [0-9a-f]{64} +\d+ main\/binary-amd64\/Packages.gz)/, `SHA256:\n ${evilHash} 1 main/binary-amd64/Packages.gz`)}`,
  ];
  // Refused outright, as apt refuses them (see the apt verdicts below for two of them).
  for (const text of bad) {
    server.fault('/dists/stable/InRelease', { kind: 'body', data: Buffer.from(text) });
    await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
  }
});

test('Release + Release.gpg (armored and binary) verify; a modified Release does not', async () => {
  for (const suite of ['detached', 'detached-bin']) {
    const idx = await loadAptRepo(spec(suite), { cacheDir: freshCache() });
    assert.deepEqual(idx.releases[0]!.signers, [fpr(keyA)], suite);
    assert.equal(idx.packages.length, stanzas.length);
    assert.equal(server.requests(`/dists/${suite}/InRelease`).at(-1)!.status, 404);
  }
  const rel = fs.readFileSync(path.join(www, 'dists/detached/Release'), 'utf8');
  server.fault('/dists/detached/Release', { kind: 'body', data: Buffer.from(rel.replace('Label: ingot-tests', 'Label: ingot-testz')) });
  await rejectsWith(loadAptRepo(spec('detached'), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
  await rejectsWith(loadAptRepo(spec('detached', { keyring: [keyB.publicBinary] }), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
});

test('an unsigned Release is refused unless gpgcheck is off; a missing keyring is KEYRING_INVALID', async () => {
  await rejectsWith(loadAptRepo(spec('unsigned'), { cacheDir: freshCache() }), 'SIGNATURE_INVALID', /not signed/);
  const idx = await loadAptRepo(spec('unsigned', { gpgcheck: false, keyring: [] }), { cacheDir: freshCache() });
  assert.equal(idx.packages.length, stanzas.length);
  assert.deepEqual(idx.releases[0]!.signers, []);
  await rejectsWith(loadAptRepo(spec('stable', { keyring: [] }), { cacheDir: freshCache() }), 'KEYRING_INVALID');
  await rejectsWith(loadAptRepo(spec('stable', { keyring: [path.join(work, 'no-such-key.gpg')] }), { cacheDir: freshCache() }), 'KEYRING_INVALID');
});

test('a Packages index whose checksum differs from the Release is refused (DIGEST_MISMATCH) and not cached', async () => {
  const cacheDir = freshCache();
  const e = await rejectsWith(loadAptRepo(spec('badsum'), { cacheDir }), 'DIGEST_MISMATCH');
  assert.match(e.message, /Packages/);
  // Nothing in the cache but (at most) directories: no index file, no .part.
  const files = fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir, { recursive: true }).map(String) : [];
  assert.deepEqual(
    files.filter((f) => fs.statSync(path.join(cacheDir, f)).isFile()),
    [],
  );
  // The same through the server: the right file name, other bytes.
  server.fault('/dists/stable/main/binary-amd64/Packages.gz', { kind: 'body', data: zlib.gzipSync(packagesText.replace('ingot-data', 'ingot-dat4')) }, Infinity);
  await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache() }), 'DIGEST_MISMATCH');
  server.clearFaults();
});

test('Valid-Until: an expired Release is refused (REPO_METADATA_INVALID), as it is at a later date', async () => {
  await rejectsWith(loadAptRepo(spec('expired'), { cacheDir: freshCache() }), 'REPO_METADATA_INVALID', /expired/);
  const idx = await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  const until = idx.releases[0]!.release.validUntil!;
  assert.ok(until.getTime() > Date.now() + 6 * 86400_000);
  await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache(), now: new Date(until.getTime() + 1000) }), 'REPO_METADATA_INVALID', /expired/);
  // Without signature checking there is nothing to trust the date with: accepted.
  await loadAptRepo(spec('expired', { gpgcheck: false }), { cacheDir: freshCache() });
});

test('Acquire-By-Hash: indexes are fetched by digest, with a fallback to the plain name', async () => {
  const n0 = server.log.length;
  const idx = await loadAptRepo(spec('byhash'), { cacheDir: freshCache() });
  assert.equal(idx.packages.length, stanzas.length);
  const paths = server.log.slice(n0).map((l) => l.path);
  assert.ok(paths.some((p) => /^\/dists\/byhash\/main\/binary-amd64\/by-hash\/SHA256\/[0-9a-f]{64}$/.test(p)), paths.join('\n'));
  assert.ok(!paths.includes('/dists/byhash/main/binary-amd64/Packages.gz'));
  const n1 = server.log.length;
  const idx2 = await loadAptRepo(spec('byhash-missing'), { cacheDir: freshCache() });
  assert.equal(idx2.packages.length, stanzas.length);
  const log = server.log.slice(n1).map((l) => `${l.status} ${l.path}`);
  assert.ok(log.some((l) => /^404 \/dists\/byhash-missing\/main\/binary-amd64\/by-hash\//.test(l)), log.join('\n'));
  assert.ok(log.includes('200 /dists/byhash-missing/main/binary-amd64/Packages.gz'), log.join('\n'));
});

test('file:// reads the same repository', async () => {
  const viaHttp = await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  const viaFile = await loadAptRepo(spec('stable', { url: pathToFileURL(www).href }), { cacheDir: freshCache() });
  const key = (i: AptRepoIndex): string[] => i.packages.map((p) => `${p.stanza.fields['Package']} ${p.stanza.fields['Version']} ${p.sha256}`).sort();
  assert.deepEqual(key(viaFile), key(viaHttp));
  assert.ok(viaFile.packages.every((p) => p.url.startsWith('file:///')));
  await rejectsWith(loadAptRepo(spec('tampered', { url: pathToFileURL(www).href }), { cacheDir: freshCache() }), 'SIGNATURE_INVALID');
  await rejectsWith(loadAptRepo(spec('badsum', { url: pathToFileURL(www).href }), { cacheDir: freshCache() }), 'DIGEST_MISMATCH');
  await rejectsWith(loadAptRepo(spec('no-such-suite', { url: pathToFileURL(www).href }), { cacheDir: freshCache() }), 'NOT_FOUND_REMOTE');
});

test('metadata fetches: a 500 is retried, an HTML page with 200 is refused as such', async () => {
  server.fault('/dists/stable/InRelease', { kind: 'status', status: 500 });
  const n0 = server.log.length;
  await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  assert.deepEqual(
    server.log.slice(n0).filter((l) => l.path === '/dists/stable/InRelease').map((l) => l.status),
    [500, 200],
  );
  server.fault('/dists/stable/InRelease', { kind: 'html' }, Infinity);
  await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache() }), 'NETWORK_ERROR', /HTML page/);
  server.clearFaults();
  server.fault('/dists/stable/main/binary-amd64/Packages.gz', { kind: 'html' }, Infinity);
  await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache() }), 'NETWORK_ERROR', /HTML page/);
  server.clearFaults();
});

test('redirects are followed with the Range header; loops and redirects off http(s) are refused', async () => {
  server.fault('/dists/stable/InRelease', { kind: 'redirect', to: `${server.url}/dists/stable/InRelease?via=redirect` });
  server.fault('/dists/stable/main/binary-amd64/Packages.gz', { kind: 'redirect', to: '/dists/stable/main/binary-amd64/Packages.gz?relative=1', status: 301 });
  const n0 = server.log.length;
  const idx = await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  assert.equal(idx.packages.length, stanzas.length);
  assert.deepEqual(
    server.log.slice(n0).map((l) => `${l.status} ${l.path}`),
    ['302 /dists/stable/InRelease', '200 /dists/stable/InRelease', '301 /dists/stable/main/binary-amd64/Packages.gz', '200 /dists/stable/main/binary-amd64/Packages.gz'],
  );
  // A resumed download keeps its Range across the redirect.
  await cacheItems();
  const cache = new PackageCache(freshCache());
  fs.mkdirSync(path.dirname(cache.pathOf(bigItem)), { recursive: true });
  fs.writeFileSync(`${cache.pathOf(bigItem)}.part`, fs.readFileSync(path.join(www, BIG)).subarray(0, 1000));
  server.fault(BIG, { kind: 'redirect', to: `${BIG}?mirror=2`, status: 307 });
  await cache.fetch(bigItem);
  assert.deepEqual(
    server.requests(BIG).slice(-2).map((l) => [l.status, l.range]),
    [
      [307, 'bytes=1000-'],
      [206, 'bytes=1000-'],
    ],
  );
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
  // A loop, and a redirect to a local file, are refused.
  server.fault('/dists/stable/InRelease', { kind: 'redirect', to: '/dists/stable/InRelease' }, Infinity);
  await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache() }), 'NETWORK_ERROR', /redirects/);
  server.clearFaults();
  server.fault('/dists/stable/InRelease', { kind: 'redirect', to: pathToFileURL(path.join(www, 'dists/stable/InRelease')).href }, Infinity);
  await rejectsWith(loadAptRepo(spec('stable'), { cacheDir: freshCache() }), 'NETWORK_ERROR', /refusing the redirect/);
});

// ---------------------------------------------------------------------------------------------
// apt reads the same repository

test('apt accepts and rejects the same suites as ingot', async () => {
  const sandbox = new AptSandbox(path.join(work, 'apt-verdicts'));
  // [suite, key, ingot's verdict, apt refuses]
  const cases: [string, GpgKey, string | null, boolean?][] = [
    ['stable', keyA, null],
    ['detached', keyA, null],
    // The one known difference: apt 2.6 refuses a binary (unarmored) Release.gpg ("unsupported
    // binary format") as a hardening; the signature is valid and ingot accepts it.
    ['detached-bin', keyA, null, true],
    ['byhash', keyA, null],
    ['stable', keyB, 'SIGNATURE_INVALID'],
    ['tampered', keyA, 'SIGNATURE_INVALID'],
    ['unsigned', keyA, 'SIGNATURE_INVALID'],
    ['expired', keyA, 'REPO_METADATA_INVALID'],
    ['badsum', keyA, 'DIGEST_MISMATCH'],
    ['trailing', keyA, 'SIGNATURE_INVALID'],
    ['glued', keyA, 'SIGNATURE_INVALID'],
  ];
  const report: string[] = [];
  for (const [suite, key, code, aptRefuses] of cases) {
    sandbox.clearLists();
    sandbox.setSources([`deb [signed-by=${key.publicBinary}] ${server.url} ${suite} main`]);
    const r = await sandbox.update();
    // apt-get update exits 0 with only a warning for some signature failures; an error line
    // ("E:" or "W: GPG error"/"not signed") or a missing Packages list means it refused.
    const refused = r.status !== 0 || /^(E:|W: GPG error)/m.test(r.stderr) || !fs.readdirSync(sandbox.lists).some((f) => f.includes(`_dists_${suite}_main_binary-amd64_Packages`));
    let ingotCode: string | null = null;
    try {
      await loadAptRepo(spec(suite, { keyring: [key.publicBinary] }), { cacheDir: freshCache() });
    } catch (e) {
      ingotCode = isIngotError(e) ? e.code : String(e);
    }
    report.push(`${suite} (key ${key === keyA ? 'A' : 'B'}): apt ${refused ? 'refused' : 'accepted'}, ingot ${ingotCode ?? 'accepted'}`);
    assert.equal(ingotCode, code, report.at(-1));
    assert.equal(refused, aptRefuses ?? code !== null, `${report.at(-1)}\n${r.stderr}`);
    if (aptRefuses) assert.match(r.stderr, /unsupported binary format/);
  }
  console.log(report.join('\n'));
});

test('apt and ingot agree on every version, the candidate, and what installing ingot-app takes', async () => {
  const sandbox = new AptSandbox(path.join(work, 'apt-agree'));
  sandbox.setSources([`deb [signed-by=${keyA.publicBinary}] ${server.url} stable main`]);
  const up = await sandbox.update();
  assert.equal(up.status, 0, up.stderr);
  const idx = await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  const ours = versionsByName(idx);
  const policy = await sandbox.policy([...ours.keys()]);
  for (const [name, versions] of ours) {
    const p = policy.get(name);
    assert.ok(p, `apt-cache policy knows ${name}`);
    assert.deepEqual(versions, p.versions, `version order of ${name}`);
    assert.equal(versions[0], p.candidate, `candidate of ${name}`);
  }
  assert.deepEqual(ours.get('ingot-vt'), ['1:0.9-1', '1.0-2', '1.0-1']);
  assert.deepEqual(ours.get('ingot-tilde'), ['2.0+b1-1~bpo1', '2.0-1', '2.0~rc1-1']);

  // The same choice for an install.
  const repos = await loadRepos([{ name: 'fixture', type: 'apt', url: server.url, suites: ['stable'], keyring: [keyA.publicBinary] }], {
    arch: 'amd64',
    cacheDir: freshCache(),
  });
  const r = resolve({ install: ['ingot-app'] }, repos.universe, { weakDeps: false });
  assert.ok(r.ok, r.ok ? '' : r.explanation.join('\n'));
  const check = checkSolution(r.packages, { install: ['ingot-app'] }, { family: 'deb', arch: 'amd64', universe: repos.candidates });
  assert.deepEqual(check.problems, []);
  const apt = await sandbox.simulateInstall(['ingot-app']);
  assert.equal(apt.status, 0, apt.output);
  const ingotSet = new Map(r.packages.map((p) => [p.name, p.version]));
  assert.deepEqual([...ingotSet].sort(), [...apt.installs].sort());
  assert.equal(ingotSet.get('ingot-vt'), '1:0.9-1');

  // A request apt cannot satisfy, ingot cannot either (hello needs libc6, absent here).
  const aptHello = await sandbox.simulateInstall(['hello']);
  assert.notEqual(aptHello.status, 0);
  const rh = resolve({ install: ['hello'] }, repos.universe, { weakDeps: false });
  assert.equal(rh.ok, false);
  assert.match(rh.ok ? '' : rh.explanation.join('\n'), /nothing provides '(dpkg|libc6|init-system-helpers)/);
  // The package infos read from the index are what the resolver saw.
  const vt = idx.packages.filter((p) => p.stanza.fields['Package'] === 'ingot-vt').map((p) => formatVersion(aptPackageInfo(p)));
  assert.deepEqual(vt.sort((a, b) => compare('deb', b, a)), ['1:0.9-1', '1.0-2', '1.0-1']);
});

test('ingot resolve (CLI) on the served repository: same set, signature failures exit 3', async () => {
  const base = ['--repo-url', server.url, '--suite', 'stable', '--cachedir', freshCache()];
  const ok = await runAsync(process.execPath, [INGOT, '--json', 'resolve', ...base, '--keyring', keyA.publicBinary, 'ingot-app']);
  assert.equal(ok.status, 0, ok.stderr);
  const data = JSON.parse(ok.stdout) as { packages: { name: string; version: string; size: number }[]; count: number };
  assert.deepEqual(
    data.packages.map((p) => `${p.name} ${p.version}`),
    ['ingot-app 1.0-1', 'ingot-data 0.1', 'ingot-impl 3.0-1', 'ingot-tilde 2.0+b1-1~bpo1', 'ingot-vt 1:0.9-1'],
  );
  for (const p of data.packages) {
    const s = stanzas.find((x) => x.Package === p.name && x.Version === p.version)!;
    assert.equal(p.size, Number(s.Size));
  }
  const bad = await runAsync(process.execPath, [INGOT, 'resolve', ...base, '--keyring', keyB.publicBinary, 'ingot-app']);
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stderr, /SIGNATURE_INVALID/);
  const unsigned = await runAsync(process.execPath, [INGOT, 'resolve', '--repo-url', server.url, '--suite', 'unsigned', '--cachedir', freshCache(), '--no-gpgcheck', 'ingot-app']);
  assert.equal(unsigned.status, 0, unsigned.stderr);
  assert.match(unsigned.stdout, /^5 packages/m);
});

// ---------------------------------------------------------------------------------------------
// The package cache

let items: CacheItem[] = [];
let bigItem: CacheItem;

async function cacheItems(): Promise<CacheItem[]> {
  if (items.length) return items;
  const idx = await loadAptRepo(spec('stable'), { cacheDir: freshCache() });
  items = idx.packages.map((p) => ({ name: `${p.stanza.fields['Package']}_${p.stanza.fields['Version']}`, url: p.url, size: p.size, algo: 'sha256' as const, digest: p.sha256 }));
  bigItem = items.find((i) => i.url.endsWith(BIG))!;
  assert.ok(bigItem && bigItem.size > 5_000_000);
  return items;
}

function assertNothingAt(cache: PackageCache, item: CacheItem, part: 'absent' | 'present' | 'any' = 'any'): void {
  const dest = cache.pathOf(item);
  assert.equal(fs.existsSync(dest), false, `no file at the final path ${dest}`);
  if (part !== 'any') assert.equal(fs.existsSync(`${dest}.part`), part === 'present', `.part ${part}`);
}

test('cache: fetchAll downloads in parallel, verifies, and the next run finds everything cached', async () => {
  const all = await cacheItems();
  const cache = new PackageCache(freshCache());
  server.fault(/^\/pool\//, { kind: 'slow', chunk: 256 * 1024, delayMs: 15 }, Infinity);
  server.resetPeak();
  const n0 = server.log.length;
  // While the big file streams, nothing is at its final path.
  let watched = 0;
  const watcher = setInterval(() => {
    const l = server.log.slice(n0).find((x) => x.path === BIG);
    if (l && !l.complete && l.sent > 0) {
      assert.equal(fs.existsSync(cache.pathOf(bigItem)), false);
      watched++;
    }
  }, 5);
  const sum = await cache.fetchAll(all, { concurrency: 4 }).finally(() => clearInterval(watcher));
  server.clearFaults();
  assert.ok(watched > 0, 'the final path was watched during the download');
  assert.equal(sum.fetched, all.length);
  assert.equal(sum.cached, 0);
  assert.equal(sum.bytes, all.reduce((a, i) => a + i.size, 0));
  assert.ok(server.peakActive >= 2 && server.peakActive <= 4, `peak concurrent downloads ${server.peakActive}`);
  for (const i of all) {
    assert.equal(hashFile(cache.pathOf(i)), i.digest);
    assert.equal(fs.existsSync(`${cache.pathOf(i)}.part`), false);
  }
  const n1 = server.log.length;
  const again = await cache.fetchAll(all);
  assert.deepEqual({ fetched: again.fetched, cached: again.cached }, { fetched: 0, cached: all.length });
  assert.equal(server.log.length, n1, 'no request for cached files');
});

test('cache: the same file twice in one fetchAll is downloaded once', async () => {
  await cacheItems();
  const cache = new PackageCache(freshCache());
  server.fault(BIG, { kind: 'slow', chunk: 512 * 1024, delayMs: 10 }, Infinity);
  const n0 = server.log.length;
  const sum = await cache.fetchAll([bigItem, { ...bigItem, name: 'the same again' }], { concurrency: 2 });
  server.clearFaults();
  assert.equal(sum.fetched, 1);
  assert.equal(server.log.slice(n0).filter((l) => l.path === BIG).length, 1);
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
  // Two concurrent fetch() calls share one download as well.
  const cache2 = new PackageCache(freshCache());
  const [a, b] = await Promise.all([cache2.fetch(bigItem), cache2.fetch(bigItem)]);
  assert.equal(a, b);
  assert.equal(hashFile(a), bigItem.digest);
});

test('cache: a 500 is retried once, then the file verifies', async () => {
  await cacheItems();
  const cache = new PackageCache(freshCache());
  server.fault(BIG, { kind: 'status', status: 500 });
  const n0 = server.log.length;
  await cache.fetchAll([bigItem]);
  assert.deepEqual(
    server.log.slice(n0).filter((l) => l.path === BIG).map((l) => l.status),
    [500, 200],
  );
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
  // A 500 that persists fails with NETWORK_ERROR and leaves nothing at the final path.
  const cache2 = new PackageCache(freshCache(), { retries: 2 });
  server.fault(BIG, { kind: 'status', status: 500 }, Infinity);
  await rejectsWith(cache2.fetchAll([bigItem]), 'NETWORK_ERROR', /500/);
  server.clearFaults();
  assertNothingAt(cache2, bigItem);
});

test('cache: a download killed mid-way resumes from its .part with a Range request', async () => {
  await cacheItems();
  const dir = freshCache();
  const cache = new PackageCache(dir);
  const part = `${cache.pathOf(bigItem)}.part`;
  const at = 2_000_000;
  server.fault(BIG, { kind: 'stall', at });
  const child = path.join(work, 'fetch-child.mjs');
  fs.writeFileSync(
    child,
    `import { PackageCache } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/sources/cache.js')).href)};\n` +
      `await new PackageCache(process.argv[2]).fetchAll([JSON.parse(process.argv[3])]);\n`,
  );
  const proc = spawn(process.execPath, [child, dir, JSON.stringify(bigItem)], { stdio: 'ignore' });
  try {
    await server.waitFor((log) => log.some((l) => l.path === BIG && l.fault === 'stall' && l.sent === at));
    const t0 = Date.now();
    while (!(fs.existsSync(part) && fs.statSync(part).size === at)) {
      assert.ok(Date.now() - t0 < 20000, 'the child wrote what it received');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    proc.kill('SIGKILL');
  }
  await once(proc, 'exit');
  assertNothingAt(cache, bigItem, 'present');
  assert.equal(fs.statSync(part).size, at);

  const n0 = server.log.length;
  const sum = await new PackageCache(dir).fetchAll([bigItem]);
  assert.equal(sum.fetched, 1);
  const reqs = server.log.slice(n0).filter((l) => l.path === BIG);
  assert.deepEqual(
    reqs.map((l) => [l.range, l.status, l.sent]),
    [[`bytes=${at}-`, 206, bigItem.size - at]],
  );
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
  assert.equal(fs.existsSync(part), false);
});

test('cache: connections reset mid-body leave a .part that the next run resumes', async () => {
  await cacheItems();
  const dir = freshCache();
  const cache = new PackageCache(dir, { retries: 2 });
  server.fault(BIG, { kind: 'reset', at: 1_000_000 }, Infinity);
  await rejectsWith(cache.fetchAll([bigItem]), 'NETWORK_ERROR');
  server.clearFaults();
  assertNothingAt(cache, bigItem, 'present');
  const have = fs.statSync(`${cache.pathOf(bigItem)}.part`).size;
  assert.ok(have > 0 && have < bigItem.size, `partial ${have}`);
  const attempts = server.requests(BIG).slice(-2);
  assert.equal(attempts[0]!.range, undefined);
  assert.match(attempts[1]!.range ?? '', /^bytes=\d+-$/, 'the retry resumed');

  const n0 = server.log.length;
  await new PackageCache(dir).fetchAll([bigItem]);
  const reqs = server.log.slice(n0).filter((l) => l.path === BIG);
  assert.deepEqual(
    reqs.map((l) => [l.range, l.status]),
    [[`bytes=${have}-`, 206]],
  );
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
});

test('cache: refuses HTML pages, truncated, longer and altered files with clear codes, leaving nothing at the final path', async () => {
  await cacheItems();
  const big = fs.readFileSync(path.join(www, BIG));
  const cases: { what: string; fault: Parameters<FixtureServer['fault']>[1]; code: ErrorCode; message: RegExp; part: 'absent' | 'present' }[] = [
    { what: 'HTML error page with 200', fault: { kind: 'html' }, code: 'NETWORK_ERROR', message: /HTML page/, part: 'absent' },
    { what: 'truncated file (consistent Content-Length)', fault: { kind: 'short', at: 4096 }, code: 'DIGEST_MISMATCH', message: /4096 bytes/, part: 'absent' },
    { what: 'longer file', fault: { kind: 'body', data: Buffer.concat([big, Buffer.from('trailing junk')]) }, code: 'DIGEST_MISMATCH', message: /more than the expected/, part: 'absent' },
    { what: 'same size, one byte changed', fault: { kind: 'body', data: Buffer.from(big.map((b, i) => (i === 1000 ? b ^ 1 : b))) }, code: 'DIGEST_MISMATCH', message: /expected \d+ bytes with [0-9a-f]{64}/, part: 'absent' },
    { what: 'connection closed early every time', fault: { kind: 'truncate', at: 100_000 }, code: 'NETWORK_ERROR', message: /ECONNRESET|connection closed/, part: 'present' },
  ];
  for (const c of cases) {
    const cache = new PackageCache(freshCache(), { retries: 2 });
    server.fault(BIG, c.fault, Infinity);
    const e = await rejectsWith(cache.fetch(bigItem), c.code, c.message);
    server.clearFaults();
    assert.ok(e.hint, `${c.what}: a hint`);
    assertNothingAt(cache, bigItem, c.part);
    // And the next run, against a healthy server, gets the right file.
    await cache.fetch(bigItem);
    assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest, c.what);
  }
});

test('cache: a wrong Content-Length, a server that ignores Range, and slow responses still give the right file', async () => {
  await cacheItems();
  for (const delta of [100, -100]) {
    const cache = new PackageCache(freshCache());
    server.fault(BIG, { kind: 'length', delta });
    const n0 = server.log.length;
    await cache.fetch(bigItem);
    assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest, `Content-Length off by ${delta}`);
    const reqs = server.log.slice(n0).filter((l) => l.path === BIG);
    assert.equal(reqs.length, 2, `one retry for Content-Length off by ${delta}`);
    assert.match(reqs[1]!.range ?? '', /^bytes=\d+-$/);
  }
  // A .part from an earlier run, and a server that answers 200 with the whole file.
  const cache = new PackageCache(freshCache());
  fs.mkdirSync(path.dirname(cache.pathOf(bigItem)), { recursive: true });
  fs.writeFileSync(`${cache.pathOf(bigItem)}.part`, fs.readFileSync(path.join(www, BIG)).subarray(0, 12345));
  server.fault(BIG, { kind: 'no-range' });
  await cache.fetch(bigItem);
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
  assert.equal(server.requests(BIG).at(-1)!.range, 'bytes=12345-');
  // Slow but steady: no timeout (it is an idle timeout), one request.
  const slow = new PackageCache(freshCache(), { timeoutMs: 1000 });
  server.fault(BIG, { kind: 'slow', chunk: 1 << 20, delayMs: 300 });
  const n0 = server.log.length;
  await slow.fetch(bigItem);
  assert.equal(server.log.slice(n0).filter((l) => l.path === BIG).length, 1);
  assert.equal(hashFile(slow.pathOf(bigItem)), bigItem.digest);
});

test('cache: a stalled response times out and the retry resumes', async () => {
  await cacheItems();
  const cache = new PackageCache(freshCache(), { timeoutMs: 500 });
  server.fault(BIG, { kind: 'stall', at: 300_000 });
  const n0 = server.log.length;
  const t0 = Date.now();
  await cache.fetch(bigItem);
  const took = Date.now() - t0;
  const reqs = server.log.slice(n0).filter((l) => l.path === BIG);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[0]!.fault, 'stall');
  assert.match(reqs[1]!.range ?? '', /^bytes=\d+-$/);
  assert.ok(took >= 450, `waited for the timeout (${took} ms)`);
  assert.equal(hashFile(cache.pathOf(bigItem)), bigItem.digest);
  // Stalled every time: NETWORK_ERROR naming the URL.
  const cache2 = new PackageCache(freshCache(), { timeoutMs: 300, retries: 2 });
  server.fault(BIG, { kind: 'stall', at: 1000 }, Infinity);
  await rejectsWith(cache2.fetch(bigItem), 'NETWORK_ERROR', /bigdata/);
  server.clearFaults();
  assertNothingAt(cache2, bigItem, 'present');
});
