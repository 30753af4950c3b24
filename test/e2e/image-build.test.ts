/**
 * `ingot image build / inspect / import` on small commits (no Debian archive needed), and bad
 * input. A tree with a dpkg database (`usr/lib/sysimage/dpkg/info/*.list`) gets one layer per
 * package plus the unowned files; the same commit gives the same manifest digest from an empty
 * cache; every transport (oci:, oci-archive:, docker-archive:) reads back what it wrote; a
 * bootable image imports back to the same commit; rebuilt with `--previous`, a package removed
 * (its layer dropped, its leftover unowned link whited out) and then one upgraded and one added
 * (two layers on top) keep every other layer, and umoci unpacks each to what a first build of
 * the same commit unpacks to.
 *
 * Bad input: unknown media types in a manifest or an index, a layer whose bytes do not match
 * its digest, tar layers with `../` names or a device node, an image without an encapsulated
 * commit, bad references and options: each a stable code, no stack trace, and nothing written
 * (no output layout, no ref, no temporary directory left behind).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, describeTree, firstChecksum, ingot, ingotOk, runOk, tmpdir, treeDiff, type TreeEntry } from '../helpers.js';
import { ERROR_CODES, type ErrorCode } from '../../src/core/codes.js';

const require = createRequire(import.meta.url);
const STACK = /^\s+at \S/m;

let work = '';
let repo = '';
let commit = '';

function expectError(code: ErrorCode, args: string[]): string {
  const r = ingot(args);
  assert.equal(r.status, ERROR_CODES[code].exit, `ingot ${args.join(' ')}: want ${code}, got ${r.status}:\n${r.stderr}`);
  assert.ok(r.stderr.startsWith(`error[${code}]: `), `want error[${code}]:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK);
  const j = ingot(['--json', ...args]);
  assert.equal((JSON.parse(j.stderr) as { error: { code: string } }).error.code, code);
  return r.stderr;
}

const sha = (b: Uint8Array): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Inspect {
  digest: string;
  configDigest: string;
  architecture: string;
  labels: Record<string, string>;
  layers: { digest: string; size: number; mediaType: string; diffId: string; annotations?: Record<string, string> }[];
}

function inspect(ref: string): Inspect {
  return JSON.parse(ingotOk(['--json', 'image', 'inspect', ref])) as Inspect;
}

before(() => {
  work = tmpdir('ingot-image-e2e-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const t = path.join(work, 'tree');
  const w = (p: string, data: string, mode = 0o644): void => {
    fs.mkdirSync(path.dirname(path.join(t, p)), { recursive: true });
    fs.writeFileSync(path.join(t, p), data, { mode });
  };
  w('usr/bin/foo', '#!/bin/sh\necho foo\n', 0o755);
  w('usr/share/doc/foo/README', 'foo docs\n'.repeat(100));
  w('usr/bin/bar', '#!/bin/sh\necho bar\n', 0o755);
  w('usr/bin/bar-copy', '#!/bin/sh\necho bar\n', 0o755);
  w('usr/etc/bar.conf', 'x=1\n');
  w('usr/etc/hostname', 'generated\n');
  w('usr/lib/sysimage/dpkg/status', 'Package: foo\nStatus: install ok installed\n\nPackage: bar\nStatus: install ok installed\n');
  w('usr/lib/sysimage/dpkg/info/foo.list', '/.\n/usr\n/usr/bin\n/usr/bin/foo\n/usr/share/doc/foo/README\n');
  w('usr/lib/sysimage/dpkg/info/bar:amd64.list', '/.\n/usr/bin/bar\n/usr/bin/bar-copy\n/etc/bar.conf\n/var/lib/bar/state\n');
  w('usr/share/factory/var/lib/bar/state', 'state\n');
  w('usr/lib/tmpfiles.d/ingot-var.conf', 'd /var/lib 0755 0 0 - -\nd /var/lib/bar 0750 0 0 - -\nC /var/lib/bar/state 0644 0 0 - /usr/share/factory/var/lib/bar/state\n');
  w('usr/lib/tmpfiles.d/ingot-pkgdb.conf', 'L /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg\n');
  fs.mkdirSync(path.join(t, 'var'));
  fs.mkdirSync(path.join(t, 'tmp'), { mode: 0o1777 });
  fs.chmodSync(path.join(t, 'tmp'), 0o1777);
  fs.symlinkSync('usr/bin', path.join(t, 'bin'));
  commit = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '--branch', 'small', '--timestamp', '@1700000000', t]));
});

after(() => cleanup(work));

test('a package tree builds into one layer per package plus unowned files; /etc and /var are where a container expects them', () => {
  const out = path.join(work, 'img1');
  ingotOk(['image', 'build', '--repo', repo, 'small', '--output', `oci:${out}:v1`, '--cache-dir', path.join(work, 'cache1'), '--env', 'A=1', '--cmd', '/usr/bin/foo', '--label', 'x=y']);
  const idx = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  assert.equal(idx.manifests[0]!.annotations['org.opencontainers.image.ref.name'], 'v1');
  assert.equal(fs.readFileSync(path.join(out, 'oci-layout'), 'utf8'), '{"imageLayoutVersion":"1.0.0"}');
  const i = inspect(`oci:${out}:v1`);
  assert.equal(i.labels['ingot.commit'], commit);
  assert.equal(i.labels['x'], 'y');
  const kinds = i.layers.map((l) => `${l.annotations?.['ingot.layer']}:${l.annotations?.['ingot.components'] ?? l.annotations?.['ingot.unowned'] ?? ''}`);
  assert.ok(kinds.includes('packages:foo') && kinds.includes('packages:bar'), kinds.join(' '));
  assert.ok(kinds.filter((k) => k.startsWith('unowned:')).length >= 1);

  // The bar layer: its files, /etc at /etc, the /var copy, a hardlink for the identical copy.
  const bar = i.layers.find((l) => l.annotations?.['ingot.components'] === 'bar')!;
  const names = listTar(path.join(out, 'blobs/sha256', bar.digest.slice(7)));
  for (const p of ['etc/bar.conf', 'usr/bin/bar', 'usr/share/factory/var/lib/bar/state', 'var/lib/bar/state', 'usr/lib/sysimage/dpkg/info/bar:amd64.list', 'usr/', 'usr/bin/']) {
    assert.ok(names.has(p), `${p} in the bar layer: ${[...names.keys()].join(' ')}`);
  }
  assert.equal(names.get('usr/bin/bar-copy'), '1', 'identical content in one layer is a hardlink');
  assert.ok(!names.has('usr/etc/bar.conf'), '/usr/etc is shown at /etc');
  // The unowned files: the dpkg status, the /var/lib/dpkg link.
  const all = new Map<string, string>();
  for (const l of i.layers) for (const [k, v] of listTar(path.join(out, 'blobs/sha256', l.digest.slice(7)))) all.set(k, v);
  assert.ok(all.has('usr/lib/sysimage/dpkg/status') && all.get('var/lib/dpkg') === '2' && all.has('etc/hostname'));
});

/** Member name → tar type flag, read with tar-stream (an independent reader). */
function listTar(file: string): Map<string, string> {
  const data = require('node:zlib').gunzipSync(fs.readFileSync(file)) as Buffer;
  const out = new Map<string, string>();
  let off = 0;
  while (off + 512 <= data.length) {
    const h = data.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = h.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    out.set(prefix ? `${prefix}/${name}` : name, type === '0' ? '0' : type);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test('reproducible: the same commit from an empty cache gives the same manifest digest; a warm rebuild builds nothing', () => {
  const a = inspect(`oci:${path.join(work, 'img1')}:v1`);
  const out = path.join(work, 'img1b');
  ingotOk(['image', 'build', '--repo', repo, 'small', '--output', `oci:${out}:v1`, '--cache-dir', path.join(work, 'cache2'), '--jobs', '1', '--env', 'A=1', '--cmd', '/usr/bin/foo', '--label', 'x=y']);
  assert.equal(inspect(`oci:${out}:v1`).digest, a.digest);
  const again = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', `oci:${out}:v2`, '--cache-dir', path.join(work, 'cache2'), '--env', 'A=1', '--cmd', '/usr/bin/foo', '--label', 'x=y'])) as { manifestDigest: string; layers: { origin: string }[] };
  assert.equal(again.manifestDigest, a.digest);
  assert.ok(again.layers.every((l) => l.origin === 'cached'), 'every layer came from the cache');
  // Both tags in one layout.
  const idx = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: unknown[] };
  assert.equal(idx.manifests.length, 2);
});

test('oci-archive and docker-archive outputs read back with the same config', () => {
  const a = inspect(`oci:${path.join(work, 'img1')}:v1`);
  const oa = path.join(work, 'img.oci.tar');
  const da = path.join(work, 'img.docker.tar');
  ingotOk(['image', 'build', '--repo', repo, 'small', '--output', `oci-archive:${oa}:v1`, '--cache-dir', path.join(work, 'cache1'), '--env', 'A=1', '--cmd', '/usr/bin/foo', '--label', 'x=y']);
  ingotOk(['image', 'build', '--repo', repo, 'small', '--output', `docker-archive:${da}:small:v1`, '--cache-dir', path.join(work, 'cache1'), '--env', 'A=1', '--cmd', '/usr/bin/foo', '--label', 'x=y']);
  const o = inspect(`oci-archive:${oa}:v1`);
  assert.equal(o.digest, a.digest);
  const d = inspect(`docker-archive:${da}`);
  assert.equal(d.configDigest, a.configDigest);
  assert.deepEqual(d.layers.map((l) => l.digest), a.layers.map((l) => l.digest));
  assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('.ingot-')), [], 'no scratch files left');
});

