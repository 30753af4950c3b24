/**
 * Layer reuse across builds and the bootable round trip, on Debian minbase commits composed
 * from the real bookworm archive (suites bookworm and bookworm-updates, whose tzdata and
 * openssl are older than bookworm's; packages cached under $INGOT_TEST_TMP/debian-compose-cache):
 * - v1 (old tzdata, old openssl), v2 (tzdata upgraded), v3 (openssl upgraded too): each built
 *   with `--previous` the one before has exactly one layer digest that the previous image does
 *   not have (the upgraded group's, on top, also carrying the package database and whatever
 *   else the layers below get wrong), and a different config; every other layer is the
 *   previous image's, byte for byte;
 * - `umoci unpack` of v2 and v3 gives exactly the new commit's container view: /usr as
 *   `ostree checkout` gives it and /etc as its /usr/etc, file for file, and for v3 (whose lower
 *   layers hold v2's now stale `status`) everything else too, as GNU tar extracts a first build
 *   of the commit; the image's own `dpkg -l` (run in the unpacked root) lists the new versions;
 * - built straight into Debian's docker-registry on loopback, each push after the first
 *   uploads that one layer and the config (the registry's request log is the oracle), and
 *   `skopeo inspect --raw` of the pushed image hashes to the digest ingot reported;
 * - a `--bootable` image imported back into a fresh repository has the commit's checksum and
 *   ContentChecksum, and the real `ostree fsck` finds the repository clean.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, describeTree, ingot, ingotOk, ostree, ostreeOk, runOk, tmpdir, treeDiff, type TreeEntry } from '../helpers.js';
import { startRegistry, uploads } from './registry-harness.js';

const REPOS = `repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [bookworm, bookworm-updates]
    components: [main]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
arch: amd64
include-essential: true
include-priority: [required]
`;
// bookworm-updates still carries these older builds; bookworm's are newer.
const OLD_TZDATA = 'tzdata=2025b-0+deb12u1';
const OLD_OPENSSL = "'openssl=3.0.17-1~deb12u2', 'libssl3=3.0.17-1~deb12u2'";

let work = '';
let repo = '';
let cache = '';
let layers = '';

interface Layer {
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

interface Manifest {
  config: { digest: string };
  layers: Layer[];
}

function manifestOf(layout: string, tag: string): Manifest {
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  const d = idx.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag)!.digest;
  return JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', d.slice(7)), 'utf8')) as Manifest;
}

function compose(ref: string, pkgs: string): string {
  const m = path.join(work, `${ref.replace(/\//g, '_')}.yaml`);
  fs.writeFileSync(m, `ref: ${ref}\n${REPOS}packages: [${pkgs}]\n`);
  const r = ingot(['--json', 'compose', 'tree', m, '--repo', repo, '--cachedir', cache], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { commit: string }).commit;
}

/** The layers of `next` that `prev` does not have. */
function newLayers(prev: Manifest, next: Manifest): Layer[] {
  const old = new Set(prev.layers.map((l) => l.digest));
  return next.layers.filter((l) => !old.has(l.digest));
}

before(() => {
  cache = path.join(process.env['INGOT_TEST_TMP'] ?? os.tmpdir(), 'debian-compose-cache');
  fs.mkdirSync(cache, { recursive: true });
  work = tmpdir('ingot-image-reuse-');
  repo = path.join(work, 'repo');
  layers = path.join(work, 'layers');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  compose('img/v1', `apt, ${OLD_TZDATA}, ${OLD_OPENSSL}`);
  compose('img/v2', `apt, ${OLD_OPENSSL}`);
  compose('img/v3', 'apt, openssl');
});

after(() => cleanup(work));

const IGNORE = { ignoreXattrs: ['user.rootlesscontainers'] };

/**
 * `rootfs` is the commit's container view: /usr and /etc as `ostree checkout` gives /usr and
 * /usr/etc; with `first` (a first build of the commit), also everything else (/var from
 * tmpfiles.d, the top-level links) as GNU tar extracts that build's layers (no whiteouts, no
 * path twice but directories).
 */
