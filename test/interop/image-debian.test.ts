/**
 * The image of a Debian minbase commit (composed from the real bookworm archive, as
 * `mmdebstrap --variant=minbase` selects it; packages cached under
 * $INGOT_TEST_TMP/debian-compose-cache) against the real peers:
 * - `skopeo inspect` reads the layout, the oci-archive and the docker-archive; the manifest
 *   bytes skopeo returns hash to ingot's manifest digest;
 * - `umoci unpack` (gzip layers) gives a root whose /usr equals an `ostree checkout` of the
 *   commit and whose /etc equals its /usr/etc;
 * - `ingot db diff REF oci:DIR:TAG` finds no difference between the commit and its image;
 * - zstd layers are read by skopeo.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, describeTree, ingot, ingotOk, ostreeOk, runOk, tmpdir, treeDiff, DEBIAN_BOOKWORM_REPOS } from '../helpers.js';

const REF = 'debian/bookworm/x86_64/minbase';
const MANIFEST = `ref: ${REF}
${DEBIAN_BOOKWORM_REPOS}include-essential: true
include-priority: [required]
packages: [apt]
image:
  cmd: [/bin/bash]
  env: {LANG: C.UTF-8}
  labels: {org.opencontainers.image.title: minbase}
`;

let work = '';
let repo = '';
let packages = 0;
let layout = '';
let digest = '';

function skopeo(args: string[]): string {
  // skopeo's blob-info cache makes results depend on earlier runs (spec 5.3): start clean.
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  return runOk('skopeo', args);
}

before(() => {
  const base = process.env['INGOT_TEST_TMP'] ?? os.tmpdir();
  const cache = path.join(base, 'debian-compose-cache');
  fs.mkdirSync(cache, { recursive: true });
  work = tmpdir('ingot-image-debian-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const m = path.join(work, 'minbase.yaml');
  fs.writeFileSync(m, MANIFEST);
  // compose image: the commit goes into --repo, the image into the layout, with the manifest's image: settings.
  layout = path.join(work, 'img');
  const r = ingot(['--json', 'compose', 'image', m, '--repo', repo, '--cachedir', cache, '--output', `oci:${layout}:v1`, '--cache-dir', path.join(work, 'layers')], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { manifestDigest: string; packages: number; layers: unknown[] };
  digest = j.manifestDigest;
  packages = j.packages;
  assert.ok(packages > 80 && packages < 150, `${packages} packages`);
});

after(() => cleanup(work));

test('skopeo inspects the layout; its raw manifest hashes to our digest; labels and config come through', () => {
  const info = JSON.parse(skopeo(['inspect', `oci:${layout}:v1`])) as { Digest: string; Architecture: string; Os: string; Labels: Record<string, string>; Layers: string[]; Env: string[] };
  assert.equal(info.Digest, digest);
  assert.equal(info.Architecture, 'amd64');
  assert.equal(info.Os, 'linux');
  assert.equal((JSON.parse(info.Labels['ingot.packages']!) as unknown[]).length, packages);
  assert.equal(info.Labels['org.opencontainers.image.title'], 'minbase');
  assert.ok(info.Env.includes('LANG=C.UTF-8'));
  assert.ok(info.Layers.length > 10 && info.Layers.length <= 64, `${info.Layers.length} layers`);
  const raw = skopeo(['inspect', '--raw', `oci:${layout}:v1`]);
  assert.equal('sha256:' + createHash('sha256').update(raw).digest('hex'), digest);
  const cfg = JSON.parse(skopeo(['inspect', '--config', `oci:${layout}:v1`])) as { config: { Cmd: string[] }; rootfs: { diff_ids: string[] }; history: unknown[] };
  assert.deepEqual(cfg.config.Cmd, ['/bin/bash']);
  assert.equal(cfg.history.length, cfg.rootfs.diff_ids.length);
});

test('umoci unpacks the gzip layers into the commit: /usr as checked out, /etc from /usr/etc, /var/lib/dpkg linked', () => {
  const bundle = path.join(work, 'bundle');
  runOk('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
  const co = path.join(work, 'co');
  ostreeOk(repo, ['checkout', REF, co]);
  const rootfs = path.join(bundle, 'rootfs');
  const ignore = { ignoreXattrs: ['user.rootlesscontainers'] };
  const usr = describeTree(path.join(co, 'usr'), ignore);
  for (const k of [...usr.keys()]) if (k === '/etc' || k.startsWith('/etc/')) usr.delete(k);
  assert.deepEqual(treeDiff(usr, describeTree(path.join(rootfs, 'usr'), ignore)), []);
  const etcDiff = treeDiff(describeTree(path.join(co, 'usr/etc'), ignore), describeTree(path.join(rootfs, 'etc'), ignore));
  assert.deepEqual(etcDiff, []);
  assert.equal(fs.readlinkSync(path.join(rootfs, 'var/lib/dpkg')), '../../usr/lib/sysimage/dpkg');
  assert.ok(fs.existsSync(path.join(rootfs, 'var/lib/dpkg/status')));
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.rmSync(co, { recursive: true, force: true });
});

test('db diff finds no difference between the commit and its image', () => {
  const r = ingot(['--json', 'db', 'diff', '--repo', repo, REF, `oci:${layout}:v1`]);
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout) as Record<string, unknown[]>;
  for (const k of ['added', 'removed', 'upgraded', 'downgraded', 'changed']) assert.deepEqual(d[k], [], k);
});

test('archives and zstd layers: skopeo reads oci-archive, docker-archive and tar+zstd images', () => {
  const oa = path.join(work, 'img.oci.tar');
  const da = path.join(work, 'img.docker.tar');
  ingotOk(['image', 'build', '--repo', repo, REF, '--output', `oci-archive:${oa}:v1`, '--cache-dir', path.join(work, 'layers')]);
  ingotOk(['image', 'build', '--repo', repo, REF, '--output', `docker-archive:${da}:minbase:v1`, '--cache-dir', path.join(work, 'layers')]);
  const a = JSON.parse(skopeo(['inspect', `oci-archive:${oa}:v1`])) as { Layers: string[] };
  const d = JSON.parse(skopeo(['inspect', `docker-archive:${da}`])) as { Layers: string[]; RepoTags: string[] };
  assert.ok(a.Layers.length > 10);
  assert.equal(d.Layers.length, a.Layers.length);
  const z = path.join(work, 'zstd');
  ingotOk(['image', 'build', '--repo', repo, REF, '--output', `oci:${z}:v1`, '--compression', 'zstd', '--cache-dir', path.join(work, 'layers')]);
  const raw = JSON.parse(skopeo(['inspect', '--raw', `oci:${z}:v1`])) as { layers: { mediaType: string }[] };
  assert.ok(raw.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd'));
  const zi = JSON.parse(skopeo(['inspect', `oci:${z}:v1`])) as { Digest: string };
  assert.match(zi.Digest, /^sha256:/);
});