test('a bootable image imports back to the same commit', () => {
  const out = path.join(work, 'boot');
  ingotOk(['image', 'build', '--repo', repo, 'small', '--output', `oci-archive:${out}:b`, '--bootable', '--cache-dir', path.join(work, 'cache1')]);
  const i = inspect(`oci-archive:${out}:b`);
  assert.equal(i.labels['ostree.commit'], commit);
  assert.equal(i.labels['ostree.final-diffid'], i.layers[i.layers.length - 1]!.diffId);
  const repo2 = path.join(work, 'repo2');
  ingotOk(['repo', 'init', '--repo', repo2, '--mode', 'bare-user']);
  const r = JSON.parse(ingotOk(['--json', 'image', 'import', `oci-archive:${out}:b`, '--repo', repo2, '--branch', 'back'])) as { commit: string };
  assert.equal(r.commit, commit);
  assert.equal(ingotOk(['repo', 'rev-parse', '--repo', repo2, 'back']).trim(), commit);
  ingotOk(['repo', 'fsck', '--repo', repo2]);
});

// ---------------------------------------------------------------------------------------------
// bad input

interface HandLayer {
  tar: Buffer;
  mediaType?: string;
}

async function tarOf(entries: { name: string; type?: string; data?: string; devmajor?: number; linkname?: string }[]): Promise<Buffer> {
  const { pack } = require('tar-stream') as { pack(): NodeJS.ReadWriteStream & { entry(h: object, d?: string | Buffer): void; finalize(): void } };
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((res) => p.on('end', res));
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', mode: 0o644, mtime: new Date(0), ...(e.devmajor !== undefined && { devmajor: e.devmajor, devminor: 3 }), ...(e.linkname && { linkname: e.linkname }) }, e.data ?? '');
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Writes a one-image layout by hand; returns the layout dir. */
function handLayout(name: string, layers: HandLayer[], opts: { labels?: Record<string, string>; manifestPatch?: (m: Record<string, unknown>) => void; indexMediaType?: string } = {}): string {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer): string => {
    const d = sha(b);
    fs.writeFileSync(path.join(dir, 'blobs/sha256', d.slice(7)), b);
    return d;
  };
  const descs = layers.map((l) => ({ mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar', digest: put(l.tar), size: l.tar.length }));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: opts.labels ?? {} }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l.tar)) } }));
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length }, layers: descs };
  opts.manifestPatch?.(manifest);
  const mb = Buffer.from(JSON.stringify(manifest));
  const md = put(mb);
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: opts.indexMediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest: md, size: mb.length, annotations: { 'org.opencontainers.image.ref.name': 't' } }] }));
  return dir;
}