function assertContainerView(rootfs: string, ref: string, first: { manifest: Manifest; layout: string } | null): void {
  const co = path.join(work, 'co');
  fs.rmSync(co, { recursive: true, force: true });
  ostreeOk(repo, ['checkout', ref, co]);
  const got = describeTree(rootfs, IGNORE);
  const sub = (prefix: string): Map<string, TreeEntry> => new Map([...got].filter(([k]) => k === prefix || k.startsWith(`${prefix}/`)).map(([k, v]) => [k.slice(prefix.length) || '/', v]));
  const usr = describeTree(path.join(co, 'usr'), IGNORE);
  for (const k of [...usr.keys()]) if (k === '/etc' || k.startsWith('/etc/')) usr.delete(k);
  assert.deepEqual(treeDiff(usr, sub('/usr')), [], `${ref}: /usr`);
  assert.deepEqual(treeDiff(describeTree(path.join(co, 'usr/etc'), IGNORE), sub('/etc')), [], `${ref}: /etc`);
  fs.rmSync(co, { recursive: true, force: true });
  if (!first) return;
  const plain = path.join(work, 'plain');
  fs.rmSync(plain, { recursive: true, force: true });
  fs.mkdirSync(plain);
  for (const l of first.manifest.layers) runOk('tar', ['-xzf', path.join(first.layout, 'blobs/sha256', l.digest.slice(7)), '-C', plain, '--same-owner', '-p']);
  const rest = (m: Map<string, TreeEntry>): Map<string, TreeEntry> => new Map([...m].filter(([k]) => k !== '/' && !/^\/(usr|etc)(\/|$)/.test(k)));
  assert.deepEqual(treeDiff(rest(describeTree(plain, IGNORE)), rest(got)), [], `${ref}: outside /usr and /etc`);
  fs.rmSync(plain, { recursive: true, force: true });
}

/** `dpkg -l` of the image's own dpkg, run inside the unpacked root: package → "status version". */
function dpkgList(rootfs: string, pkgs: string[]): Record<string, string> {
  const out = runOk('chroot', [rootfs, 'dpkg', '-l', ...pkgs], { env: { COLUMNS: '200' } });
  const rows = out.split('\n').filter((l) => /^[a-z][a-z] /.test(l)).map((l) => l.split(/\s+/));
  return Object.fromEntries(rows.map(([st, p, v]) => [p!.replace(/:amd64$/, ''), `${st} ${v}`]));
}

test('upgrades rebuilt with --previous: one new layer and the config each time; the image is exactly the new tree', () => {
  const img = (n: number): string => path.join(work, `img${n}`);
  ingotOk(['image', 'build', '--repo', repo, 'img/v1', '--output', `oci:${img(1)}:v1`, '--cache-dir', layers]);
  const builds: { origin: string }[][] = [];
  for (const n of [2, 3]) {
    const r = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, `img/v${n}`, '--output', `oci:${img(n)}:v${n}`, '--previous', `oci:${img(n - 1)}:v${n - 1}`, '--cache-dir', layers])) as { layers: { origin: string }[] };
    builds.push(r.layers);
  }
  const m = [null, manifestOf(img(1), 'v1'), manifestOf(img(2), 'v2'), manifestOf(img(3), 'v3')] as const;
  for (const [n, group] of [[2, 'tzdata'], [3, 'openssl']] as const) {
    const prev = m[n - 1]!;
    const next = m[n]!;
    const fresh = newLayers(prev, next);
    assert.equal(fresh.length, 1, `v${n}: new layers ${fresh.map((l) => JSON.stringify(l.annotations)).join(' ')}`);
    const top = fresh[0]!;
    assert.equal(next.layers[next.layers.length - 1]!.digest, top.digest, `v${n}: the new layer is on top`);
    assert.equal(top.annotations['ingot.layer'], 'packages');
    assert.equal(top.annotations['ingot.components'], group);
    // The group's own dpkg files travel with it; the shared database is shadowed from the top.
    const names = runOk('tar', ['-tzf', path.join(img(n), 'blobs/sha256', top.digest.slice(7))]).split('\n');
    for (const f of [`info/${group}.list`, `info/${group}.md5sums`, 'status']) assert.ok(names.includes(`usr/lib/sysimage/dpkg/${f}`), `v${n}: ${f} in the top layer`);
    assert.notEqual(next.config.digest, prev.config.digest);
    // Every other layer is one of the previous image's, in the previous order.
    const kept = next.layers.slice(0, -1).map((l) => l.digest);
    const prevOrder = prev.layers.map((l) => l.digest).filter((d) => kept.includes(d));
    assert.deepEqual(kept, prevOrder, `v${n}: kept layers keep their order`);
    assert.equal(builds[n - 2]!.filter((l) => l.origin === 'built').length, 1, `v${n}: one layer was built`);
  }
  // The tzdata layer of v2 holds a copy of the package database that v3 makes stale.
  assert.ok(m[3]!.layers.some((l) => l.annotations['ingot.components'] === 'tzdata' && l.annotations['ingot.shadows']), 'v3 keeps v2 top layer below its own');

  // What a runtime unpacks: exactly the new commit's container view (/usr and /etc after each
  // update, the whole tree after the second, whose lower layers hold a stale dpkg status).
  for (const n of [2, 3]) {
    let first: { manifest: Manifest; layout: string } | null = null;
    if (n === 3) {
      const layout = path.join(work, `f${n}`);
      ingotOk(['image', 'build', '--repo', repo, `img/v${n}`, '--output', `oci:${layout}:v${n}`, '--cache-dir', layers]);
      first = { manifest: manifestOf(layout, `v${n}`), layout };
    }
    const bundle = path.join(work, 'bundle');
    runOk('umoci', ['unpack', '--image', `${img(n)}:v${n}`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    assertContainerView(rootfs, `img/v${n}`, first);
    const ssl = n === 3 ? '3.0.20-1~deb12u2' : '3.0.17-1~deb12u2';
    assert.deepEqual(dpkgList(rootfs, ['tzdata', 'openssl', 'libssl3']), { tzdata: 'ii 2026b-0+deb12u1', openssl: `ii ${ssl}`, libssl3: `ii ${ssl}` }, `v${n}: dpkg -l in the image`);
    fs.rmSync(bundle, { recursive: true, force: true });
  }
});

