/**
 * Tables for the registry client's pure parts: references, WWW-Authenticate challenges,
 * credential file lookup (precedence, repository-scoped keys, bad entries), and the choice of
 * a platform from an index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isIngotError } from '../../src/core/errors.js';
import { parseRegistryRef, formatRegistryRef, isLoopbackHost } from '../../src/oci/registry/ref.js';
import { credentialsFromFile, defaultAuthFiles, findCredentials, parseChallenges } from '../../src/oci/registry/auth.js';
import { choosePlatform } from '../../src/oci/registry/source.js';
import { cleanup, tmpdir } from '../helpers.js';

const D = 'sha256:' + 'ab'.repeat(32);

test('parseRegistryRef: valid references', () => {
  const cases: [string, [string, string, string | null, string | null]][] = [
    ['docker://127.0.0.1:5000/team/app:1.0', ['127.0.0.1:5000', 'team/app', '1.0', null]],
    ['127.0.0.1:5000/team/app', ['127.0.0.1:5000', 'team/app', 'latest', null]],
    ['docker://localhost/app', ['localhost', 'app', 'latest', null]],
    ['docker://registry.example.test/a/b/c:v_1-x.2', ['registry.example.test', 'a/b/c', 'v_1-x.2', null]],
    [`docker://registry.example.test/app@${D}`, ['registry.example.test', 'app', null, D]],
    [`docker://registry.example.test/app:1@${D}`, ['registry.example.test', 'app', null, D]],
    ['docker://[::1]:5000/my-app__x.y:tag', ['[::1]:5000', 'my-app__x.y', 'tag', null]],
  ];
  for (const [s, [host, repository, tag, digest]] of cases) {
    assert.deepEqual(parseRegistryRef(s), { host, repository, tag, digest }, s);
  }
  assert.equal(formatRegistryRef(parseRegistryRef('127.0.0.1:5000/team/app')), 'docker://127.0.0.1:5000/team/app:latest');
});

test('parseRegistryRef: refused references name the problem', () => {
  const cases: [string, RegExp][] = [
    ['docker://team/app:1', /'team' is not a registry host/],
    ['docker://app', /no registry host/],
    ['docker://host.test/', /no repository name/],
    ['docker://host.test/Team/app', /invalid component 'Team'/],
    ['docker://host.test/a//b', /invalid component ''/],
    ['docker://host.test/app:-x', /'-x' is not a valid tag/],
    [`docker://host.test/app:${'x'.repeat(129)}`, /is not a valid tag/],
    ['docker://host.test/app@sha256:ABC', /is not a digest/],
    [`docker://host.test/app@sha256:${'A'.repeat(64)}`, /is not a digest/],
    ['docker://host.test:99999/app', /port 99999 is out of range/],
    ['oci://x/y', /only the docker:\/\/ transport/],
  ];
  for (const [s, re] of cases) {
    assert.throws(
      () => parseRegistryRef(s),
      (e: unknown) => isIngotError(e, 'REGISTRY_REF_INVALID') && re.test(e.message),
      s,
    );
  }
});

test('isLoopbackHost', () => {
  for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost:80', '[::1]:5000', 'localhost']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['registry.example.test', '10.0.0.1:5000', '[fe80::1]:5000', 'localhost.example.test']) assert.ok(!isLoopbackHost(h), h);
});

test('parseChallenges: Bearer with quoted parameters, Basic, several in one header', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.example.test/token",service="registry.example.test",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example.test/token', service: 'registry.example.test', scope: 'repository:a/b:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseChallenges('Basic realm=simple, Bearer realm="x\\"y",error=insufficient_scope'), [
    { scheme: 'basic', params: { realm: 'simple' } },
    { scheme: 'bearer', params: { realm: 'x"y', error: 'insufficient_scope' } },
  ]);
});

test('credentials: search order, repository-scoped keys, URL keys, bad files', () => {
  const dir = tmpdir('ingot-registry-creds-');
  try {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const xdg = path.join(dir, 'run');
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(xdg, 'containers'), { recursive: true });
    fs.mkdirSync(path.join(home, '.docker'), { recursive: true });
    fs.writeFileSync(path.join(xdg, 'containers', 'auth.json'), JSON.stringify({ auths: { 'reg.test': { auth: b64('xdg:1') }, 'reg.test/team': { auth: b64('team:2') }, 'reg.test/team/app': { auth: b64('app:3') } } }));
    fs.writeFileSync(path.join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'https://other.test/v1/': { auth: b64('docker:4') }, 'reg.test': { auth: b64('never:0') } }, credHelpers: { 'x.test': 'pass' } }));
    const env = { HOME: home, XDG_RUNTIME_DIR: xdg };
    assert.deepEqual(defaultAuthFiles({ ...env, REGISTRY_AUTH_FILE: '/r.json' }), ['/r.json', path.join(xdg, 'containers', 'auth.json'), path.join(home, '.config', 'containers', 'auth.json'), path.join(home, '.docker', 'config.json')]);
    assert.deepEqual(findCredentials('reg.test', 'lib/x', { env }), { username: 'xdg', password: '1' });
    assert.deepEqual(findCredentials('reg.test', 'team/x', { env }), { username: 'team', password: '2' });
    assert.deepEqual(findCredentials('reg.test', 'team/app', { env }), { username: 'app', password: '3' });
    assert.deepEqual(findCredentials('other.test', 'a', { env }), { username: 'docker', password: '4' });
    assert.equal(findCredentials('none.test', 'a', { env }), null);
    const pw = path.join(dir, 'colon.json');
    fs.writeFileSync(pw, JSON.stringify({ auths: { 'reg.test': { auth: b64('u:pa:ss') } } }));
    assert.deepEqual(credentialsFromFile(pw, 'reg.test', 'a'), { username: 'u', password: 'pa:ss' });
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ auths: { 'reg.test': { auth: b64('nocolon') } } }));
    assert.throws(() => credentialsFromFile(bad, 'reg.test', 'a'), (e: unknown) => isIngotError(e, 'REGISTRY_AUTH_FILE_INVALID') && /'reg.test' is not base64 of USER:PASSWORD/.test(e.message));
    fs.writeFileSync(bad, '[1,2');
    assert.throws(() => credentialsFromFile(bad, 'reg.test', 'a'), (e: unknown) => isIngotError(e, 'REGISTRY_AUTH_FILE_INVALID'));
    assert.throws(() => findCredentials('reg.test', 'a', { authFile: path.join(dir, 'missing.json') }), (e: unknown) => isIngotError(e, 'REGISTRY_AUTH_FILE_INVALID') && /does not exist/.test(e.message));
  } finally {
    cleanup(dir);
  }
});

test('choosePlatform: os/arch, variants, attestations skipped, a clear error otherwise', () => {
  const m = (architecture: string, variant?: string, os = 'linux') => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 1, platform: { os, architecture, ...(variant && { variant }) } });
  const list = [m('amd64'), m('arm', 'v6'), m('arm', 'v7'), m('arm64', 'v8'), m('unknown', undefined, 'unknown')];
  assert.equal(choosePlatform('x', list, { os: 'linux', architecture: 'amd64' }), list[0]);
  assert.equal(choosePlatform('x', list, { os: 'linux', architecture: 'arm', variant: 'v7' }), list[2]);
  assert.equal(choosePlatform('x', list, { os: 'linux', architecture: 'arm64' }), list[3]);
  const single = [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D, size: 1 }];
  assert.equal(choosePlatform('x', single, { os: 'linux', architecture: 'amd64' }), single[0]);
  assert.throws(
    () => choosePlatform('x', list, { os: 'linux', architecture: 's390x' }),
    (e: unknown) => isIngotError(e, 'REGISTRY_PLATFORM_NOT_FOUND') && /has: linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8\)/.test(e.message),
  );
});