const BOOT = { 'ostree.commit': 'a'.repeat(64) };

function refsOf(r: string): string[] {
  const d = path.join(r, 'refs/heads');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

test('unknown media types in a manifest, a layer or an index entry: IMAGE_MEDIA_TYPE_UNSUPPORTED', async () => {
  const tar = await tarOf([{ name: 'a', data: 'x' }]);
  const l1 = handLayout('mt-layer', [{ tar, mediaType: 'application/x-unknown-layer' }]);
  assert.match(expectError('IMAGE_MEDIA_TYPE_UNSUPPORTED', ['image', 'inspect', `oci:${l1}:t`]), /application\/x-unknown-layer/);
  const l2 = handLayout('mt-manifest', [{ tar }], { manifestPatch: (m) => (m['mediaType'] = 'application/vnd.example.manifest+json') });
  expectError('IMAGE_MEDIA_TYPE_UNSUPPORTED', ['image', 'inspect', `oci:${l2}:t`]);
  const l3 = handLayout('mt-index', [{ tar }], { indexMediaType: 'application/vnd.example.thing' });
  expectError('IMAGE_MEDIA_TYPE_UNSUPPORTED', ['image', 'inspect', `oci:${l3}:t`]);
});

test('a layer whose bytes do not match its digest: DIGEST_MISMATCH, and no ref is written', async () => {
  const tar = await tarOf([{ name: 'a', data: 'x' }]);
  const dir = handLayout('bad-digest', [{ tar }], { labels: BOOT });
  const blob = path.join(dir, 'blobs/sha256', sha(tar).slice(7));
  const b = fs.readFileSync(blob);
  b[600] ^= 0xff;
  fs.writeFileSync(blob, b);
  const r = path.join(work, 'repo-dm');
  ingotOk(['repo', 'init', '--repo', r, '--mode', 'archive']);
  expectError('DIGEST_MISMATCH', ['image', 'import', `oci:${dir}:t`, '--repo', r, '--branch', 'x']);
  assert.deepEqual(refsOf(r), []);
});

test("tar layers with '../' names or device nodes: IMAGE_LAYER_INVALID naming the entry; nothing imported", async () => {
  const r = path.join(work, 'repo-hostile');
  ingotOk(['repo', 'init', '--repo', r, '--mode', 'archive']);
  const dotdot = handLayout('dotdot', [{ tar: await tarOf([{ name: 'usr/' , type: 'directory' }, { name: 'usr/../../evil', data: 'x' }]) }], { labels: BOOT });
  assert.match(expectError('IMAGE_LAYER_INVALID', ['image', 'import', `oci:${dotdot}:t`, '--repo', r, '--branch', 'x']), /usr\/\.\.\/\.\.\/evil/);
  const dev = handLayout('devnode', [{ tar: await tarOf([{ name: 'dev/null', type: 'character-device', devmajor: 1 }]) }], { labels: BOOT });
  assert.match(expectError('IMAGE_LAYER_INVALID', ['image', 'import', `oci:${dev}:t`, '--repo', r, '--branch', 'x']), /device node/);
  const link = handLayout('hardlink-out', [{ tar: await tarOf([{ name: 'a', type: 'link', linkname: '../../etc/shadow' }]) }], { labels: BOOT });
  expectError('IMAGE_LAYER_INVALID', ['image', 'import', `oci:${link}:t`, '--repo', r, '--branch', 'x']);
  assert.deepEqual(refsOf(r), []);
  const tmp = path.join(r, 'tmp');
  assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.startsWith('ingot-staging')) : [], [], 'no staging directory left');
});

