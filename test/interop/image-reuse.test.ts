/**
 * Layer reuse across builds and the bootable round trip, on Debian minbase commits composed
 * from the real bookworm archive (packages cached under $INGOT_TEST_TMP/debian-compose-cache):
 * - one package more (`less`), rebuilt with `--previous`: every package layer but the one
 *   holding `less` is byte-identical (same digests), and besides it only the shared package
 *   database files (dpkg's `status`) and the config differ; skopeo reads the new image;
 * - built straight into Debian's docker-registry on loopback, the second build's push uploads
 *   only the changed layers and the config (the registry's request log is the oracle), and
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
import { cleanup, ingot, ingotOk, ostree, ostreeOk, runOk, tmpdir, DEBIAN_BOOKWORM_REPOS } from '../helpers.js';
import { startRegistry, uploads } from './registry-harness.js';

const REPOS = `${DEBIAN_BOOKWORM_REPOS}include-essential: true
include-priority: [required]
`;

let work = '';
let repo = '';
let cache = '';

interface Layer {
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

function manifestOf(layout: string, tag: string): { config: { digest: string }; layers: Layer[] } {
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  const d = idx.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag)!.digest;
  return JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', d.slice(7)), 'utf8')) as { config: { digest: string }; layers: Layer[] };
}

function compose(ref: string, pkgs: string): string {
  const m = path.join(work, `${ref.replace(/\//g, '_')}.yaml`);
  fs.writeFileSync(m, `ref: ${ref}\n${REPOS}packages: [${pkgs}]\n`);
  const r = ingot(['--json', 'compose', 'tree', m, '--repo', repo, '--cachedir', cache], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { commit: string }).commit;
}

before(() => {
  cache = path.join(process.env['INGOT_TEST_TMP'] ?? os.tmpdir(), 'debian-compose-cache');
  fs.mkdirSync(cache, { recursive: true });
  work = tmpdir('ingot-image-reuse-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  compose('img/minbase', 'apt');
  compose('img/minbase-less', 'apt, less');
});

after(() => cleanup(work));

test('one package more, rebuilt with --previous: only its layer, the package database and the config change', () => {
  const a = path.join(work, 'a');
  const b = path.join(work, 'b');
  const layers = path.join(work, 'layers');
  ingotOk(['image', 'build', '--repo', repo, 'img/minbase', '--output', `oci:${a}:v1`, '--cache-dir', layers]);
  const r = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'img/minbase-less', '--output', `oci:${b}:v2`, '--previous', `oci:${a}:v1`, '--cache-dir', layers])) as { layers: { origin: string }[] };
  const m1 = manifestOf(a, 'v1');
  const m2 = manifestOf(b, 'v2');
  const old = new Set(m1.layers.map((l) => l.digest));
  const changed = m2.layers.filter((l) => !old.has(l.digest));
  const what = changed.map((l) => `${l.annotations['ingot.layer']}:${l.annotations['ingot.components'] ?? l.annotations['ingot.unowned']}`);
  assert.ok(what.includes('packages:less'), what.join(' '));
  assert.ok(what.includes('unowned:package-database'), what.join(' '));
  assert.ok(changed.filter((l) => l.annotations['ingot.layer'] === 'packages').length === 1, `one package layer changed: ${what.join(' ')}`);
  assert.ok(changed.length <= 4, `at most less, the package database and up to two small unowned bins: ${what.join(' ')}`);
  // Every package group of the first build is still there, byte for byte.
  const groups2 = new Map(m2.layers.map((l) => [l.annotations['ingot.components'], l.digest]));
  for (const l of m1.layers.filter((x) => x.annotations['ingot.layer'] === 'packages')) assert.equal(groups2.get(l.annotations['ingot.components']), l.digest, l.annotations['ingot.components']);
  assert.notEqual(m2.config.digest, m1.config.digest);
  assert.equal(r.layers.filter((l) => l.origin === 'built').length, changed.length, 'only the changed layers were built');
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const info = JSON.parse(runOk('skopeo', ['inspect', `oci:${b}:v2`])) as { Layers: string[] };
  assert.equal(info.Layers.length, m2.layers.length);
});

test('pushed to a registry: the second push uploads only the changed layers and the config', async () => {
  const reg = await startRegistry(path.join(work, 'registry'));
  try {
    const layers = path.join(work, 'layers');
    const a = path.join(work, 'a');
    const p1 = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'img/minbase', '--output', `docker://${reg.host}/test/minbase:1`, '--previous', `oci:${a}:v1`, '--cache-dir', layers])) as { manifestDigest: string; layers: unknown[] };
    assert.equal(p1.manifestDigest, manifestDigestOf(a, 'v1'), 'the same image as the layout build');
    const before = reg.requests().length;
    const p2 = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'img/minbase-less', '--output', `docker://${reg.host}/test/minbase:2`, '--previous', `oci:${a}:v1`, '--cache-dir', layers])) as { manifestDigest: string; layers: { digest: string }[] };
    const second = uploads(reg.requests().slice(before));
    const m1 = new Set(manifestOf(a, 'v1').layers.map((l) => l.digest));
    const changed = new Set(p2.layers.filter((l) => !m1.has(l.digest)).map((l) => l.digest));
    assert.equal(second.length, changed.size + 1, `uploads of the second push: ${second.map((l) => l.uri).join(' ')}`);
    fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
    const raw = runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/test/minbase:2`]);
    assert.equal('sha256:' + createHash('sha256').update(raw).digest('hex'), p2.manifestDigest);
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
  ingotOk(['image', 'build', '--repo', repo, 'img/minbase', '--output', `oci-archive:${img}:boot`, '--bootable', '--cache-dir', path.join(work, 'layers')]);
  const repo2 = path.join(work, 'repo2');
  ingotOk(['repo', 'init', '--repo', repo2, '--mode', 'archive']);
  ingotOk(['image', 'import', `oci-archive:${img}:boot`, '--repo', repo2, '--branch', 'imported']);
  const cc = (r: string, rev: string): string => /^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(ostreeOk(r, ['show', rev]))![1]!;
  assert.equal(cc(repo2, 'imported'), cc(repo, 'img/minbase'));
  assert.equal(ostreeOk(repo2, ['rev-parse', 'imported']).trim(), ostreeOk(repo, ['rev-parse', 'img/minbase']).trim());
  const fsck = ostree(repo2, ['fsck']);
  assert.equal(fsck.status, 0, fsck.stderr + fsck.stdout);
  assert.match(fsck.stdout, /no errors found/);
});
