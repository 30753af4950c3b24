/**
 * The registry client against Debian's docker-registry (distribution 2.8) on loopback, with
 * skopeo and umoci as the judges: what ingot pushes, skopeo pulls back with the same manifest
 * digest; what skopeo pushes, ingot pulls and umoci unpacks; a second push sends only new
 * blobs, a copy within the registry mounts instead of uploading, a large blob goes up in
 * chunks, and an index resolves to the requested platform. The registry's own request log is
 * the oracle for what went over the wire.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, runOk, tmpdir } from '../helpers.js';
import { mounts, skopeo, skopeoDigest, startRegistry, umociImage, uploads, type RunningRegistry } from './registry-harness.js';

let dir: string;
let reg: RunningRegistry;
let layout: string;
let files: Map<string, Buffer>;

before(async () => {
  dir = tmpdir('ingot-registry-');
  reg = await startRegistry(path.join(dir, 'registry'));
  layout = path.join(dir, 'img');
  // v1: one layer; v2: v1's layer plus one more (they share the lower layer).
  files = umociImage(layout, 'v1', [{ name: 'base', size: 200_000 }]);
  for (const [k, v] of umociImage(layout, 'v2', [{ name: 'app', size: 150_000 }], 'v1')) files.set(k, v);
});

after(async () => {
  await reg?.stop();
  if (dir) cleanup(dir);
});

const ociDigest = (ref: string): string => skopeoDigest(`oci:${ref}`);

test('ingot pushes an OCI layout; skopeo pulls it back with the same manifest digest', () => {
  const want = ociDigest(`${layout}:v1`);
  const digestFile = path.join(dir, 'digest');
  const out = JSON.parse(ingotOk(['image', 'copy', `oci:${layout}:v1`, `docker://${reg.host}/team/app:v1`, '--json', '--digestfile', digestFile])) as { digest: string; uploaded: number };
  assert.equal(out.digest, want);
  assert.equal(fs.readFileSync(digestFile, 'utf8'), want);
  assert.equal(out.uploaded, 2, 'config and one layer');
  assert.equal(skopeoDigest(`docker://${reg.host}/team/app:v1`), want);
  const back = path.join(dir, 'back');
  skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/team/app:v1`, `oci:${back}:v1`]);
  assert.equal(ociDigest(`${back}:v1`), want);
  // The registry served what was pushed, byte for byte: umoci unpacks it to the original file.
  const bundle = path.join(dir, 'bundle-back');
  runOk('umoci', ['unpack', '--image', `${back}:v1`, bundle]);
  assert.ok(fs.readFileSync(path.join(bundle, 'rootfs', 'base', 'data')).equals(files.get('base')!));
});

test('a second push of an image that shares layers uploads only the new blobs', () => {
  const before = reg.requests().length;
  const want = ociDigest(`${layout}:v2`);
  const out = JSON.parse(ingotOk(['image', 'copy', `oci:${layout}:v2`, `docker://${reg.host}/team/app:v2`, '--json'])) as { digest: string; uploaded: number; present: number };
  assert.equal(out.digest, want);
  const lines = reg.requests().slice(before);
  const up = uploads(lines, 'team/app');
  assert.equal(up.length, 2, `only the new layer and the new config are uploaded, got:\n${up.map((l) => l.uri).join('\n')}`);
  assert.equal(out.uploaded, 2);
  assert.equal(out.present, 1);
  const sharedLayerHead = lines.filter((l) => l.method === 'HEAD' && l.status === 200 && /\/v2\/team\/app\/blobs\//.test(l.uri));
  assert.equal(sharedLayerHead.length, 1, 'the shared layer is found by HEAD');
  assert.equal(skopeoDigest(`docker://${reg.host}/team/app:v2`), want);
});

test('ingot pulls what skopeo pushed, keeping the digest; umoci unpacks the result', () => {
  skopeo(['copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:v2`, `docker://${reg.host}/by-skopeo/app:v2`]);
  const want = ociDigest(`${layout}:v2`);
  const pulled = path.join(dir, 'pulled');
  const out = ingotOk(['image', 'copy', `docker://${reg.host}/by-skopeo/app:v2`, `oci:${pulled}:v2`]);
  assert.match(out, new RegExp(want));
  assert.equal(ociDigest(`${pulled}:v2`), want);
  const bundle = path.join(dir, 'bundle-pulled');
  runOk('umoci', ['unpack', '--image', `${pulled}:v2`, bundle]);
  assert.ok(fs.readFileSync(path.join(bundle, 'rootfs', 'base', 'data')).equals(files.get('base')!));
  assert.ok(fs.readFileSync(path.join(bundle, 'rootfs', 'app', 'data')).equals(files.get('app')!));
  // By digest too.
  const byDigest = path.join(dir, 'by-digest');
  ingotOk(['image', 'copy', `docker://${reg.host}/by-skopeo/app@${want}`, `oci:${byDigest}:x`]);
  assert.equal(ociDigest(`${byDigest}:x`), want);
});

test('a copy to another repository of the same registry mounts the blobs instead of uploading them', () => {
  const before = reg.requests().length;
  const out = JSON.parse(ingotOk(['image', 'copy', `docker://${reg.host}/team/app:v2`, `docker://${reg.host}/other/app:v2`, '--json'])) as { mounted: number; uploaded: number };
  const lines = reg.requests().slice(before);
  assert.equal(mounts(lines).length, 3, 'config and both layers mounted (201)');
  assert.equal(uploads(lines).length, 0, 'nothing uploaded');
  assert.ok(lines.every((l) => !(l.method === 'GET' && /\/blobs\/sha256:/.test(l.uri))), 'no blob downloaded');
  assert.deepEqual([out.mounted, out.uploaded], [3, 0]);
  assert.equal(skopeoDigest(`docker://${reg.host}/other/app:v2`), ociDigest(`${layout}:v2`));
});

test('a blob above the chunk threshold is uploaded in chunks (PATCH), and reads back intact', () => {
  const big = path.join(dir, 'big');
  const content = umociImage(big, 'v1', [{ name: 'blob', size: 3_000_000 }]);
  const before = reg.requests().length;
  ingotOk(['image', 'copy', `oci:${big}:v1`, `docker://${reg.host}/big/app:v1`, '--chunk-threshold', '1000000', '--chunk-size', '1048576']);
  const lines = reg.requests().slice(before);
  const patches = lines.filter((l) => l.method === 'PATCH' && l.status === 202);
  assert.equal(patches.length, 3, 'a ~3 MB layer in 1 MiB chunks');
  assert.equal(uploads(lines).length, 2, 'the chunked layer and the config are both completed by a PUT');
  assert.equal(skopeoDigest(`docker://${reg.host}/big/app:v1`), ociDigest(`${big}:v1`));
  const back = path.join(dir, 'big-back');
  skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/big/app:v1`, `oci:${back}:v1`]);
  const bundle = path.join(dir, 'bundle-big');
  runOk('umoci', ['unpack', '--image', `${back}:v1`, bundle]);
  assert.ok(fs.readFileSync(path.join(bundle, 'rootfs', 'blob', 'data')).equals(content.get('blob')!));
});

test('an image index resolves to the requested platform; a missing platform is REGISTRY_PLATFORM_NOT_FOUND', () => {
  // An index over v1 (as linux/amd64) and v2 (as linux/arm64/v8), pushed by skopeo --all.
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[] };
  const byTag = (t: string) => idx.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === t)!;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: byTag('v1').mediaType, digest: byTag('v1').digest, size: byTag('v1').size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: byTag('v2').mediaType, digest: byTag('v2').digest, size: byTag('v2').size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    }),
  );
  const hex = createHash('sha256').update(index).digest('hex');
  fs.writeFileSync(path.join(layout, 'blobs', 'sha256', hex), index);
  const multi = path.join(dir, 'multi');
  fs.mkdirSync(multi);
  fs.cpSync(path.join(layout, 'blobs'), path.join(multi, 'blobs'), { recursive: true });
  fs.writeFileSync(path.join(multi, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(
    path.join(multi, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${hex}`, size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }),
  );
  skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${multi}:multi`, `docker://${reg.host}/multi/app:multi`]);
  const arm = JSON.parse(ingotOk(['image', 'copy', '--platform', 'linux/arm64/v8', `docker://${reg.host}/multi/app:multi`, `oci:${path.join(dir, 'arm')}:a`, '--json'])) as { digest: string };
  assert.equal(arm.digest, byTag('v2').digest);
  const amd = JSON.parse(ingotOk(['image', 'copy', '--platform', 'linux/amd64', `docker://${reg.host}/multi/app:multi`, `oci:${path.join(dir, 'amd')}:a`, '--json'])) as { digest: string };
  assert.equal(amd.digest, byTag('v1').digest);
  const r = ingot(['image', 'copy', '--platform', 'linux/s390x', `docker://${reg.host}/multi/app:multi`, `oci:${path.join(dir, 'none')}:a`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error\[REGISTRY_PLATFORM_NOT_FOUND\].*linux\/s390x.*linux\/amd64, linux\/arm64\/v8/);
  assert.ok(!fs.existsSync(path.join(dir, 'none')), 'nothing written');
});

test('Docker schema 2 images: pulled into a layout and pushed again, byte for byte', () => {
  skopeo(['copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${layout}:v2`, `docker://${reg.host}/docker/app:v2`]);
  const want = skopeoDigest(`docker://${reg.host}/docker/app:v2`);
  const raw = JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/docker/app:v2`])) as { mediaType: string };
  assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const local = path.join(dir, 'docker-layout');
  const pulled = JSON.parse(ingotOk(['image', 'copy', `docker://${reg.host}/docker/app:v2`, `oci:${local}:v2`, '--json'])) as { digest: string; mediaType: string };
  assert.deepEqual([pulled.digest, pulled.mediaType], [want, 'application/vnd.docker.distribution.manifest.v2+json']);
  const before = reg.requests().length;
  ingotOk(['image', 'copy', `oci:${local}:v2`, `docker://${reg.host}/docker-again/app:v2`]);
  const put = reg.requests().slice(before).filter((l) => l.method === 'PUT' && l.uri === '/v2/docker-again/app/manifests/v2');
  assert.deepEqual(put.map((l) => l.status), [201]);
  assert.equal(uploads(reg.requests().slice(before), 'docker-again/app').length, 3, 'config and both layers uploaded');
  assert.equal(skopeoDigest(`docker://${reg.host}/docker-again/app:v2`), want);
});