test('an image without an encapsulated commit cannot be imported: IMAGE_NOT_BOOTABLE', async () => {
  const dir = handLayout('plain', [{ tar: await tarOf([{ name: 'a', data: 'x' }]) }]);
  const r = path.join(work, 'repo-plain');
  ingotOk(['repo', 'init', '--repo', r, '--mode', 'archive']);
  expectError('IMAGE_NOT_BOOTABLE', ['image', 'import', `oci:${dir}:t`, '--repo', r, '--branch', 'x']);
});

test('bad references and options fail before anything is written', () => {
  expectError('IMAGE_REF_INVALID', ['image', 'inspect', 'tarball:/x']);
  expectError('IMAGE_REF_INVALID', ['image', 'build', '--repo', repo, 'small', '--output', `oci:${work}/x:-bad`]);
  expectError('INVALID_ARGUMENT', ['image', 'build', '--repo', repo, 'small', '--output', `oci:${work}/x`, '--max-layers', '200']);
  expectError('INVALID_ARGUMENT', ['image', 'build', '--repo', repo, 'small', '--output', `oci:${work}/x`, '--compression', 'lz4']);
  expectError('IMAGE_NOT_FOUND', ['image', 'inspect', `oci:${path.join(work, 'img1')}:nosuchtag`]);
  // A failing build (its --base does not exist) leaves no output and no scratch directory.
  expectError('IMAGE_NOT_FOUND', ['image', 'build', '--repo', repo, 'small', '--output', `oci:${work}/never`, '--base', `oci:${work}/nobase:t`]);
  assert.ok(!fs.existsSync(path.join(work, 'never')));
  assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('.ingot-')), []);
  expectError('IMAGE_BASE_INCOMPATIBLE', ['image', 'build', '--repo', repo, 'small', '--output', `oci:${work}/never`, '--base', `oci:${path.join(work, 'plain')}:t`]);
  assert.ok(!fs.existsSync(path.join(work, 'never')));
});

