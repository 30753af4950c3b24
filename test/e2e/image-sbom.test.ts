/**
 * `ingot image build --sbom`: the SBOM is an OCI 1.1 artifact manifest (artifactType, the empty
 * config, one layer with the document, `subject` = the image manifest) listed in the referrers
 * index tagged `sha256-<image hex>`. Checked in an `oci:` layout (with skopeo and umoci still
 * reading the image tag), an `oci-archive:` (read by skopeo), and a push to Debian's
 * docker-registry (distribution 2.8, no referrers API: the schema tag answers). The document
 * validates against the vendored SPDX 2.3 / CycloneDX 1.6 schemas and names the image digest;
 * the image digest is the same with and without --sbom. docker-archive and bad formats are refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { cleanup, ingot, ingotOk, ROOT, runOk, tmpdir } from '../helpers.js';
import { skopeo, startRegistry } from '../interop/registry-harness.js';

const SCHEMAS = path.join(ROOT, 'test', 'fixtures', 'schemas');
const EMPTY = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

let work = '';
let repo = '';
let validators: { spdx: ValidateFunction; cdx: ValidateFunction };

const sha = (b: Uint8Array): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}
interface Manifest {
  mediaType: string;
  artifactType?: string;
  config: Desc;
  layers: Desc[];
  subject?: Desc;
}

before(() => {
  work = tmpdir('ingot-image-sbom-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const t = path.join(work, 'tree');
  const w = (p: string, data: string, mode = 0o644): void => {
    fs.mkdirSync(path.dirname(path.join(t, p)), { recursive: true });
    fs.writeFileSync(path.join(t, p), data, { mode });
  };
  w('usr/bin/foo', '#!/bin/sh\necho foo\n', 0o755);
  w('usr/bin/bar', '#!/bin/sh\necho bar\n', 0o755);
  w('usr/lib/os-release', 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n');
  w(
    'usr/lib/sysimage/dpkg/status',
    'Package: foo\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.2-3\n\n' + 'Package: bar\nStatus: install ok installed\nArchitecture: all\nSource: bar-src (2:0.9-1)\nVersion: 2:0.9-1+b1\n\n',
  );
  w('usr/lib/sysimage/dpkg/info/foo.list', '/.\n/usr\n/usr/bin\n/usr/bin/foo\n');
  w('usr/lib/sysimage/dpkg/info/bar.list', '/.\n/usr/bin/bar\n');
  w('usr/lib/tmpfiles.d/ingot-pkgdb.conf', 'L /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg\n');
  fs.symlinkSync('usr/bin', path.join(t, 'bin'));
  ingotOk(['repo', 'commit', '--repo', repo, '--branch', 'small', '--timestamp', '@1700000000', t]);

  const load = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(SCHEMAS, f), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  ajv.addFormat('iri-reference', /^\S*$/);
  ajv.addFormat('idn-email', /^\S+@\S+$/);
  ajv.addSchema(load('spdx.schema.json'));
  ajv.addSchema(load('jsf-0.82.schema.json'));
  validators = { spdx: ajv.compile(load('spdx-2.3.schema.json')), cdx: ajv.compile(load('bom-1.6.schema.json')) };
});

after(() => cleanup(work));

function blob(layout: string, digest: string): Buffer {
  const b = fs.readFileSync(path.join(layout, 'blobs', 'sha256', digest.slice(7)));
  assert.equal(sha(b), digest);
  return b;
}

/** Follows the referrers index of `image` in a layout to the artifact of `artifactType`; checks its shape; returns the document. */
function artifactIn(get: (d: string) => Buffer, index: Buffer, image: Desc, artifactType: string): Record<string, unknown> {
  const idx = JSON.parse(index.toString('utf8')) as { mediaType: string; manifests: Desc[] };
  assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  const entry = idx.manifests.find((d) => d.artifactType === artifactType);
  assert.ok(entry, `referrers index lists a ${artifactType} artifact: ${JSON.stringify(idx)}`);
  const m = JSON.parse(get(entry.digest).toString('utf8')) as Manifest;
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(m.artifactType, artifactType);
  assert.deepEqual({ ...m.config }, { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY, size: 2, data: 'e30=' });
  assert.equal(get(EMPTY).toString(), '{}');
  assert.deepEqual(m.subject, { mediaType: image.mediaType, digest: image.digest, size: image.size });
  assert.equal(m.layers.length, 1);
  assert.equal(m.layers[0]!.mediaType, artifactType);
  return JSON.parse(get(m.layers[0]!.digest).toString('utf8')) as Record<string, unknown>;
}

