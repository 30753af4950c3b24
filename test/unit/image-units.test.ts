/**
 * Table tests for the image code's pure parts: image references (skopeo's forms), the layer
 * grouping planner (budget, binning by name hash, the previous grouping kept), the tar header
 * writer (read back by the tar reader ingot uses for packages: long names through PAX, xattrs,
 * links), canonical JSON, manifest/index parsing of unknown media types and bad digests, and the
 * rebuild planner's parts (restack.ts): layer tars read back, layers applied with whiteouts and
 * opaque directories, the entries and whiteouts a top layer needs, where whiteouts go in a tar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseImageRef, formatImageRef } from '../../src/oci/reference.js';
import { fnv1a, planGroups } from '../../src/oci/chunking.js';
import { padding, tarHeader, TAR_END } from '../../src/oci/tar.js';
import { readTar } from '../../src/codecs/archive/tar.js';
import { canonicalJson, isDigest, parseIndex, parseManifest, MT } from '../../src/oci/media.js';
import { IngotError } from '../../src/core/errors.js';
import { createHash } from 'node:crypto';
import { applyLayer, deltaOver, effOfRoot, sameEff, treeOfEntries, treeOfTar, type Eff } from '../../src/oci/restack.js';
import { withWhiteouts } from '../../src/oci/build.js';
import type { LayerEntry } from '../../src/oci/layer.js';
import type { RootEntry } from '../../src/oci/rootfs.js';

test('image references: transports, paths with colons, tags, docker-archive names', () => {
  const cases: [string, unknown][] = [
    ['oci:/srv/img', { transport: 'oci', path: '/srv/img', tag: null }],
    ['oci:/srv/img:v1.2', { transport: 'oci', path: '/srv/img', tag: 'v1.2' }],
    ['oci:rel/dir:latest', { transport: 'oci', path: 'rel/dir', tag: 'latest' }],
    ['oci:/a:b/c', { transport: 'oci', path: '/a:b/c', tag: null }],
    ['oci-archive:/x/img.tar:t', { transport: 'oci-archive', path: '/x/img.tar', tag: 't' }],
    ['docker-archive:/x/d.tar', { transport: 'docker-archive', path: '/x/d.tar', tag: null }],
    ['docker-archive:/x/d.tar:app:1', { transport: 'docker-archive', path: '/x/d.tar', tag: 'app:1' }],
    ['docker-archive:/x/d.tar:team/app', { transport: 'docker-archive', path: '/x/d.tar', tag: 'team/app:latest' }],
    ['docker://127.0.0.1:5000/team/app:1', { transport: 'docker', reference: '127.0.0.1:5000/team/app:1' }],
  ];
  for (const [s, want] of cases) {
    assert.deepEqual(parseImageRef(s), want, s);
    if (!s.startsWith('docker-archive:/x/d.tar:team')) assert.equal(formatImageRef(parseImageRef(s)), s);
  }
  for (const bad of ['tarball:/x', 'oci:', 'oci:/x:-bad', 'oci:/x:.hidden', `oci:/x:${'a'.repeat(129)}`, 'docker://', 'dir:/x']) {
    assert.throws(() => parseImageRef(bad), (e: unknown) => e instanceof IngotError && e.code === 'IMAGE_REF_INVALID', bad);
  }
});

test('planGroups: one layer each when they fit; largest alone and the rest hash-binned when not', () => {
  const comps = Array.from({ length: 40 }, (_, i) => ({ name: `p${i}`, size: (i + 1) * 1000 }));
  assert.equal(planGroups(comps.slice(0, 5), 10).length, 5);
  assert.deepEqual(planGroups(comps.slice(0, 3), 10).map((g) => g.components), [['p2'], ['p1'], ['p0']]);
  const g = planGroups(comps, 12);
  assert.ok(g.length <= 12);
  assert.deepEqual(g.slice(0, 9).map((x) => x.components), [['p39'], ['p38'], ['p37'], ['p36'], ['p35'], ['p34'], ['p33'], ['p32'], ['p31']]);
  assert.equal(new Set(g.flatMap((x) => x.components)).size, 40, 'every component placed once');
  // A small component's bin depends only on its name: adding others does not move it.
  const more = planGroups([...comps, { name: 'zz-new', size: 1 }], 12);
  const binOf = (gs: { components: string[] }[], n: string): string[] => gs.find((x) => x.components.includes(n))!.components.filter((c) => c !== 'zz-new');
  assert.deepEqual(binOf(more, 'p0'), binOf(g, 'p0'));
  assert.equal(planGroups(comps, 1).length, 1);
  assert.equal(fnv1a('a'), 0xe40c292c);
});

test('planGroups with a previous grouping keeps every group, drops the gone, adds the new', () => {
  const comps = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, size: 10 }));
  const prev = [['a', 'gone'], ['b', 'c'], ['d']];
  assert.deepEqual(planGroups(comps, 10, prev).map((g) => g.components), [['a'], ['b', 'c'], ['d'], ['e']]);
  // No room for new layers: the new ones join the last group.
  assert.deepEqual(planGroups(comps, 3, prev).map((g) => g.components), [['a'], ['b', 'c'], ['d', 'e']]);
  // Budget smaller than the previous groups: the last ones merge.
  assert.deepEqual(planGroups(comps.slice(0, 4), 2, prev).map((g) => g.components), [['a'], ['b', 'c', 'd']]);
  // Room for some: singles for the largest new ones, the rest together.
  const c2 = [...comps, { name: 'f', size: 50 }, { name: 'g', size: 1 }, { name: 'h', size: 2 }];
  assert.deepEqual(planGroups(c2, 6, prev).map((g) => g.components), [['a'], ['b', 'c'], ['d'], ['f'], ['e'], ['g', 'h']]);
});

test('tar headers read back: long paths through PAX, long link targets, xattrs, hardlinks, sizes', async () => {
  const long = `usr/share/${'d'.repeat(120)}/${'f'.repeat(110)}`;
  const entries = [
    { path: 'usr', type: 'dir' as const, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 },
    { path: 'usr/bin/x', type: 'file' as const, mode: 0o4755, uid: 0, gid: 0, size: 5, mtime: 0, xattrs: [{ name: 'security.capability', value: Buffer.from([1, 2, 3]) }] },
    { path: 'usr/bin/y', type: 'hardlink' as const, mode: 0o4755, uid: 0, gid: 0, size: 0, mtime: 0, linkname: 'usr/bin/x' },
    { path: long, type: 'file' as const, mode: 0o644, uid: 3000000, gid: 5, size: 0, mtime: 0 },
    { path: 'l', type: 'symlink' as const, mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 0, linkname: 'x'.repeat(150) },
  ];
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e));
    if (e.type === 'file' && e.size) parts.push(Buffer.from('hello'), padding(5));
  }
  parts.push(TAR_END);
  const tar = Buffer.concat(parts);
  assert.equal(tar.length % 512, 0);
  const got: { name: string; type: string; mode: number; uid: number; linkname?: string; size: number }[] = [];
  for await (const e of readTar(Readable.from([tar]))) {
    got.push({ name: e.name, type: e.type, mode: e.mode, uid: e.uid, size: e.size, ...(e.linkname && { linkname: e.linkname }) });
    for await (const _ of e.body) void _;
  }
  assert.deepEqual(got.map((g) => g.name.replace(/\/$/, '')), ['usr', 'usr/bin/x', 'usr/bin/y', long, 'l']);
  assert.equal(got[1]!.mode, 0o4755);
  assert.equal(got[2]!.type, 'hardlink');
  assert.equal(got[3]!.uid, 3000000);
  assert.equal(got[4]!.linkname, 'x'.repeat(150));
  // Equal entries, equal bytes.
  assert.deepEqual(tarHeader(entries[3]!), tarHeader({ ...entries[3]! }));
});

test('canonical JSON sorts keys byte-wise and drops undefined; digests follow the grammar', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ z: 1, y: undefined }, 'x'], A: null }), '{"A":null,"a":[{"z":1},"x"],"b":1}');
  assert.ok(isDigest('sha256:' + 'a'.repeat(64)));
  assert.ok(!isDigest('sha256:' + 'A'.repeat(64)));
  assert.ok(!isDigest('sha256:abc'));
  assert.ok(isDigest('blake3:abcDEF'));
});

test('manifest and index parsing: unknown media types and bad descriptors are refused with codes', () => {
  const d = (mediaType: string, digest = 'sha256:' + 'b'.repeat(64)) => ({ mediaType, digest, size: 2 });
  const m = (o: object) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: d(MT.ociConfig), layers: [d(MT.ociLayerGzip)], ...o }));
  assert.equal(parseManifest(m({}), MT.ociManifest).layers.length, 1);
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return (e as IngotError).code;
    }
    return 'none';
  };
  assert.equal(code(() => parseManifest(m({ layers: [d('application/x-foo')] }), MT.ociManifest)), 'IMAGE_MEDIA_TYPE_UNSUPPORTED');
  assert.equal(code(() => parseManifest(m({ config: d('application/vnd.cncf.helm.config.v1+json') }), MT.ociManifest)), 'IMAGE_MEDIA_TYPE_UNSUPPORTED');
  assert.equal(code(() => parseManifest(m({ mediaType: 'application/x-thing' }), MT.ociManifest)), 'IMAGE_MEDIA_TYPE_UNSUPPORTED');
  assert.equal(code(() => parseManifest(m({ layers: [d(MT.ociLayer, 'sha256:XYZ')] }), MT.ociManifest)), 'IMAGE_INVALID');
  assert.equal(code(() => parseManifest(m({ schemaVersion: 1 }), MT.ociManifest)), 'IMAGE_INVALID');
  assert.equal(code(() => parseManifest(Buffer.from('{nope'), MT.ociManifest)), 'IMAGE_INVALID');
  assert.equal(code(() => parseIndex(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-idx', manifests: [] })), MT.ociIndex)), 'IMAGE_MEDIA_TYPE_UNSUPPORTED');
});

test("the manifest's image: section: container settings, merged from includes key by key, checked", async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { loadManifest } = await import('../../src/compose/manifest.js');
  const { tmpdir, cleanup } = await import('../helpers.js');
  const dir = tmpdir('ingot-image-manifest-');
  try {
    const repos = 'repos:\n  - name: d\n    type: apt\n    url: file:///nonexistent\n    suites: [x]\n    components: [main]\n';
    fs.writeFileSync(path.join(dir, 'base.yaml'), `${repos}image:\n  cmd: [/bin/sh]\n  env: {A: 1}\n  user: nobody\n`);
    fs.writeFileSync(
      path.join(dir, 'm.yaml'),
      'include: base.yaml\nref: x/y\nimage:\n  entrypoint: [/usr/bin/tini, --]\n  env: {B: two}\n  working-dir: /srv\n  exposed-ports: [80, 53/udp]\n  volumes: [/data]\n  labels: {a.b: c}\n  stop-signal: SIGQUIT\n',
    );
    const m = loadManifest(path.join(dir, 'm.yaml')).manifest;
    assert.deepEqual(m.image, { cmd: ['/bin/sh'], env: ['B=two'], user: 'nobody', entrypoint: ['/usr/bin/tini', '--'], workingDir: '/srv', exposedPorts: ['80/tcp', '53/udp'], volumes: ['/data'], labels: { 'a.b': 'c' }, stopSignal: 'SIGQUIT' });
    const withoutImage = loadManifest(path.join(dir, 'base.yaml'));
    fs.writeFileSync(path.join(dir, 'same.yaml'), repos);
    assert.equal(withoutImage.canonical, loadManifest(path.join(dir, 'same.yaml')).canonical, 'image: is not part of the input hash');
    for (const bad of ['image:\n  entrypiont: [/x]\n', 'image:\n  exposed-ports: [http]\n', 'image:\n  cmd: /bin/sh\n']) {
      fs.writeFileSync(path.join(dir, 'bad.yaml'), repos + bad);
      assert.throws(() => loadManifest(path.join(dir, 'bad.yaml')), (e: unknown) => e instanceof IngotError && e.code === 'MANIFEST_INVALID', bad);
    }
  } finally {
    cleanup(dir);
  }
});

test('restack: a layer tar read back gives the entries it was written from (xattrs, hardlinks, whiteouts, opaque dirs)', () => {
  const entries: LayerEntry[] = [
    { path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 },
    { path: 'etc/.wh.gone', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, inline: '' },
    { path: 'etc/a', type: 'file', mode: 0o600, uid: 7, gid: 8, size: 3, inline: Buffer.from('abc').toString('base64'), xattrs: [[Buffer.from('user.k').toString('hex'), 'ff00']] },
    { path: 'etc/b', type: 'hardlink', mode: 0o600, uid: 7, gid: 8, size: 0, linkname: 'etc/a' },
    { path: 'etc/l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, linkname: '../x/' + 'y'.repeat(120) },
    { path: `var/${'d'.repeat(150)}`, type: 'dir', mode: 0o1777, uid: 0, gid: 0, size: 0 },
    { path: 'var/o/.wh..wh..opq', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, inline: '' },
  ];
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.inline ? Buffer.from(e.inline, 'base64') : Buffer.alloc(0);
    const { xattrs, ...rest } = e;
    parts.push(tarHeader({ ...rest, mtime: 0, ...(xattrs && { xattrs: xattrs.map(([n, v]) => ({ name: Buffer.from(n, 'hex').toString(), value: Buffer.from(v, 'hex') })) }) }), data, padding(data.length));
  }
  parts.push(TAR_END);
  const t = treeOfTar(Buffer.concat(parts))!;
  assert.deepEqual(t.whiteouts, ['etc/gone']);
  assert.deepEqual(t.opaque, ['var/o']);
  const want = treeOfEntries(entries.filter((e) => !e.path.includes('.wh.')));
  assert.deepEqual([...t.entries.entries()], [...want.entries.entries()]);
  assert.equal(t.entries.get('etc/b')!.sha, createHash('sha256').update('abc').digest('hex'));
  assert.equal(t.bytes, 3);
  assert.equal(treeOfTar(Buffer.concat([tarHeader({ path: '../x', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }), TAR_END])), null, 'a name outside the root');
});

test('restack: applying layers, and what the top layer must carry over them', () => {
  const dir = (): Eff => ({ type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, linkname: '', xattrs: '', content: null, sha: null });
  const file = (content: string, size = 1): Eff => ({ type: 'file', mode: 0o644, uid: 0, gid: 0, size, linkname: '', xattrs: '', content, sha: null });
  const view = new Map<string, Eff>([
    ['a', dir()],
    ['a/x', file('c1')],
    ['a/y', file('c2')],
    ['d', dir()],
    ['d/z', file('c3')],
    ['k', dir()],
    ['k/1', file('c4')],
    ['t', { ...file('', 3), content: null, sha: createHash('sha256').update('old').digest('hex') }],
  ]);
  applyLayer(view, { entries: new Map([['d/w', file('c5')]]), whiteouts: ['d/z'], opaque: [], bytes: 1 });
  assert.deepEqual([...view.keys()].sort(), ['a', 'a/x', 'a/y', 'd', 'd/w', 'k', 'k/1', 't']);
  const root = (p: string, kind: RootEntry['kind'], checksum: string | null = null, size = 1): RootEntry => ({ path: p, kind, mode: kind === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: kind === 'dir' ? 0 : size, checksum, target: '', xattrs: [], owner: null, pkg: null, commitPath: null });
  const tree = [root('a', 'dir'), root('a/x', 'file', 'c9'), root('k', 'file', 'c6'), root('n', 'file', 'c7'), root('t', 'file', 'cold', 3)];
  const data: Record<string, string> = { cold: 'old' };
  const d = deltaOver(view, tree, (c) => createHash('sha256').update(data[c] ?? c).digest('hex'));
  assert.deepEqual(d.entries.map((e) => e.path), ['a/x', 'k', 'n'], 'changed, replaced and new entries; t is equal by data');
  // a/y removed; d removed with everything under it (one whiteout); k a directory below, a file now.
  assert.deepEqual(d.whiteouts, ['a/y', 'd', 'k']);
  applyLayer(view, { entries: new Map(d.entries.map((e) => [e.path, effOfRoot(e)])), whiteouts: d.whiteouts, opaque: [], bytes: 0 });
  assert.deepEqual([...view.keys()].sort(), ['a', 'a/x', 'k', 'n', 't']);
  assert.ok(sameEff(view.get('k')!, effOfRoot(tree[2]!), () => ''));
});

test('restack: whiteouts go right after their parent directory, before its other entries', () => {
  const e = (p: string, type: 'dir' | 'file' = 'dir'): LayerEntry => ({ path: p, type, mode: 0o755, uid: 0, gid: 0, size: 0 });
  const out = withWhiteouts([e('a'), e('a/-x', 'file'), e('a/b'), e('a/b/c', 'file'), e('z', 'file')], ['top', 'a/gone', 'a/b/old']);
  assert.deepEqual(out.map((x) => x.path), ['.wh.top', 'a', 'a/.wh.gone', 'a/-x', 'a/b', 'a/b/.wh.old', 'a/b/c', 'z']);
  assert.ok(out.filter((x) => x.path.includes('.wh.')).every((x) => x.type === 'file' && x.size === 0));
});