test('--base: the base image layers lie underneath unchanged; only the extra package and the unowned files are added', () => {
  const mk = (name: string, pkgs: string[]): string => {
    const t = path.join(work, `tree-${name}`);
    const w = (p: string, data: string): void => {
      fs.mkdirSync(path.dirname(path.join(t, p)), { recursive: true });
      fs.writeFileSync(path.join(t, p), data);
    };
    for (const p of pkgs) {
      w(`usr/lib/${p}/lib${p}.so`, `${p} library\n`.repeat(50));
      w(`usr/lib/sysimage/dpkg/info/${p}.list`, `/usr/lib/${p}/lib${p}.so\n`);
    }
    w('usr/lib/sysimage/dpkg/status', pkgs.map((p) => `Package: ${p}\nStatus: install ok installed\n`).join('\n'));
    const rows = pkgs.map((p) => `('${p}', '0', '1.0', '1', 'amd64', '${p}', '1.0-1', 'sha256:${'0'.repeat(63)}${pkgs.indexOf(p)}')`).join(', ');
    return firstChecksum(
      ingotOk(['repo', 'commit', '--repo', repo, '--branch', name, '--timestamp', '@1700000000', '--add-metadata-string', 'ingot.family=deb', '--add-metadata', `ingot.packages=@a(ssssssss) [${rows}]`, t]),
    );
  };
  mk('base', ['libc', 'zlib']);
  mk('derived', ['libc', 'zlib', 'db']);
  const base = path.join(work, 'base-img');
  const derived = path.join(work, 'derived-img');
  const cache = path.join(work, 'cache-base');
  ingotOk(['image', 'build', '--repo', repo, 'base', '--output', `oci:${base}:1`, '--cache-dir', cache]);
  ingotOk(['image', 'build', '--repo', repo, 'derived', '--output', `oci:${derived}:1`, '--base', `oci:${base}:1`, '--cache-dir', cache]);
  const b = inspect(`oci:${base}:1`);
  const d = inspect(`oci:${derived}:1`);
  assert.deepEqual(d.layers.slice(0, b.layers.length).map((l) => l.digest), b.layers.map((l) => l.digest), 'the base layers come first, unchanged');
  assert.deepEqual(d.layers.slice(0, b.layers.length).map((l) => l.diffId), b.layers.map((l) => l.diffId));
  const added = d.layers.slice(b.layers.length);
  const comps = added.map((l) => l.annotations?.['ingot.components']).filter(Boolean);
  assert.deepEqual(comps, ['db'], 'only the extra package gets a package layer');
  assert.ok(added.every((l) => l.annotations?.['ingot.layer'] !== 'packages' || l.annotations['ingot.components'] === 'db'));
  assert.equal(d.labels['ingot.commit'], ingotOk(['repo', 'rev-parse', '--repo', repo, 'derived']).trim());
  assert.equal(JSON.parse(d.labels['ingot.packages']!).length, 3);
  // Every file of the derived commit is in the stack: the base's libraries below, db and the new status above.
  const all = new Set<string>();
  for (const l of d.layers) for (const k of listTar(path.join(fs.existsSync(path.join(derived, 'blobs/sha256', l.digest.slice(7))) ? derived : base, 'blobs/sha256', l.digest.slice(7))).keys()) all.add(k);
  for (const p of ['usr/lib/libc/liblibc.so', 'usr/lib/zlib/libzlib.so', 'usr/lib/db/libdb.so', 'usr/lib/sysimage/dpkg/status']) assert.ok(all.has(p), p);
});

