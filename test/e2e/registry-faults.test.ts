/**
 * The registry client on a registry that fails: 401, 404, 400, 500 (persistent and passing),
 * reset connections, a blob cut short (resumed with Range) or corrupted, a manifest of unknown
 * type, bearer tokens that are revoked mid-way. Every failure ends in a stable code and a
 * message naming the registry object; retries happen for 5xx and broken connections only, never
 * for other 4xx; nothing half-written appears (no layout directory, no manifest pushed after a
 * failed blob).
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { INGOT, cleanup, tmpdir, type RunResult } from '../helpers.js';
import { isIngotError } from '../../src/core/errors.js';
import { copyImage, openRegistrySink, openRegistrySource, parseRegistryRef, type RegistryOptions } from '../../src/oci/registry/index.js';
import { FakeRegistry, sha256 } from './registry-fake.js';

let fake: FakeRegistry;
let dir: string;
const fast: RegistryOptions = { retries: 2, retryDelayMs: 1 };

before(async () => {
  fake = await FakeRegistry.start();
  dir = tmpdir('ingot-registry-faults-');
});

after(async () => {
  await fake.stop();
  cleanup(dir);
});

beforeEach(() => {
  fake.beforeAuth = null;
  fake.clearFaults();
  fake.auth = { kind: 'none' };
  fake.log.length = 0;
});

/** ingot run asynchronously: the fake registry answers from this process's event loop. */
function ingot(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [INGOT, ...args], { env: { ...process.env, HOME: dir, REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: dir } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('close', (status) => resolve({ status: status ?? 128, stdout, stderr }));
  });
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: string, msg?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(isIngotError(e), `expected an IngotError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (msg) assert.match(e.message, msg);
    return e;
  }
  assert.fail(`expected ${code}`);
}

const ref = (s: string) => parseRegistryRef(`docker://${fake.host}/${s}`);

test('404: an unknown tag is REGISTRY_NOT_FOUND with the registry\'s own error code', async () => {
  const src = await openRegistrySource(ref('nope/app:1'), fast);
  await rejectsWith(src.manifest(), 'REGISTRY_NOT_FOUND', /manifest .*nope\/app:1.*HTTP 404 \(MANIFEST_UNKNOWN/);
  assert.equal(fake.count('GET', /manifests/), 1, '4xx is never retried');
});

test('500 that persists: REGISTRY_SERVER_ERROR after the retries; one that passes is retried away', async () => {
  const img = fake.addImage('app/a', '1', [1000]);
  fake.fault('GET', /manifests\/1$/, { kind: 'status', status: 500 }, 10);
  const src = await openRegistrySource(ref('app/a:1'), fast);
  await rejectsWith(src.manifest(), 'REGISTRY_SERVER_ERROR', /HTTP 500.*after 3 attempts/);
  assert.equal(fake.count('GET', /manifests\/1$/), 3, 'first try and two retries');
  fake.clearFaults();
  fake.fault('GET', /manifests\/1$/, { kind: 'status', status: 503 }, 1);
  fake.fault('GET', /blobs\/sha256/, { kind: 'reset' }, 1);
  const again = await openRegistrySource(ref('app/a:1'), fast);
  assert.equal((await again.manifest()).digest, img.digest);
  assert.ok((await again.blobBytes(img.layers[0]!)).equals(img.layers[0]!.bytes));
  assert.equal(again.client.stats.retries, 2, 'one retry for the 503, one for the reset');
});

test('a blob cut short is resumed with a Range request and verified whole', async () => {
  const img = fake.addImage('app/b', '1', [300_000]);
  fake.fault('GET', /blobs\/sha256/, { kind: 'truncate', at: 100_000 }, 1);
  const src = await openRegistrySource(ref('app/b:1'), fast);
  const data = await readAll(await src.blob(img.layers[0]!));
  assert.ok(data.equals(img.layers[0]!.bytes));
  const gets = fake.log.filter((l) => l.method === 'GET' && l.path.includes('/blobs/'));
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(gets[1]!.range!)![0]) > 0, 'resumed from where the cut came');
});