test('pushed to a registry: each push after the first uploads only the new layer and the config', async () => {
  const reg = await startRegistry(path.join(work, 'registry'));
  try {
    const name = `docker://${reg.host}/test/minbase`;
    const p1 = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'img/v1', '--output', `${name}:1`, '--previous', `oci:${path.join(work, 'img1')}:v1`, '--cache-dir', layers])) as { manifestDigest: string };
    assert.equal(p1.manifestDigest, manifestDigestOf(path.join(work, 'img1'), 'v1'), 'the same image as the layout build');
    let prev = p1.manifestDigest;
    for (const n of [2, 3]) {
      const before = reg.requests().length;
      // The previous image is read from the registry itself.
      const p = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, `img/v${n}`, '--output', `${name}:${n}`, '--previous', `${name}:${n - 1}`, '--cache-dir', layers])) as { manifestDigest: string; configDigest: string; layers: { digest: string }[] };
      assert.equal(p.manifestDigest, manifestDigestOf(path.join(work, `img${n}`), `v${n}`), `v${n}: the same image as the layout build`);
      assert.notEqual(p.manifestDigest, prev);
      prev = p.manifestDigest;
      const sent = uploads(reg.requests().slice(before)).map((l) => decodeURIComponent(/[?&]digest=([^&]+)/.exec(l.uri)?.[1] ?? l.uri));
      const top = p.layers[p.layers.length - 1]!.digest;
      assert.deepEqual([...sent].sort(), [top, p.configDigest].sort(), `v${n}: uploads of the push: ${sent.join(' ')}`);
      fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
      const raw = runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `${name}:${n}`]);
      assert.equal('sha256:' + createHash('sha256').update(raw).digest('hex'), p.manifestDigest);
    }
  } finally {
    await reg.stop();
  }
});

function manifestDigestOf(layout: string, tag: string): string {
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  return idx.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag)!.digest;
}

test('a bootable image imports back with the same ContentChecksum; ostree fsck is clean', () => {
  const img = path.join(work, 'boot.tar');
  ingotOk(['image', 'build', '--repo', repo, 'img/v1', '--output', `oci-archive:${img}:boot`, '--bootable', '--cache-dir', layers]);
  const repo2 = path.join(work, 'repo2');
  ingotOk(['repo', 'init', '--repo', repo2, '--mode', 'archive']);
  ingotOk(['image', 'import', `oci-archive:${img}:boot`, '--repo', repo2, '--branch', 'imported']);
  const cc = (r: string, rev: string): string => /^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(ostreeOk(r, ['show', rev]))![1]!;
  assert.equal(cc(repo2, 'imported'), cc(repo, 'img/v1'));
  assert.equal(ostreeOk(repo2, ['rev-parse', 'imported']).trim(), ostreeOk(repo, ['rev-parse', 'img/v1']).trim());
  const fsck = ostree(repo2, ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr + fsck.stdout);
  assert.match(fsck.stdout, /no errors found/);
});