test('the cache maps a diff_id to its first blob: the same tar compressed again keeps the digest already pushed', () => {
  const zlib = require('node:zlib') as typeof import('node:zlib');
  const cache = path.join(work, 'cache-diffid');
  const first = path.join(work, 'diffid-1');
  ingotOk(['image', 'build', '--repo', repo, 'small', '--output', `oci:${first}:v1`, '--cache-dir', cache]);
  const i1 = inspect(`oci:${first}:v1`);
  // Pretend the foo layer was compressed by another gzip before: its blob and diff_id record.
  const foo = i1.layers.find((l) => l.annotations?.['ingot.components'] === 'foo')!;
  const other = zlib.gzipSync(zlib.gunzipSync(fs.readFileSync(path.join(cache, 'blobs/sha256', foo.digest.slice(7)))), { level: 9 });
  const otherDigest = sha(other);
  assert.notEqual(otherDigest, foo.digest);
  fs.writeFileSync(path.join(cache, 'blobs/sha256', otherDigest.slice(7)), other);
  const rec = path.join(cache, 'diffids', fs.readdirSync(path.join(cache, 'diffids')).find((n) => n.startsWith(foo.diffId.slice(7)))!);
  fs.writeFileSync(rec, JSON.stringify({ ...JSON.parse(fs.readFileSync(rec, 'utf8')), digest: otherDigest, size: other.length }));
  // A new key format would miss every key: the tars are built again, but the blobs are the recorded ones.
  fs.rmSync(path.join(cache, 'keys'), { recursive: true });
  const second = path.join(work, 'diffid-2');
  const r = JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, 'small', '--output', `oci:${second}:v1`, '--cache-dir', cache])) as { layers: { digest: string; diffId: string }[] };
  const again = r.layers.find((l) => l.diffId === foo.diffId)!;
  assert.equal(again.digest, otherDigest);
  const i2 = inspect(`oci:${second}:v1`);
  assert.deepEqual(i2.layers.map((l) => l.diffId), i1.layers.map((l) => l.diffId));
  assert.deepEqual(i2.layers.filter((l) => l.diffId !== foo.diffId).map((l) => l.digest), i1.layers.filter((l) => l.diffId !== foo.diffId).map((l) => l.digest));
});