test('oci: layout: the SBOM artifact refers to the image, validates, and skopeo and umoci still read the tag', () => {
  const cache = path.join(work, 'cache');
  const plain = path.join(work, 'plain');
  const plainOut = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', `oci:${plain}:v1`, '--cache-dir', cache])) as { manifestDigest: string };
  const out = path.join(work, 'img');
  const res = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', `oci:${out}:v1`, '--cache-dir', cache, '--sbom', 'spdx-json'])) as {
    manifestDigest: string;
    sbom: { artifactType: string; manifestDigest: string; documentDigest: string; referrersTag: string };
  };
  assert.equal(res.manifestDigest, plainOut.manifestDigest, 'the image digest does not depend on --sbom');
  assert.equal(res.sbom.referrersTag, `sha256-${res.manifestDigest.slice(7)}`);

  const idx = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: Desc[] };
  const img = idx.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'v1')!;
  assert.equal(img.digest, res.manifestDigest);
  assert.equal(idx.manifests.filter((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'v1').length, 1);
  const ref = idx.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === res.sbom.referrersTag)!;
  assert.ok(ref, JSON.stringify(idx));
  const doc = artifactIn((d) => blob(out, d), blob(out, ref.digest), img, 'application/spdx+json');
  assert.ok(validators.spdx(doc), JSON.stringify(validators.spdx.errors?.slice(0, 5)));
  const pkgs = doc['packages'] as { name: string; checksums?: { checksumValue: string }[]; externalRefs?: { referenceLocator: string }[] }[];
  assert.equal(pkgs[0]!.checksums?.[0]?.checksumValue, res.manifestDigest.slice(7), 'the SBOM names the image digest');
  assert.deepEqual(pkgs.slice(1).map((p) => p.name).sort(), ['bar', 'foo']);
  assert.ok(pkgs.some((p) => p.externalRefs?.[0]?.referenceLocator.startsWith('pkg:deb/debian/bar@2%3A0.9-1%2Bb1?arch=all')), JSON.stringify(pkgs.map((p) => p.externalRefs)));

  // The peers still read the image by its tag.
  const insp = JSON.parse(skopeo(['inspect', `oci:${out}:v1`])) as { Digest: string };
  assert.equal(insp.Digest, res.manifestDigest);
  const bundle = path.join(work, 'bundle');
  runOk('umoci', ['unpack', '--image', `${out}:v1`, bundle]);
  assert.ok(fs.existsSync(path.join(bundle, 'rootfs', 'usr', 'bin', 'foo')));
  fs.rmSync(bundle, { recursive: true, force: true });

  // A CycloneDX SBOM of the same image joins the same referrers index; the SPDX one stays.
  const res2 = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', `oci:${out}:v1`, '--cache-dir', cache, '--sbom', 'cyclonedx-json'])) as typeof res;
  assert.equal(res2.manifestDigest, res.manifestDigest);
  const idx2 = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: Desc[] };
  const ref2 = idx2.manifests.filter((d) => d.annotations?.['org.opencontainers.image.ref.name'] === res.sbom.referrersTag);
  assert.equal(ref2.length, 1);
  const rbytes = blob(out, ref2[0]!.digest);
  const cdx = artifactIn((d) => blob(out, d), rbytes, img, 'application/vnd.cyclonedx+json');
  assert.ok(validators.cdx(cdx), JSON.stringify(validators.cdx.errors?.slice(0, 5)));
  assert.equal(((cdx['metadata'] as { component: { version: string } }).component).version, res.manifestDigest);
  artifactIn((d) => blob(out, d), rbytes, img, 'application/spdx+json');
  assert.equal(JSON.parse(skopeo(['inspect', `oci:${out}:v1`])).Digest, res.manifestDigest);
});

