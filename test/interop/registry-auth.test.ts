/**
 * Authentication against the real docker-registry: htpasswd (Basic) with credentials from an
 * auth.json file, from the flags, and none or wrong ones; and token auth (Bearer), with a small
 * token service written here that the registry trusts through its `auth: token:` config (an
 * RS256 JWT whose x5c certificate is the registry's rootcertbundle, made by openssl). Proves the
 * challenge → token → retry flow, one token per scope set reused across requests, and the
 * two-repository scope a cross-repository mount needs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { INGOT, cleanup, runOk, tmpdir, type RunResult } from '../helpers.js';
import { mounts, skopeoDigest, startRegistry, umociImage, uploads, type RunningRegistry } from './registry-harness.js';

let dir: string;
let basicReg: RunningRegistry;
let tokenReg: RunningRegistry;
let tokenServer: ChildProcess;
let layout: string;

/**
 * ingot run without blocking this process: the token service answers from this process's
 * event loop, which spawnSync would stall.
 */
function ingot(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [INGOT, ...args], { env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('close', (status) => resolve({ status: status ?? 128, stdout, stderr }));
  });
}

async function ingotOk(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await ingot(args, opts);
  if (r.status !== 0) throw new Error(`ingot ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

interface TokenRequest {
  authorized: string | null;
  refused?: string;
  scopes: string[];
}

/** The token service's requests since `from` (a line count). */
function tokenLog(from = 0): TokenRequest[] {
  const f = path.join(dir, 'token.log');
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).slice(from).map((l) => JSON.parse(l) as TokenRequest);
}

async function startTokenServer(): Promise<{ port: number; child: ChildProcess }> {
  const users = path.join(dir, 'users.json');
  fs.writeFileSync(users, JSON.stringify({ bob: 'hunter2' }));
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'registry-token-server.js');
  const child = spawn(process.execPath, [script, path.join(dir, 'key.pem'), path.join(dir, 'cert.pem'), users, path.join(dir, 'token.log')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`token server exited with ${c}`)));
  });
  return { port, child };
}

before(async () => {
  dir = tmpdir('ingot-registry-auth-');
  const htpasswd = path.join(dir, 'htpasswd');
  fs.writeFileSync(htpasswd, runOk('htpasswd', ['-Bbn', 'alice', 's3cret']));
  basicReg = await startRegistry(path.join(dir, 'basic'), { htpasswd });
  runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=ingot-test-token']);
  const ts = await startTokenServer();
  tokenServer = ts.child;
  const port = ts.port;
  tokenReg = await startRegistry(path.join(dir, 'token'), {
    token: { realm: `http://127.0.0.1:${port}/token`, service: 'ingot-test', issuer: 'ingot-test-issuer', rootcertbundle: path.join(dir, 'cert.pem') },
  });
  layout = path.join(dir, 'img');
  umociImage(layout, 'v1', [{ name: 'base', size: 100_000 }]);
});

after(async () => {
  await basicReg?.stop();
  await tokenReg?.stop();
  tokenServer?.kill('SIGTERM');
  if (dir) cleanup(dir);
});

const want = (): string => skopeoDigest(`oci:${layout}:v1`);

function authFile(name: string, host: string, user: string, pass: string): string {
  const f = path.join(dir, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } }));
  return f;
}

test('basic auth: credentials from $REGISTRY_AUTH_FILE push, and skopeo pulls back the same digest', async () => {
  const f = authFile('auth.json', basicReg.host, 'alice', 's3cret');
  await ingotOk(['image', 'copy', `oci:${layout}:v1`, `docker://${basicReg.host}/team/app:v1`], { env: { REGISTRY_AUTH_FILE: f } });
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const d = runOk('sh', ['-c', `skopeo inspect --raw --tls-verify=false --creds alice:s3cret docker://${basicReg.host}/team/app:v1 | sha256sum`]);
  assert.equal(`sha256:${d.split(' ')[0]}`, want());
});