/** A small package tree: `pkgs` maps a package to its files (path → content); `unowned` adds files no package lists. */
function packageTree(dir: string, pkgs: Record<string, Record<string, string>>, unowned: Record<string, string>, links: Record<string, string>): void {
  const w = (p: string, data: string): void => {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), data, { mode: p.includes('/bin/') ? 0o755 : 0o644 });
  };
  let status = '';
  for (const [name, files] of Object.entries(pkgs)) {
    status += `Package: ${name}\nStatus: install ok installed\nVersion: ${files['version'] ?? '1'}\n\n`;
    const listed: string[] = [];
    for (const [p, data] of Object.entries(files)) {
      if (p === 'version') continue;
      w(p, data);
      listed.push('/' + p.replace(/^usr\/etc\//, 'etc/'));
    }
    w(`usr/lib/sysimage/dpkg/info/${name}.list`, `/.\n${listed.join('\n')}\n`);
  }
  w('usr/lib/sysimage/dpkg/status', status);
  for (const [p, data] of Object.entries(unowned)) w(p, data);
  for (const [p, target] of Object.entries(links)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.symlinkSync(target, path.join(dir, p));
  }
  w('usr/lib/tmpfiles.d/ingot-pkgdb.conf', 'L /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg\n');
  fs.mkdirSync(path.join(dir, 'var'), { recursive: true });
}

test('--previous: removing and adding packages keeps the other layers and stacks the change on top; umoci unpacks the new tree exactly', () => {
  const unowned = Object.fromEntries(['hostname', 'machine-id', 'ld.so.cache', 'passwd', 'group', 'shadow', 'motd', 'issue'].map((n, i) => [`usr/etc/${n}`, `${n}\n`.repeat(20 + i)]));
  const foo = { 'usr/bin/foo': '#!/bin/sh\necho foo\n', 'usr/share/doc/foo/README': 'foo docs\n'.repeat(50) };
  const bar = { 'usr/bin/bar': '#!/bin/sh\necho bar\n', 'usr/share/doc/bar/README': 'bar docs\n'.repeat(60) };
  const qux = { 'usr/bin/qux': '#!/bin/sh\necho qux\n', 'usr/lib/qux/data': 'qux data\n'.repeat(300) };
  const trees: [string, Record<string, Record<string, string>>, Record<string, string>][] = [
    ['p1', { foo, bar, qux }, { 'usr/etc/alternatives/foo': '../../usr/bin/foo', 'usr/etc/alternatives/bar': '../../usr/bin/bar' }],
    // foo removed, with its alternative link (an unowned entry of a kept layer: whited out).
    ['p2', { bar, qux }, { 'usr/etc/alternatives/bar': '../../usr/bin/bar' }],
    // bar upgraded and baz added: two changed groups, both on top.
    ['p3', { bar: { ...bar, 'usr/bin/bar': '#!/bin/sh\necho bar 2\n', version: '2' }, qux, baz: { 'usr/bin/baz': '#!/bin/sh\necho baz\n' } }, { 'usr/etc/alternatives/bar': '../../usr/bin/bar' }],
  ];
  for (const [ref, pkgs, links] of trees) {
    const t = path.join(work, `tree-${ref}`);
    packageTree(t, pkgs, unowned, links);
    ingotOk(['repo', 'commit', '--repo', repo, '--branch', ref, '--timestamp', '@1700000000', t]);
  }
  const cache = path.join(work, 'cache-prev');
  const build = (ref: string, previous: string | null): { layers: { origin: string; kind: string; components: string[] }[] } =>
    JSON.parse(ingotOk(['--json', 'image', 'build', '--repo', repo, ref, '--output', `oci:${path.join(work, `stack-${ref}`)}:t`, '--cache-dir', cache, ...(previous ? ['--previous', `oci:${path.join(work, `stack-${previous}`)}:t`] : [])])) as never;
  build('p1', null);
  const tree = (layout: string): Map<string, TreeEntry> => {
    const b = path.join(work, 'bundle');
    fs.rmSync(b, { recursive: true, force: true });
    runOk('umoci', ['unpack', '--image', `${layout}:t`, b]);
    const d = describeTree(path.join(b, 'rootfs'), { ignoreXattrs: ['user.rootlesscontainers'] });
    fs.rmSync(b, { recursive: true, force: true });
    return d;
  };
  for (const [ref, prev, changed] of [['p2', 'p1', 1], ['p3', 'p2', 2]] as const) {
    const r = build(ref, prev);
    const before = inspect(`oci:${path.join(work, `stack-${prev}`)}:t`);
    const after = inspect(`oci:${path.join(work, `stack-${ref}`)}:t`);
    const old = new Set(before.layers.map((l) => l.digest));
    const fresh = after.layers.filter((l) => !old.has(l.digest));
    assert.equal(fresh.length, changed, `${ref}: new layers ${fresh.map((l) => JSON.stringify(l.annotations)).join(' ')}`);
    assert.deepEqual(after.layers.slice(after.layers.length - changed).map((l) => l.digest), fresh.map((l) => l.digest), `${ref}: the new layers are on top`);
    assert.equal(r.layers.filter((l) => l.origin === 'built').length, changed);
    const top = listTar(path.join(work, `stack-${ref}`, 'blobs/sha256', fresh[fresh.length - 1]!.digest.slice(7)));
    assert.ok(top.has('usr/lib/sysimage/dpkg/status'), `${ref}: the package database is in the topmost layer`);
    if (ref === 'p2') {
      assert.equal(fresh[0]!.annotations?.['ingot.layer'], 'unowned', 'no group changed: a layer of shadowing entries');
      assert.ok(!after.layers.some((l) => l.annotations?.['ingot.components'] === 'foo'), 'the removed group layer is dropped');
    } else {
      assert.deepEqual(fresh.map((l) => l.annotations?.['ingot.components']).sort(), ['bar', 'baz']);
    }
    // The stack unpacks to what a first build of the same commit unpacks to.
    const first = path.join(work, `first-${ref}`);
    ingotOk(['image', 'build', '--repo', repo, ref, '--output', `oci:${first}:t`, '--cache-dir', cache]);
    assert.deepEqual(treeDiff(tree(first), tree(path.join(work, `stack-${ref}`))), [], ref);
  }
  // p2 whites out foo's alternative link, which p1 left in a layer of unowned files that p2 keeps.
  const p2 = inspect(`oci:${path.join(work, 'stack-p2')}:t`);
  const wh = listTar(path.join(work, 'stack-p2', 'blobs/sha256', p2.layers[p2.layers.length - 1]!.digest.slice(7)));
  assert.ok(wh.has('etc/alternatives/.wh.foo'), [...wh.keys()].join(' '));
});