test('a stalled download times out and resumes; a failed PATCH is repeated within the chunked upload', async () => {
  const img = fake.addImage('app/s', '1', [120_000]);
  fake.fault('GET', /app\/s\/blobs\/sha256/, { kind: 'stall', at: 50_000 }, 1);
  const src = await openRegistrySource(ref('app/s:1'), { ...fast, timeoutMs: 300 });
  assert.ok((await src.blobBytes(img.layers[0]!)).equals(img.layers[0]!.bytes));
  const gets = fake.log.filter((l) => l.method === 'GET' && l.path.includes('/app/s/blobs/'));
  assert.equal(gets.length, 2);
  assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
  fake.fault('PATCH', /dst\/s\/blobs\/uploads\//, { kind: 'status', status: 502 }, 1);
  const sink = await openRegistrySink(ref('dst/s:1'), { ...fast, chunkThreshold: 10_000, chunkSize: 40_000 });
  const r = await copyImage(await openRegistrySource(ref('app/s:1'), fast), sink, { tag: null });
  assert.equal(r.digest, img.digest);
  assert.equal(sink.stats.chunked, 1);
  assert.equal(fake.count('PATCH', /dst\/s\/blobs\/uploads\//), 4, 'three chunks, one repeated');
  assert.equal(fake.count('POST', /dst\/s\/blobs\/uploads\/$/), 2, 'no upload restarted: layer and config sessions only');
  assert.ok(fake.manifests.has('dst/s:1'));
});

test('a blob that is always cut short fails with REGISTRY_UNREACHABLE; corrupt or short content with DIGEST_MISMATCH', async () => {
  const img = fake.addImage('app/c', '1', [200_000]);
  const src = await openRegistrySource(ref('app/c:1'), fast);
  fake.fault('GET', /blobs\/sha256/, { kind: 'truncate', at: 1000 }, 10);
  await rejectsWith(readAll(await src.blob(img.layers[0]!)), 'REGISTRY_UNREACHABLE', /cut short at byte/);
  fake.clearFaults();
  fake.fault('GET', /blobs\/sha256/, { kind: 'corrupt' }, 1);
  await rejectsWith(readAll(await src.blob(img.layers[0]!)), 'DIGEST_MISMATCH', new RegExp(`app/c@${img.layers[0]!.digest}.*expected`));
  fake.fault('GET', /blobs\/sha256/, { kind: 'short', at: 5000 }, 1);
  await rejectsWith(readAll(await src.blob(img.layers[0]!)), 'DIGEST_MISMATCH', /5000 bytes, its descriptor says 200000/);
  await rejectsWith(src.blob({ ...img.layers[0]!, digest: sha256(Buffer.from('absent')) }), 'REGISTRY_NOT_FOUND', /BLOB_UNKNOWN/);
});

test('manifests of unknown or old media types, and a manifest that does not match its digest', async () => {
  fake.addImage('app/d', 'weird', [10], { mediaType: 'application/vnd.example.thing+json' });
  const s1 = await openRegistrySource(ref('app/d:weird'), fast);
  await rejectsWith(s1.manifest(), 'REGISTRY_MANIFEST_UNSUPPORTED', /unknown manifest media type 'application\/vnd.example.thing\+json'/);
  fake.manifests.set('app/d:old', { bytes: Buffer.from('{"schemaVersion":1,"name":"x","fsLayers":[]}'), type: 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
  await rejectsWith((await openRegistrySource(ref('app/d:old'), fast)).manifest(), 'REGISTRY_MANIFEST_UNSUPPORTED', /schema 1/);
  const img = fake.addImage('app/d', 'good', [10]);
  const other = fake.addImage('app/d', 'other', [20]);
  // The registry answers the digest of one image with the bytes of another.
  fake.manifests.set(`app/d:${img.digest}`, { bytes: other.manifest, type: 'application/vnd.oci.image.manifest.v1+json' });
  await rejectsWith((await openRegistrySource(ref(`app/d@${img.digest}`), fast)).manifest(), 'DIGEST_MISMATCH');
});

test('basic auth: no credentials and wrong ones are REGISTRY_AUTH_FAILED; right ones work', async () => {
  const img = fake.addImage('app/e', '1', [10]);
  fake.auth = { kind: 'basic', user: 'u', pass: 'p' };
  await rejectsWith((await openRegistrySource(ref('app/e:1'), { ...fast, env: { HOME: dir } })).manifest(), 'REGISTRY_AUTH_FAILED', /no credentials were found/);
  await rejectsWith((await openRegistrySource(ref('app/e:1'), { ...fast, credentials: { username: 'u', password: 'x' } })).manifest(), 'REGISTRY_AUTH_FAILED', /refused the credentials of 'u'/);
  const ok = await openRegistrySource(ref('app/e:1'), { ...fast, credentials: { username: 'u', password: 'p' } });
  assert.equal((await ok.manifest()).digest, img.digest);
});

test('credential files are read only when the registry asks: a broken one does not stop an anonymous pull', async () => {
  const img = fake.addImage('app/anon', '1', [10]);
  const home = path.join(dir, 'broken-home');
  fs.mkdirSync(path.join(home, '.docker'), { recursive: true });
  fs.writeFileSync(path.join(home, '.docker', 'config.json'), '{ not json');
  const env = { HOME: home };
  assert.equal((await (await openRegistrySource(ref('app/anon:1'), { ...fast, env })).manifest()).digest, img.digest);
  fake.auth = { kind: 'basic', user: 'u', pass: 'p' };
  await rejectsWith((await openRegistrySource(ref('app/anon:1'), { ...fast, env })).manifest(), 'REGISTRY_AUTH_FILE_INVALID', /config\.json: not valid JSON/);
});

test('a push by digest refuses a manifest with another digest', async () => {
  const img = fake.addImage('app/dg', '1', [10]);
  const other = fake.addImage('app/dg', '2', [20]);
  const sink = await openRegistrySink(ref(`dst/dg@${other.digest}`), fast);
  await rejectsWith(copyImage(await openRegistrySource(ref('app/dg:1'), fast), sink, { tag: null }), 'DIGEST_MISMATCH', new RegExp(img.digest));
  assert.equal(fake.count('PUT', /dst\/dg\/manifests\//), 0);
  const ok = await openRegistrySink(ref(`dst/dg@${img.digest}`), fast);
  await copyImage(await openRegistrySource(ref('app/dg:1'), fast), ok, { tag: null });
  assert.ok(fake.manifests.has(`dst/dg:${img.digest}`));
});

test('a blob redirected to another origin is fetched there without the registry credentials', async () => {
  const img = fake.addImage('app/r', '1', [5000]);
  fake.auth = { kind: 'basic', user: 'u', pass: 'p' };
  fake.fault('GET', /app\/r\/blobs\/sha256/, { kind: 'redirect' }, 1);
  const src = await openRegistrySource(ref('app/r:1'), { ...fast, credentials: { username: 'u', password: 'p' } });
  assert.ok((await src.blobBytes(img.layers[0]!)).equals(img.layers[0]!.bytes));
  const storage = fake.log.filter((l) => l.path.startsWith('/storage/'));
  assert.equal(storage.length, 1);
  assert.equal(storage[0]!.authorization, undefined, 'no Authorization header to the other origin');
  assert.ok(fake.log.some((l) => l.status === 307 && l.authorization?.startsWith('Basic ')));
});

test('bearer auth: one token serves many requests; a revoked token is replaced after a 401', async () => {
  const img = fake.addImage('app/f', '1', [10, 20, 30]);
  fake.auth = { kind: 'bearer', user: 'u', pass: 'p' };
  fake.tokenRequests = [];
  const src = await openRegistrySource(ref('app/f:1'), { ...fast, credentials: { username: 'u', password: 'p' } });
  await src.manifest();
  for (const l of img.layers) await src.blobBytes(l);
  assert.deepEqual(fake.tokenRequests.map((t) => t.scopes), [['repository:app/f:pull']]);
  assert.equal(fake.tokenRequests[0]!.authorization, 'Basic ' + Buffer.from('u:p').toString('base64'));
  fake.revokeTokens();
  assert.ok((await src.blobBytes(img.config)).equals(img.config.bytes));
  assert.equal(fake.tokenRequests.length, 2, 'a new token after the 401');
  await rejectsWith((await openRegistrySource(ref('app/f:1'), { ...fast, credentials: { username: 'u', password: 'bad' } })).manifest(), 'REGISTRY_AUTH_FAILED', /token service/);
});

test('bearer auth: a token revoked during a streamed upload is renewed and the blob uploaded again', async () => {
  const img = fake.addImage('app/t', '1', [30_000]);
  fake.auth = { kind: 'bearer', user: 'u', pass: 'p' };
  fake.tokenRequests = [];
  let revoked = false;
  fake.beforeAuth = (method, p) => {
    if (!revoked && method === 'PUT' && p.includes('/dst/t/blobs/uploads/')) {
      revoked = true;
      fake.revokeTokens();
    }
  };
  const creds = { ...fast, credentials: { username: 'u', password: 'p' } };
  const sink = await openRegistrySink(ref('dst/t:1'), creds);
  const r = await copyImage(await openRegistrySource(ref('app/t:1'), creds), sink, { tag: null });
  assert.equal(r.digest, img.digest);
  assert.ok(revoked);
  assert.ok(fake.manifests.has('dst/t:1'));
  // Both blobs were under way with the revoked token; each got its 401 and went up again.
  const refused = fake.log.filter((l) => l.method === 'PUT' && l.path.includes('/dst/t/blobs/uploads/') && l.status === 401).length;
  assert.ok(refused >= 1 && refused <= 2, `${refused} refused PUTs`);
  assert.equal(fake.log.filter((l) => l.method === 'PUT' && l.path.includes('/dst/t/blobs/uploads/') && l.status === 201).length, 2);
  assert.ok(fake.tokenRequests.length >= 2, 'a new token was fetched');
  assert.equal(sink.stats.uploaded, 2);
});

test('push: a failed upload PUT is restarted in a new session; a 400 on the manifest is not retried', async () => {
  const img = fake.addImage('app/g', '1', [50_000]);
  const src = await openRegistrySource(ref('app/g:1'), fast);
  fake.fault('PUT', /blobs\/uploads\//, { kind: 'status', status: 500 }, 1);
  const sink = await openRegistrySink(ref('dst/g:1'), fast);
  const r = await copyImage(src, sink, { tag: null });
  assert.equal(r.digest, img.digest);
  assert.equal(fake.count('POST', /dst\/g\/blobs\/uploads\/$/), 3, 'two blobs, one restarted');
  assert.equal(fake.count('DELETE', /dst\/g\/blobs\/uploads\//), 1, 'the failed session is cancelled');
  assert.ok(fake.manifests.has('dst/g:1'));
  fake.fault('PUT', /manifests\//, { kind: 'status', status: 400, body: '{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}' }, 5);
  const sink2 = await openRegistrySink(ref('dst/g2:1'), fast);
  await rejectsWith(copyImage(await openRegistrySource(ref('app/g:1'), fast), sink2, { tag: null }), 'REGISTRY_REQUEST_REJECTED', /MANIFEST_INVALID/);
  assert.equal(fake.count('PUT', /dst\/g2\/manifests\//), 1);
});

test('push: data that does not match its descriptor is cancelled with DIGEST_MISMATCH and no manifest is pushed', async () => {
  const img = fake.addImage('app/h', '1', [40_000]);
  const sink = await openRegistrySink(ref('dst/h:1'), fast);
  const wrong = Buffer.from(img.layers[0]!.bytes);
  wrong[7] ^= 1;
  await rejectsWith(sink.putBlob(img.layers[0]!, () => Readable.from([wrong])), 'DIGEST_MISMATCH', /the data to upload/);
  assert.ok(![...fake.blobs.keys()].some((k) => k.startsWith('dst/h@')), 'nothing stored');
  assert.equal(fake.count('DELETE', /dst\/h\/blobs\/uploads\//), 1);
  // Through copyImage, from a source whose blob is corrupt on the wire: no manifest PUT.
  fake.fault('GET', /app\/h\/blobs\/sha256/, { kind: 'corrupt' }, 10);
  const sink2 = await openRegistrySink(ref('dst/h2:1'), fast);
  await rejectsWith(copyImage(await openRegistrySource(ref('app/h:1'), fast), sink2, { tag: null }), 'DIGEST_MISMATCH');
  assert.equal(fake.count('PUT', /dst\/h2\/manifests\//), 0);
  assert.ok(!fake.manifests.has('dst/h2:1'));
  // A source stream that fails mid-way names the blob.
  const sink3 = await openRegistrySink(ref('dst/h3:1'), fast);
  const failing = (): Readable => {
    const p = new PassThrough();
    p.write(img.layers[0]!.bytes.subarray(0, 100));
    setImmediate(() => p.destroy(Object.assign(new Error('disk on fire'), { code: 'EIO' })));
    return p;
  };
  await rejectsWith(sink3.putBlob(img.layers[0]!, failing), 'IO_ERROR', new RegExp(img.layers[0]!.digest));
});

test('CLI: failures exit with their code and leave no output layout behind', async () => {
  fake.addImage('app/i', '1', [30_000]);
  const out = path.join(dir, 'out-500');
  fake.fault('GET', /app\/i\/blobs\/sha256/, { kind: 'status', status: 500 }, 100);
  const r500 = await ingot(['image', 'copy', '--retries', '1', `docker://${fake.host}/app/i:1`, `oci:${out}:1`]);
  assert.equal(r500.status, 1);
  assert.match(r500.stderr, /error\[REGISTRY_SERVER_ERROR\].*app\/i\/blobs\/sha256:[0-9a-f]{64}: blob .*HTTP 500/);
  assert.ok(!fs.existsSync(out), 'no layout written');
  fake.clearFaults();
  fake.fault('GET', /app\/i\/blobs\/sha256/, { kind: 'corrupt' }, 100);
  const bad = await ingot(['image', 'copy', `docker://${fake.host}/app/i:1`, `oci:${out}:1`]);
  assert.equal(bad.status, 3);
  assert.match(bad.stderr, /error\[DIGEST_MISMATCH\]/);
  assert.ok(!fs.existsSync(out));
  fake.clearFaults();
  const refused = await ingot(['image', 'copy', `docker://127.0.0.1:1/app/i:1`, `oci:${out}:1`, '--retries', '0']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /error\[REGISTRY_UNREACHABLE\].*connection refused/);
  const badRef = await ingot(['image', 'copy', 'docker://app/i:1', `oci:${out}:1`]);
  assert.equal(badRef.status, 2);
  assert.match(badRef.stderr, /error\[REGISTRY_REF_INVALID\].*'app' is not a registry host/);
  const ok = await ingot(['image', 'copy', `docker://${fake.host}/app/i:1`, `oci:${out}:1`]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(fs.existsSync(path.join(out, 'index.json')));
});