test('basic auth: a repository-scoped key in ${XDG_RUNTIME_DIR}/containers/auth.json, and --src-creds', async () => {
  const xdg = path.join(dir, 'xdg');
  fs.mkdirSync(path.join(xdg, 'containers'), { recursive: true });
  fs.writeFileSync(
    path.join(xdg, 'containers', 'auth.json'),
    JSON.stringify({ auths: { [basicReg.host]: { auth: Buffer.from('alice:wrong').toString('base64') }, [`${basicReg.host}/team`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }),
  );
  const env = { XDG_RUNTIME_DIR: xdg, REGISTRY_AUTH_FILE: '', HOME: path.join(dir, 'home') };
  await ingotOk(['image', 'copy', `oci:${layout}:v1`, `docker://${basicReg.host}/team/app:v1b`], { env });
  // Outside team/, the host-wide (wrong) entry applies.
  const r = await ingot(['image', 'copy', `oci:${layout}:v1`, `docker://${basicReg.host}/elsewhere/app:v1`], { env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error\[REGISTRY_AUTH_FAILED\].*refused the credentials of 'alice'/);
  const out = path.join(dir, 'pulled-basic');
  await ingotOk(['image', 'copy', '--src-creds', 'alice:s3cret', `docker://${basicReg.host}/team/app:v1b`, `oci:${out}:v1`], { env: { HOME: path.join(dir, 'home') } });
  assert.equal(skopeoDigest(`oci:${out}:v1`), want());
});

test('basic auth: no credentials or a wrong password fail with REGISTRY_AUTH_FAILED and write nothing', async () => {
  const env = { HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: path.join(dir, 'nothing'), REGISTRY_AUTH_FILE: '' };
  const none = await ingot(['image', 'copy', `docker://${basicReg.host}/team/app:v1`, `oci:${path.join(dir, 'x1')}:v1`], { env });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /error\[REGISTRY_AUTH_FAILED\].*requires authentication and no credentials were found/);
  const wrong = await ingot(['image', 'copy', '--creds', 'alice:nope', `docker://${basicReg.host}/team/app:v1`, `oci:${path.join(dir, 'x2')}:v1`], { env });
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /error\[REGISTRY_AUTH_FAILED\]/);
  assert.ok(!fs.existsSync(path.join(dir, 'x1')) && !fs.existsSync(path.join(dir, 'x2')));
  const bad = authFile('bad/auth.json', basicReg.host, 'x', 'y');
  fs.writeFileSync(bad, '{"auths": {');
  const badFile = await ingot(['image', 'copy', '--authfile', bad, `docker://${basicReg.host}/team/app:v1`, `oci:${path.join(dir, 'x3')}:v1`], { env });
  assert.equal(badFile.status, 1);
  assert.match(badFile.stderr, /error\[REGISTRY_AUTH_FILE_INVALID\].*not valid JSON/);
});

test('token auth: challenge, one token per scope set, push and pull; skopeo agrees on the digest', async () => {
  const t0 = tokenLog().length;
  const f = authFile('token-auth.json', tokenReg.host, 'bob', 'hunter2');
  await ingotOk(['image', 'copy', `oci:${layout}:v1`, `docker://${tokenReg.host}/svc/app:v1`, '--authfile', f]);
  // One token for repository:svc/app:pull,push serves every HEAD, POST, PUT of the push.
  assert.deepEqual(tokenLog(t0).map((t) => [t.authorized, t.scopes.join(' ')]), [['bob', 'repository:svc/app:pull,push']]);
  const pushRequests = tokenReg.requests().filter((l) => l.uri.startsWith('/v2/svc/app/') && l.status !== 401);
  assert.ok(pushRequests.length >= 5, 'HEADs, upload sessions and the manifest all carried the token');
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const d = runOk('sh', ['-c', `skopeo inspect --raw --tls-verify=false --creds bob:hunter2 docker://${tokenReg.host}/svc/app:v1 | sha256sum`]);
  assert.equal(`sha256:${d.split(' ')[0]}`, want());
  // Anonymous pull: the token service grants pull to anyone.
  const t1 = tokenLog().length;
  const out = path.join(dir, 'pulled-token');
  await ingotOk(['image', 'copy', `docker://${tokenReg.host}/svc/app:v1`, `oci:${out}:v1`], { env: { HOME: path.join(dir, 'home'), REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: path.join(dir, 'nothing') } });
  assert.deepEqual(tokenLog(t1).map((t) => [t.authorized, t.scopes.join(' ')]), [[null, 'repository:svc/app:pull']]);
  assert.equal(skopeoDigest(`oci:${out}:v1`), want());
});

test('token auth: a cross-repository mount asks one token for both repositories and mounts', async () => {
  const t0 = tokenLog().length;
  const before = tokenReg.requests().length;
  const out = JSON.parse(await ingotOk(['image', 'copy', '--creds', 'bob:hunter2', `docker://${tokenReg.host}/svc/app:v1`, `docker://${tokenReg.host}/svc/copy:v1`, '--json'])) as { mounted: number };
  assert.equal(out.mounted, 2);
  const lines = tokenReg.requests().slice(before);
  assert.equal(mounts(lines).length, 2);
  assert.equal(uploads(lines).length, 0);
  assert.ok(
    tokenLog(t0).some((t) => t.scopes.includes('repository:svc/copy:pull,push') && t.scopes.includes('repository:svc/app:pull')),
    `a token covering both repositories was requested: ${JSON.stringify(tokenLog(t0))}`,
  );
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const d = runOk('sh', ['-c', `skopeo inspect --raw --tls-verify=false --creds bob:hunter2 docker://${tokenReg.host}/svc/copy:v1 | sha256sum`]);
  assert.equal(`sha256:${d.split(' ')[0]}`, want());
});

test('token auth: an anonymous push is refused with a clear error, and a wrong password at the token service too', async () => {
  const env = { HOME: path.join(dir, 'home'), REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: path.join(dir, 'nothing') };
  const anon = await ingot(['image', 'copy', `oci:${layout}:v1`, `docker://${tokenReg.host}/svc/anon:v1`], { env });
  assert.equal(anon.status, 1);
  assert.match(anon.stderr, /error\[REGISTRY_AUTH_FAILED\]/);
  const wrong = await ingot(['image', 'copy', '--creds', 'bob:nope', `oci:${layout}:v1`, `docker://${tokenReg.host}/svc/anon:v1`], { env });
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /error\[REGISTRY_AUTH_FAILED\].*token service.*refused the credentials of 'bob'/);
});
