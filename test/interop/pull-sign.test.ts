/**
 * Signed pulls: commits made by the real ostree, signed in ostree's ed25519 layout
 * (`ostree.sign.ed25519` aay in the detached metadata, and in summary.sig) with keys made by
 * node:crypto. The installed ostree cannot make ed25519 signatures (it is built without
 * libsodium), so the tests sign with the same primitive libsodium uses (plain Ed25519 over the
 * exact object bytes).
 *
 * A good signature verifies; a tampered commit, detached metadata or summary, a signature by an
 * untrusted or revoked key, and a missing signature are refused with their codes (exit 3), and
 * nothing of the refused commit becomes visible: no ref, no object, no commitpartial, no staging.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingotOk, ostree, ostreeOk, runOk, tmpdir } from '../helpers.js';
import { FixtureServer } from '../http-fixture.js';
import { assertOstreeFsckClean } from './trees.js';
import { ingotAsync, keyPair, objectFile, pullStagings, repoListing, signCommit, signSummary, type KeyPair } from './pull-fixtures.js';

suite('ingot pull verifies ed25519 signatures before fetching any tree object', () => {
  let tmp: string;
  let servers: string;
  let server: FixtureServer;
  let A: KeyPair;
  let B: KeyPair;
  let c1: string;
  const keyFile = (k: KeyPair, name: string): string => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, `${k.pubB64}\n`);
    return p;
  };

  /** A served archive repository `name` (a copy of the signed one), changed by `edit`. */
  const variant = (name: string, edit: (repo: string) => void): string => {
    const dir = path.join(servers, name);
    runOk('cp', ['-a', path.join(servers, 'good'), dir]);
    edit(dir);
    return `${server.url}/${name}`;
  };

  before(async () => {
    tmp = tmpdir('ingot-pull-sign-');
    A = keyPair();
    B = keyPair();
    const tree = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(tree, 'usr/bin'), { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(tree, 'usr/bin', `tool${i}`), `#!/bin/sh\necho ${i}\n`, { mode: 0o755 });
    fs.symlinkSync('usr/bin', path.join(tree, 'bin'));
    servers = path.join(tmp, 'servers');
    const good = path.join(servers, 'good');
    fs.mkdirSync(servers);
    ostreeOk(good, ['init', '--mode=archive']);
    c1 = ostreeOk(good, ['commit', '-b', 'main', '--timestamp=@1600000000', '-s', 'signed', tree]).trim();
    signCommit(good, c1, A);
    ostreeOk(good, ['summary', '-u']);
    signSummary(good, A);
    server = await FixtureServer.start(servers);
  });

  after(async () => {
    await server?.close();
    if (tmp) cleanup(tmp);
  });

  /** A fresh bare-user repository with remote `origin` at `url` trusting `key`. */
  const client = (name: string, url: string, key: KeyPair | null, extra: string[] = []): string => {
    const repo = path.join(tmp, `client-${name}`);
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'bare-user']);
    ingotOk(['remote', 'add', '--repo', repo, ...(key ? ['--verification-key', key.pubB64] : []), ...extra, 'origin', url]);
    return repo;
  };

  const assertRefused = async (repo: string, code: string, args: string[] = []): Promise<string> => {
    const before = repoListing(repo);
    const treeRequests = server.log.length;
    const r = await ingotAsync(['pull', '--repo', repo, ...args, 'origin', 'main']);
    assert.equal(r.status, 3, `exit status 3 for ${code}:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`\\[${code}\\]`), r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.deepEqual(repoListing(repo), before, 'nothing of the refused commit is in the repository');
    assert.deepEqual(pullStagings(repo), [], 'nothing staged');
    const fetched = server.log.slice(treeRequests).map((l) => l.path);
    assert.ok(!fetched.some((p) => /\.(dirtree|dirmeta|filez)$/.test(p)), `no tree object fetched before the refusal: ${fetched.join(' ')}`);
    return r.stderr;
  };

  it('a commit and summary signed by the trusted key verify; the pull completes', async () => {
    const repo = client('good', `${server.url}/good`, A);
    const r = await ingotAsync(['--json', 'pull', '--repo', repo, 'origin', 'main']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { signatureChecked: boolean; refs: { signedBy: string }[] };
    assert.equal(res.signatureChecked, true);
    assert.equal(res.refs[0]!.signedBy, A.pubB64);
    assert.ok(fs.existsSync(objectFile(repo, c1, 'commitmeta')), 'the detached metadata (signatures) is kept');
    assertOstreeFsckClean(ostree(repo, ['fsck']), 'signed pull');
    const text = await ingotAsync(['pull', '--repo', repo, 'origin', 'main']);
    assert.match(text.stdout, /already at/);
  });

  it('a remote without keys pulls the same commit unchecked', async () => {
    const repo = client('nokey', `${server.url}/good`, null);
    const r = await ingotAsync(['--json', 'pull', '--repo', repo, 'origin', 'main']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { signatureChecked: boolean }).signatureChecked, false);
  });

  it('refuses a commit signed by an untrusted key', async () => {
    const repo = client('untrusted', `${server.url}/good`, B);
    // The summary is signed by A too: with B trusted, the summary is refused first.
    const stderr = await assertRefused(repo, 'SIGNATURE_BAD');
    assert.match(stderr, /summary/);
    const url = variant('untrusted-nosumsig', (d) => fs.rmSync(path.join(d, 'summary.sig')));
    const repo2 = client('untrusted2', url, B);
    const stderr2 = await assertRefused(repo2, 'SIGNATURE_BAD');
    assert.match(stderr2, new RegExp(`commit ${c1}`));
  });

  it('refuses a commit signed only by a revoked key', async () => {
    const url = variant('revoked', (d) => fs.rmSync(path.join(d, 'summary.sig')));
    const repo = client('revoked', url, A);
    await assertRefused(repo, 'SIGNATURE_REVOKED', ['--revoked-keys-file', keyFile(A, 'revoked.ed25519')]);
  });

  it('refuses a commit without a signature when the remote has a key', async () => {
    const url = variant('unsigned', (d) => {
      fs.rmSync(objectFile(d, c1, 'commitmeta'));
      fs.rmSync(path.join(d, 'summary.sig'));
    });
    await assertRefused(client('unsigned', url, A), 'SIGNATURE_MISSING');
  });

  it('refuses tampered detached metadata', async () => {
    const url = variant('tampered-meta', (d) => {
      const p = objectFile(d, c1, 'commitmeta');
      const b = fs.readFileSync(p);
      // The variant (the signatures) follows the key name; flip a byte inside the 64 signature bytes.
      const at = b.indexOf(Buffer.from('ostree.sign.ed25519')) + 'ostree.sign.ed25519'.length + 12;
      b[at] = b[at]! ^ 0x01;
      fs.writeFileSync(p, b);
    });
    await assertRefused(client('tampered-meta', url, A), 'SIGNATURE_BAD');
  });

  it('refuses a tampered commit (a different commit carrying the old signature)', async () => {
    const url = variant('tampered-commit', (d) => {
      const other = path.join(tmp, 'other-tree');
      fs.mkdirSync(other, { recursive: true });
      fs.writeFileSync(path.join(other, 'evil'), 'replaced\n');
      const forged = ostreeOk(d, ['commit', '-b', 'main', '--timestamp=@1600000500', '-s', 'signed', other]).trim();
      fs.copyFileSync(objectFile(d, c1, 'commitmeta'), objectFile(d, forged, 'commitmeta'));
      ostreeOk(d, ['summary', '-u']);
      signSummary(d, A); // even a correctly signed summary cannot vouch for the commit
    });
    await assertRefused(client('tampered-commit', url, A), 'SIGNATURE_BAD');
  });

  it('refuses a commit object whose bytes were altered in transit', async () => {
    const repo = client('altered', `${server.url}/good`, A);
    const bad = fs.readFileSync(objectFile(path.join(servers, 'good'), c1, 'commit'));
    bad[bad.length - 40] = bad[bad.length - 40]! ^ 0xff;
    server.fault(`/good/objects/${c1.slice(0, 2)}/${c1.slice(2)}.commit`, { kind: 'body', data: bad }, Infinity);
    try {
      await assertRefused(repo, 'PULL_OBJECT_CORRUPT');
    } finally {
      server.clearFaults();
    }
  });

  it('refuses a tampered summary (its signature no longer matches)', async () => {
    const url = variant('tampered-summary', (d) => {
      const sig = fs.readFileSync(path.join(d, 'summary.sig'));
      ostreeOk(d, ['refs', '--create', 'extra', c1]);
      ostreeOk(d, ['summary', '-u']);
      fs.writeFileSync(path.join(d, 'summary.sig'), sig);
    });
    const stderr = await assertRefused(client('tampered-summary', url, A), 'SIGNATURE_BAD');
    assert.match(stderr, /summary/);
  });

  it('refuses an unsigned summary when the remote requires a signed one', async () => {
    const url = variant('unsigned-summary', (d) => fs.rmSync(path.join(d, 'summary.sig')));
    await assertRefused(client('unsigned-summary', url, A, ['--sign-verify-summary']), 'SIGNATURE_MISSING');
  });
});
