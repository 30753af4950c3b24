/**
 * The package tree cache of `ingot compose tree` (src/compose/pkgcache.ts), against a small
 * unsigned apt repository of packages made here with dpkg-deb:
 *
 * - a compose with a cold cache (every package unpacked into it), one with the warm cache
 *   (checksums of linked files taken from the cache without reading them), one hashing every
 *   file, and one building the root from copies (no overlay for the scripts) give the same
 *   ContentChecksum;
 * - a preinst that writes into, chmods and removes files another package shipped (hard links
 *   into the cache in the build root) changes the commit, never the cache: `ostree fsck` (the
 *   real one) of the cache repository is clean, and the cached file still has its old bytes;
 * - the preinst ran before its own package was unpacked, with the essential set (the busybox
 *   shell) already there;
 * - a package added to the set is the only one unpacked into the cache.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cleanup, ingotOk, ostree, ostreeOk, runOk, tmpdir } from '../helpers.js';
import { composeTree, type ComposeTreeResult } from '../../src/compose/tree.js';

const REF = 'test/x86_64/cache';
const SDE = '1700000000';

let work = '';
let cache = '';
let manifest = '';

interface DebSpec {
  control: Record<string, string>;
  files?: Record<string, string | { link: string } | { copy: string }>;
  scripts?: Record<string, string>;
}

function makeDeb(pool: string, spec: DebSpec): void {
  const c: Record<string, string> = { Version: '1.0', Architecture: 'all', Maintainer: 'Ingot Tests <tests@example.invalid>', Description: 'compose cache fixture', ...spec.control };
  const stage = fs.mkdtempSync(path.join(work, '.stage-'));
  fs.mkdirSync(path.join(stage, 'DEBIAN'));
  const order = ['Package', 'Version', 'Architecture', 'Maintainer'];
  const keys = [...order, ...Object.keys(c).filter((k) => !order.includes(k))];
  fs.writeFileSync(path.join(stage, 'DEBIAN/control'), keys.map((k) => `${k}: ${c[k]}`).join('\n') + '\n');
  for (const [p, v] of Object.entries(spec.files ?? {})) {
    const abs = path.join(stage, p);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(abs, v, { mode: 0o644 });
    else if ('link' in v) fs.symlinkSync(v.link, abs);
    else fs.copyFileSync(v.copy, abs);
  }
  for (const [name, body] of Object.entries(spec.scripts ?? {})) fs.writeFileSync(path.join(stage, 'DEBIAN', name), body, { mode: 0o755 });
  runOk('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', stage, path.join(pool, `${c['Package']}_${c['Version']}_${c['Architecture']}.deb`)], { env: { SOURCE_DATE_EPOCH: SDE } });
  fs.rmSync(stage, { recursive: true, force: true });
}

function index(www: string): void {
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
}

async function compose(m: string, repoName: string, extra: { hashAll?: boolean; noOverlay?: boolean } = {}): Promise<ComposeTreeResult> {
  const repo = path.join(work, repoName);
  if (!fs.existsSync(repo)) ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const saved = process.env['SOURCE_DATE_EPOCH'];
  process.env['SOURCE_DATE_EPOCH'] = SDE;
  try {
    return await composeTree(m, { repo, cacheDir: cache, ...extra });
  } finally {
    if (saved === undefined) delete process.env['SOURCE_DATE_EPOCH'];
    else process.env['SOURCE_DATE_EPOCH'] = saved;
  }
}

before(() => {
  work = tmpdir('ingot-compose-cache-');
  cache = path.join(work, 'cache');
  const www = path.join(work, 'www');
  const pool = path.join(www, 'pool', 'main');
  fs.mkdirSync(pool, { recursive: true });
  assert.ok(fs.existsSync('/bin/busybox'), 'the test packages the static busybox: apt-get install busybox-static');
  makeDeb(pool, {
    control: { Package: 'busybox-sh', Architecture: 'amd64', Essential: 'yes' },
    files: Object.fromEntries([
      ['usr/bin/busybox', { copy: '/bin/busybox' }],
      ...['sh', 'chmod', 'rm', 'cat'].map((n) => [`usr/bin/${n}`, { link: 'busybox' }]),
    ]) as DebSpec['files'],
  });
  makeDeb(pool, {
    control: { Package: 'base' },
    files: { 'usr/share/base/list': 'one\n', 'usr/share/base/gone': 'to be removed\n', 'etc/base.conf': 'x=1\n', 'usr/share/base/same': 'untouched\n' },
  });
  makeDeb(pool, {
    control: { Package: 'changer', 'Pre-Depends': 'busybox-sh, base' },
    files: { 'usr/share/changer/README': 'changer\n' },
    scripts: {
      preinst:
        '#!/bin/sh\nset -e\n' +
        'if [ -e /usr/share/changer/README ]; then w=after; else w=before; fi\n' +
        'echo "preinst $1, $w the unpack" > /usr/share/base/changer-preinst\n' +
        'echo two >> /usr/share/base/list\n' +
        'chmod 600 /etc/base.conf\n' +
        'rm /usr/share/base/gone\n',
    },
  });
  makeDeb(pool, { control: { Package: 'extra' }, files: { 'usr/share/extra/data': 'extra\n' } });
  index(www);
  fs.mkdirSync(path.join(work, 'os'));
  const repos = 'repos:\n  - name: local\n    type: apt\n    url: ../www\n    suites: [stable]\n    gpgcheck: false\narch: amd64\n';
  manifest = path.join(work, 'os', 'os.yaml');
  fs.writeFileSync(manifest, `${repos}ref: ${REF}\npackages: [changer]\n`);
  fs.writeFileSync(path.join(work, 'os', 'extra.yaml'), `${repos}ref: ${REF}\npackages: [changer, extra]\n`);
});

after(() => cleanup(work));

let cold: ComposeTreeResult;

test('a cold cache: every package is unpacked into it; scripts changed the commit, not the cache', async () => {
  cold = await compose(manifest, 'repo-cold');
  assert.equal(cold.unchanged, false);
  assert.deepEqual(cold.packageCache, { imported: 3, cached: 0 });
  const co = path.join(work, 'co-cold');
  runOk('ostree', [`--repo=${path.join(work, 'repo-cold')}`, 'checkout', REF, co]);
  assert.equal(fs.readFileSync(path.join(co, 'usr/share/base/list'), 'utf8'), 'one\ntwo\n');
  assert.equal(fs.statSync(path.join(co, 'usr/etc/base.conf')).mode & 0o7777, 0o600);
  assert.ok(!fs.existsSync(path.join(co, 'usr/share/base/gone')));
  assert.equal(fs.readFileSync(path.join(co, 'usr/share/base/same'), 'utf8'), 'untouched\n');
  // dpkg order: the preinst ran before its package was unpacked, with the essential shell there.
  assert.equal(fs.readFileSync(path.join(co, 'usr/share/base/changer-preinst'), 'utf8'), 'preinst install, before the unpack\n');
  assert.equal(fs.readFileSync(path.join(co, 'usr/share/changer/README'), 'utf8'), 'changer\n');
  const fsck = ostree(path.join(work, 'repo-cold'), ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr);

  // The cache: intact (every object's checksum verified by the real ostree), the old bytes and mode.
  const pc = path.join(cache, 'pkgcache-repo');
  const pfsck = ostree(pc, ['fsck']);
  assert.equal(pfsck.status, 0, pfsck.stderr);
  const all = ostreeOk(pc, ['refs']).trim().split('\n');
  // One tree per package; no configured root kept for an incremental next compose, since
  // this tree has no dpkg to upgrade it with.
  const refs = all.filter((r) => r.startsWith('deb/'));
  assert.equal(refs.length, 3);
  assert.deepEqual(all.filter((r) => !r.startsWith('deb/')), []);
  const baseCo = path.join(work, 'co-base');
  let found = false;
  for (const r of refs) {
    const files = ostreeOk(pc, ['ls', '-R', r]);
    if (!files.includes('/usr/share/base/list')) continue;
    found = true;
    runOk('ostree', [`--repo=${pc}`, 'checkout', r, baseCo]);
    assert.equal(fs.readFileSync(path.join(baseCo, 'usr/share/base/list'), 'utf8'), 'one\n');
    assert.equal(fs.statSync(path.join(baseCo, 'etc/base.conf')).mode & 0o7777, 0o644);
    assert.ok(fs.existsSync(path.join(baseCo, 'usr/share/base/gone')));
  }
  assert.ok(found, 'the cache holds the base package');
});

test('the same ContentChecksum from a warm cache, from hashing every file, and from a root of copies', async () => {
  const warm = await compose(manifest, 'repo-warm');
  assert.deepEqual(warm.packageCache, { imported: 0, cached: 3 });
  assert.equal(warm.contentChecksum, cold.contentChecksum);
  const hashed = await compose(manifest, 'repo-hashed', { hashAll: true });
  assert.equal(hashed.contentChecksum, cold.contentChecksum);
  const copies = await compose(manifest, 'repo-copies', { noOverlay: true });
  assert.equal(copies.contentChecksum, cold.contentChecksum);
  // The whole commits too (same metadata, timestamp and parentless history).
  assert.equal(warm.commit, cold.commit);
  assert.equal(hashed.commit, cold.commit);
  assert.equal(copies.commit, cold.commit);
  const pfsck = ostree(path.join(cache, 'pkgcache-repo'), ['fsck']);
  assert.equal(pfsck.status, 0, pfsck.stderr);
});

test('one package more: only that package is unpacked into the cache', async () => {
  const r = await compose(path.join(work, 'os', 'extra.yaml'), 'repo-cold');
  assert.equal(r.unchanged, false);
  assert.deepEqual(r.packageCache, { imported: 1, cached: 3 });
  const diff = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', path.join(work, 'repo-cold'), `${REF}^`, REF])) as { added: { name: string }[]; removed: unknown[] };
  assert.deepEqual(diff.added.map((p) => p.name), ['extra']);
  assert.deepEqual(diff.removed, []);
});