test('oci-archive: skopeo reads the image and the referrers index; docker-archive and unknown formats are refused', () => {
  const file = path.join(work, 'img.tar');
  const res = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', `oci-archive:${file}:v2`, '--cache-dir', path.join(work, 'cache'), '--sbom', 'cyclonedx-json'])) as {
    manifestDigest: string;
    sbom: { referrersTag: string };
  };
  assert.equal(JSON.parse(skopeo(['inspect', `oci-archive:${file}:v2`])).Digest, res.manifestDigest);
  const raw = Buffer.from(skopeo(['inspect', '--raw', `oci-archive:${file}:${res.sbom.referrersTag}`]));
  const idx = JSON.parse(raw.toString('utf8')) as { manifests: Desc[] };
  assert.equal(idx.manifests.length, 1);
  assert.equal(idx.manifests[0]!.artifactType, 'application/vnd.cyclonedx+json');

  for (const [args, what] of [
    [['--output', `docker-archive:${path.join(work, 'd.tar')}`, '--sbom', 'spdx-json'], 'docker-archive'],
    [['--output', `oci:${path.join(work, 'bad')}:v1`, '--sbom', 'spdx'], 'spdx-json'],
  ] as const) {
    const r = ingot(['image', 'build', '--repo', repo, 'small', '--cache-dir', path.join(work, 'cache'), ...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.ok(r.stderr.startsWith('error[INVALID_ARGUMENT]: ') && r.stderr.includes(what), r.stderr);
  }
  assert.ok(!fs.existsSync(path.join(work, 'd.tar')) && !fs.existsSync(path.join(work, 'bad')));
  // A commit without a package inventory has nothing to describe: refused before anything is written.
  const empty = path.join(work, 'empty-tree');
  fs.mkdirSync(path.join(empty, 'usr', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(empty, 'usr', 'bin', 'x'), 'x\n');
  ingotOk(['repo', 'commit', '--repo', repo, '--branch', 'nopkgs', empty]);
  const np = ingot(['image', 'build', '--repo', repo, 'nopkgs', '--output', `oci:${path.join(work, 'bad')}`, '--cache-dir', path.join(work, 'cache'), '--sbom', 'spdx-json']);
  assert.notEqual(np.status, 0);
  assert.ok(np.stderr.startsWith('error[INVENTORY_MISSING]: '), np.stderr);
  assert.ok(!fs.existsSync(path.join(work, 'bad')));
  // compose image checks --sbom before it reads the manifest or composes anything.
  const c = ingot(['compose', 'image', path.join(work, 'no-such-manifest.yaml'), '--output', `oci:${path.join(work, 'bad')}`, '--sbom', 'spdx-xml']);
  assert.equal(c.status, 2, c.stderr);
  assert.ok(c.stderr.startsWith('error[INVALID_ARGUMENT]: --sbom must be one of'), c.stderr);
});

test('docker://: docker-registry 2.8 accepts the artifact by digest and the referrers tag lists it', async () => {
  const reg = await startRegistry(path.join(work, 'registry'));
  try {
    const dest = `docker://${reg.host}/sbom/small:v1`;
    const res = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', dest, '--cache-dir', path.join(work, 'cache'), '--sbom', 'spdx-json'])) as {
      manifestDigest: string;
      sbom: { manifestDigest: string; referrersTag: string };
    };
    const tls = '--tls-verify=false';
    assert.equal(JSON.parse(skopeo(['inspect', tls, dest])).Digest, res.manifestDigest);
    const fetchBytes = async (p: string, accept = '*/*'): Promise<Buffer> => {
      const r = await fetch(`http://${reg.host}/v2/sbom/small/${p}`, { headers: { Accept: accept } });
      assert.equal(r.status, 200, `${p}: ${r.status}`);
      return Buffer.from(await r.arrayBuffer());
    };
    const accept = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';
    const indexBytes = await fetchBytes(`manifests/${res.sbom.referrersTag}`, accept);
    const imageBytes = await fetchBytes(`manifests/${res.manifestDigest}`, accept);
    const blobs = new Map<string, Buffer>();
    const idx = JSON.parse(indexBytes.toString('utf8')) as { manifests: Desc[] };
    const art = idx.manifests[0]!;
    assert.equal(art.digest, res.sbom.manifestDigest);
    blobs.set(art.digest, await fetchBytes(`manifests/${art.digest}`, accept));
    const m = JSON.parse(blobs.get(art.digest)!.toString('utf8')) as Manifest;
    blobs.set(EMPTY, await fetchBytes(`blobs/${EMPTY}`));
    blobs.set(m.layers[0]!.digest, await fetchBytes(`blobs/${m.layers[0]!.digest}`));
    for (const [d, b] of blobs) assert.equal(sha(b), d);
    const doc = artifactIn((d) => blobs.get(d)!, indexBytes, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: res.manifestDigest, size: imageBytes.length }, 'application/spdx+json');
    assert.ok(validators.spdx(doc), JSON.stringify(validators.spdx.errors?.slice(0, 5)));

    // A CycloneDX SBOM pushed for the same image joins the referrers index; the SPDX one stays.
    const res2 = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', dest, '--cache-dir', path.join(work, 'cache'), '--sbom', 'cyclonedx-json'])) as typeof res;
    assert.equal(res2.manifestDigest, res.manifestDigest);
    const idx2 = JSON.parse((await fetchBytes(`manifests/${res.sbom.referrersTag}`, accept)).toString('utf8')) as { manifests: Desc[] };
    assert.deepEqual(idx2.manifests.map((d) => d.artifactType).sort(), ['application/spdx+json', 'application/vnd.cyclonedx+json']);
    assert.ok(idx2.manifests.some((d) => d.digest === res.sbom.manifestDigest));
    assert.ok(idx2.manifests.some((d) => d.digest === res2.sbom.manifestDigest));
  } finally {
    await reg.stop();
  }
});
