/**
 * ed25519 signatures against the real ostree 2022.7 (built with libsodium by
 * scripts/build-ostree-sodium.sh: Debian's build has no ed25519): `ostree sign --verify` accepts
 * what ingot signs, ingot accepts what `ostree sign` signs, the detached metadata is byte for
 * byte ostree's, and `ostree pull` with sign-verify, sign-verify-summary and
 * verification-ed25519-key takes signed commits and summaries from `ingot serve` and refuses a
 * wrong key or a tampered signature. Also against libsodium directly and GLib's GVariant reader,
 * and ostree's test signer (`dummy`) for mixed containers. Then every refusal of
 * `ingot sign --verify`, with its code.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, firstChecksum, ingot, ingotOk, ostree, ostreeOk, run, runOk, tmpdir } from '../helpers.js';
import { appendSignature } from '../../src/repo/sign.js';
import { runAsync } from './repo-tools.js';
import { request, startIngotServe } from './serve-helpers.js';

const PY = `
import ctypes, base64, sys
import gi
gi.require_version('GLib', '2.0')
from gi.repository import GLib
l = ctypes.CDLL('libsodium.so.23')
assert l.sodium_init() >= 0
cmd = sys.argv[1]
def b64(b): return base64.b64encode(b).decode()
if cmd == 'keypair':
    pk = ctypes.create_string_buffer(32); sk = ctypes.create_string_buffer(64)
    l.crypto_sign_keypair(pk, sk); print(b64(sk.raw)); print(b64(pk.raw))
elif cmd == 'sign':
    sk = base64.b64decode(sys.argv[2]); m = open(sys.argv[3], 'rb').read()
    sig = ctypes.create_string_buffer(64)
    l.crypto_sign_detached(sig, None, m, ctypes.c_ulonglong(len(m)), sk); print(b64(sig.raw))
elif cmd == 'verify':
    pk = base64.b64decode(sys.argv[2]); sig = base64.b64decode(sys.argv[3]); m = open(sys.argv[4], 'rb').read()
    sys.exit(0 if l.crypto_sign_verify_detached(sig, m, ctypes.c_ulonglong(len(m)), pk) == 0 else 1)
elif cmd == 'sigs':
    v = GLib.Variant.new_from_bytes(GLib.VariantType('a{sv}'), GLib.Bytes.new(open(sys.argv[2], 'rb').read()), False)
    print('normal' if v.is_normal_form() else 'not-normal')
    print(' '.join(sorted(v.keys())))
    s = v.lookup_value(sys.argv[3], GLib.VariantType('aay'))
    for i in range(s.n_children() if s else 0): print(b64(bytes(s.get_child_value(i).get_data_as_bytes().get_data())))
`;

function py(args: string[]): string {
  return runOk('/usr/bin/python3', ['-c', PY, ...args]);
}

/**
 * ostree 2022.7 built from Debian's source package with libsodium (scripts/build-ostree-sodium.sh,
 * run by `scripts/setup.sh --peers`): Debian's own build has no ed25519.
 */
const OSTREE_ED25519 = path.join(process.env['INGOT_OSTREE_SODIUM'] ?? '/opt/ingot/ostree-sodium', 'bin', 'ostree');

function errorCode(r: { stderr: string }): string {
  return (JSON.parse(r.stderr) as { error: { code: string } }).error.code;
}

suite('ed25519 signatures: ingot, libsodium, GLib and ostree agree', () => {
  let tmp = '';
  let repo = '';
  let commit = '';
  let objPath = (c: string, ext: string): string => path.join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.${ext}`);
  const key = (name: string): { secret: string; pub: string } => ({ secret: path.join(tmp, `${name}.secret`), pub: path.join(tmp, `${name}.pub`) });

  before(() => {
    assert.ok(fs.existsSync(OSTREE_ED25519), `${OSTREE_ED25519} is missing: run 'bash scripts/setup.sh --peers' (it builds ostree with ed25519)`);
    assert.match(runOk(OSTREE_ED25519, ['--version']), /sign-ed25519/);
    tmp = tmpdir('ingot-sign-');
    repo = path.join(tmp, 'repo');
    const src = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(src, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(src, 'usr/bin/app'), 'signed content\n');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    commit = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'signed', '-s', 'to sign', src]));
    for (const k of ['a', 'b', 'c']) ingotOk(['keygen', '--output', path.join(tmp, k)]);
    objPath = (c, ext) => path.join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.${ext}`);
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  it('keygen writes ostree key files (base64 seed+public, base64 public) that libsodium uses', () => {
    const { secret, pub } = key('a');
    const sk = Buffer.from(fs.readFileSync(secret, 'utf8').trim(), 'base64');
    const pk = Buffer.from(fs.readFileSync(pub, 'utf8').trim(), 'base64');
    assert.equal(sk.length, 64);
    assert.equal(pk.length, 32);
    assert.deepEqual(sk.subarray(32), pk, 'the secret key ends with its public key (libsodium layout)');
    assert.equal(fs.statSync(secret).mode & 0o777, 0o600);
    const msg = path.join(tmp, 'msg');
    fs.writeFileSync(msg, 'hello');
    const sig = py(['sign', sk.toString('base64'), msg]).trim();
    assert.equal(run('/usr/bin/python3', ['-c', PY, 'verify', pk.toString('base64'), sig, msg]).status, 0);
  });

  it('a commit signed by ingot: GLib reads the detached metadata, libsodium verifies the signature', () => {
    const out = ingotOk(['sign', '--repo', repo, 'signed', '--keys-file', key('a').secret]);
    assert.match(out, /signed [0-9a-f]{64} with key/);
    const lines = py(['sigs', objPath(commit, 'commitmeta'), 'ostree.sign.ed25519']).trim().split('\n');
    assert.equal(lines[0], 'normal');
    assert.equal(lines[1], 'ostree.sign.ed25519');
    assert.equal(lines.length, 3);
    const pk = fs.readFileSync(key('a').pub, 'utf8').trim();
    assert.equal(run('/usr/bin/python3', ['-c', PY, 'verify', pk, lines[2]!, objPath(commit, 'commit')]).status, 0, 'libsodium verifies');
    // ...and not over other bytes.
    assert.equal(run('/usr/bin/python3', ['-c', PY, 'verify', pk, lines[2]!, path.join(repo, 'config')]).status, 1);
    const v = ingotOk(['sign', '--verify', '--repo', repo, 'signed', '--keys-file', key('a').pub]);
    assert.match(v, new RegExp(`verified with key '${pk.replace(/[+/]/g, '\\$&')}'`));
  });

  it('a commit signed by libsodium verifies with ingot; ingot makes the same signature from the same key', () => {
    const [sk, pk] = py(['keypair']).trim().split('\n') as [string, string];
    fs.writeFileSync(path.join(tmp, 'sodium.secret'), sk + '\n');
    fs.writeFileSync(path.join(tmp, 'sodium.pub'), pk + '\n');
    const sodiumSig = py(['sign', sk, objPath(commit, 'commit')]).trim();
    ingotOk(['sign', '--repo', repo, commit, '--keys-file', path.join(tmp, 'sodium.secret')]);
    const sigs = py(['sigs', objPath(commit, 'commitmeta'), 'ostree.sign.ed25519']).trim().split('\n').slice(2);
    assert.equal(sigs.length, 2, 'appended to the existing array');
    assert.equal(sigs[1], sodiumSig, 'byte-identical to libsodium crypto_sign_detached');
    ingotOk(['sign', '--verify', '--repo', repo, commit, '--keys-file', path.join(tmp, 'sodium.pub')]);
  });

  it("ostree's test signer (dummy) lays out the same container; ingot keeps its entries and ostree still reads them", () => {
    const lay = path.join(tmp, 'lay');
    ostreeOk(lay, ['init', '--mode=archive']);
    const t = path.join(tmp, 'laytree');
    fs.mkdirSync(t);
    fs.writeFileSync(path.join(t, 'f'), 'x');
    ostreeOk(lay, ['commit', '-b', 'x', t]);
    const c = ostreeOk(lay, ['rev-parse', 'x']).trim();
    const meta = path.join(lay, 'objects', c.slice(0, 2), `${c.slice(2)}.commitmeta`);
    const env = { OSTREE_DUMMY_SIGN_ENABLED: '1' };
    runOk('ostree', [`--repo=${lay}`, 'sign', '-s', 'dummy', 'x', 'keyA'], { env });
    const one = fs.readFileSync(meta);
    runOk('ostree', [`--repo=${lay}`, 'sign', '-s', 'dummy', 'x', 'keyBB'], { env });
    const two = fs.readFileSync(meta);
    const mine1 = appendSignature(null, Buffer.from('keyA'), 'test', 'ostree.sign.dummy');
    assert.deepEqual(mine1, one);
    assert.deepEqual(appendSignature(mine1, Buffer.from('keyBB'), 'test', 'ostree.sign.dummy'), two);
    // ingot adds its ed25519 signature next to ostree's; ostree and GLib still read both.
    ingotOk(['sign', '--repo', lay, 'x', '--keys-file', key('a').secret]);
    assert.equal(run('ostree', [`--repo=${lay}`, 'sign', '--verify', '-s', 'dummy', 'x', 'keyBB'], { env }).status, 0);
    const keys = py(['sigs', meta, 'ostree.sign.ed25519']).trim().split('\n');
    assert.equal(keys[1], 'ostree.sign.dummy ostree.sign.ed25519');
    ingotOk(['sign', '--verify', '--repo', lay, 'x', '--keys-file', key('a').pub]);
  });

  it('ostree with ed25519 verifies what ingot signs, ingot verifies what ostree signs, byte-identical detached metadata', () => {
    const r1 = path.join(tmp, 'os-signed');
    ostreeOk(r1, ['init', '--mode=archive']);
    const t = path.join(tmp, 'tree');
    ostreeOk(r1, ['commit', '-b', 'x', '-s', 'signed by both', '--timestamp=2026-01-01T00:00:00Z', t]);
    const r2 = path.join(tmp, 'ingot-signed');
    runOk('cp', ['-a', r1, r2]);
    const c = ostreeOk(r1, ['rev-parse', 'x']).trim();
    const meta = (r: string): Buffer => fs.readFileSync(path.join(r, 'objects', c.slice(0, 2), `${c.slice(2)}.commitmeta`));
    for (const k of ['a', 'b']) {
      runOk(OSTREE_ED25519, [`--repo=${r1}`, 'sign', 'x', `--keys-file=${key(k).secret}`]);
      ingotOk(['sign', '--repo', r2, 'x', '--keys-file', key(k).secret]);
      assert.deepEqual(meta(r2), meta(r1), `detached metadata after signing with key ${k}`);
    }
    const v = runOk(OSTREE_ED25519, [`--repo=${r2}`, 'sign', '--verify', 'x', `--keys-file=${key('a').pub}`]);
    assert.match(v, /Signature verified successfully/);
    const wrong = run(OSTREE_ED25519, [`--repo=${r2}`, 'sign', '--verify', 'x', `--keys-file=${key('c').pub}`]);
    assert.notEqual(wrong.status, 0);
    ingotOk(['sign', '--verify', '--repo', r1, 'x', '--keys-file', key('b').pub]);
    const r = ingot(['--json', 'sign', '--verify', '--repo', r1, 'x', '--keys-file', key('b').pub, '--revoked-keys-file', key('b').pub, '--revoked-keys-file', key('a').pub]);
    assert.equal(errorCode(r), 'SIGNATURE_REVOKED');
  });

  it('ostree pull with sign-verify, sign-verify-summary and verification-ed25519-key from ingot serve', async () => {
    const srv = path.join(tmp, 'srv');
    ingotOk(['repo', 'init', '--repo', srv, '--mode', 'archive']);
    const src = path.join(tmp, 'tree');
    const c = firstChecksum(ingotOk(['repo', 'commit', '--repo', srv, '-b', 'os/stable', src]));
    ingotOk(['sign', '--repo', srv, c, '--keys-file', key('a').secret]);
    const server = await startIngotServe(srv, ['--sign-keys-file', key('a').secret]);
    const pullWith = async (name: string, k: string): Promise<{ status: number; stderr: string; dst: string }> => {
      const dst = path.join(tmp, `pull-${name}`);
      runOk(OSTREE_ED25519, [`--repo=${dst}`, 'init', '--mode=bare-user']);
      runOk(OSTREE_ED25519, [`--repo=${dst}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify=true', '--set=sign-verify-summary=true', `--set=verification-ed25519-key=${k}`, 'origin', server.url]);
      const r = await runAsync(OSTREE_ED25519, [`--repo=${dst}`, 'pull', 'origin', 'os/stable']);
      return { ...r, dst };
    };
    try {
      const good = await pullWith('good', fs.readFileSync(key('a').pub, 'utf8').trim());
      assert.equal(good.status, 0, good.stderr);
      assert.equal(ostreeOk(good.dst, ['rev-parse', 'origin:os/stable']).trim(), c);
      assert.equal(ostree(good.dst, ['fsck']).status, 0);
      const bad = await pullWith('wrong-key', fs.readFileSync(key('b').pub, 'utf8').trim());
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /ed25519/);
      assert.notEqual(ostree(bad.dst, ['rev-parse', 'origin:os/stable']).status, 0, 'nothing visible after a refused signature');
      // A tampered signature on the server: the commit is refused, nothing becomes visible.
      const metaPath = path.join(srv, 'objects', c.slice(0, 2), `${c.slice(2)}.commitmeta`);
      const m = fs.readFileSync(metaPath);
      m[m.indexOf(Buffer.from('ostree.sign.ed25519')) + 30]! ^= 1;
      fs.writeFileSync(metaPath, m);
      const tampered = await pullWith('tampered', fs.readFileSync(key('a').pub, 'utf8').trim());
      assert.notEqual(tampered.status, 0);
      assert.notEqual(ostree(tampered.dst, ['rev-parse', 'origin:os/stable']).status, 0);
      assert.equal(errorCode(ingot(['--json', 'sign', '--verify', '--repo', srv, c, '--keys-file', key('a').pub])), 'SIGNATURE_BAD');
    } finally {
      await server.stop();
    }
  });

  it('a static delta carries the signature: ostree pull --require-static-deltas with sign-verify accepts it', async () => {
    const srv = path.join(tmp, 'srv-delta');
    ingotOk(['repo', 'init', '--repo', srv, '--mode', 'archive']);
    const c = firstChecksum(ingotOk(['repo', 'commit', '--repo', srv, '-b', 'os/stable', path.join(tmp, 'tree')]));
    ingotOk(['sign', '--repo', srv, c, '--keys-file', key('a').secret]);
    ingotOk(['static-delta', 'generate', '--repo', srv, '--to', c]);
    ingotOk(['repo', 'summary', '-u', '--repo', srv]);
    const server = await startIngotServe(srv);
    try {
      const dst = path.join(tmp, 'pull-delta-signed');
      runOk(OSTREE_ED25519, [`--repo=${dst}`, 'init', '--mode=bare-user']);
      runOk(OSTREE_ED25519, [`--repo=${dst}`, 'remote', 'add', '--no-gpg-verify', '--set=sign-verify=true', `--set=verification-ed25519-key=${fs.readFileSync(key('a').pub, 'utf8').trim()}`, 'origin', server.url]);
      const r = await runAsync(OSTREE_ED25519, [`--repo=${dst}`, 'pull', '--require-static-deltas', 'origin', 'os/stable']);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(server.log.some((l) => /^GET \/deltas\/.*\/superblock 200/.test(l)), server.log.join('\n'));
      ingotOk(['sign', '--verify', '--repo', dst, c, '--keys-file', key('a').pub]);
    } finally {
      await server.stop();
    }
  });

  it('ingot serve --sign-keys-file re-signs the summary it regenerates when the refs change', async () => {
    const srv = path.join(tmp, 'srv-resign');
    ingotOk(['repo', 'init', '--repo', srv, '--mode', 'archive']);
    const src = path.join(tmp, 'tree');
    ingotOk(['repo', 'commit', '--repo', srv, '-b', 'os/one', src]);
    const server = await startIngotServe(srv, ['--sign-keys-file', key('c').secret]);
    try {
      ingotOk(['repo', 'commit', '--repo', srv, '-b', 'os/two', '-s', 'second', src]);
      const summary = await request(server.url, '/summary');
      const sig = await request(server.url, '/summary.sig');
      assert.equal(summary.status, 200);
      assert.equal(sig.status, 200);
      assert.ok(summary.body.includes(Buffer.from('os/two')), 'the new ref is listed');
      fs.writeFileSync(path.join(tmp, 'served-summary'), summary.body);
      fs.writeFileSync(path.join(tmp, 'served-summary.sig'), sig.body);
      const lines = py(['sigs', path.join(tmp, 'served-summary.sig'), 'ostree.sign.ed25519']).trim().split('\n');
      const pk = fs.readFileSync(key('c').pub, 'utf8').trim();
      assert.equal(run('/usr/bin/python3', ['-c', PY, 'verify', pk, lines[2]!, path.join(tmp, 'served-summary')]).status, 0);
    } finally {
      await server.stop();
    }
  });

  it('refusals: missing, untrusted, revoked, tampered commit, tampered or corrupt detached metadata', () => {
    const src = path.join(tmp, 'tree');
    const c = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'fresh', '-s', 'unsigned', src]));
    const verify = (extra: string[], rev = c) => ingot(['--json', 'sign', '--verify', '--repo', repo, rev, ...extra]);
    let r = verify(['--keys-file', key('a').pub]);
    assert.equal(r.status, 3);
    assert.equal(errorCode(r), 'SIGNATURE_MISSING');

    ingotOk(['sign', '--repo', repo, c, '--keys-file', key('a').secret]);
    r = verify(['--keys-file', key('b').pub]);
    assert.equal(r.status, 3);
    assert.equal(errorCode(r), 'SIGNATURE_BAD', 'untrusted key');
    r = verify(['--keys-file', key('a').pub, '--revoked-keys-file', key('a').pub]);
    assert.equal(r.status, 3);
    assert.equal(errorCode(r), 'SIGNATURE_REVOKED');
    r = verify(['--keys-file', key('a').secret]);
    assert.equal(errorCode(r), 'SIGN_NO_KEYS', 'a secret key file holds no public key');
    // Signed by a revoked key and by a trusted one: the trusted one is enough.
    ingotOk(['sign', '--repo', repo, c, '--keys-file', key('c').secret]);
    ingotOk(['sign', '--verify', '--repo', repo, c, '--keys-file', key('a').pub, '--keys-file', key('c').pub, '--revoked-keys-file', key('a').pub]);

    const metaFile = objPath(c, 'commitmeta');
    const goodMeta = fs.readFileSync(metaFile);
    const tampered = Buffer.from(goodMeta);
    // Flip a byte inside every signature (the signatures start after the key name).
    const start = tampered.indexOf(Buffer.from('ostree.sign.ed25519')) + 24;
    tampered[start + 5]! ^= 0x01;
    tampered[start + 64 + 5]! ^= 0x01;
    fs.writeFileSync(metaFile, tampered);
    r = verify(['--keys-file', key('a').pub, '--keys-file', key('c').pub]);
    assert.equal(errorCode(r), 'SIGNATURE_BAD', 'tampered detached metadata');
    fs.writeFileSync(metaFile, goodMeta.subarray(0, goodMeta.length - 3));
    r = verify(['--keys-file', key('a').pub]);
    assert.equal(errorCode(r), 'SIGNATURE_BAD', 'corrupt container');
    fs.writeFileSync(metaFile, goodMeta);
    ingotOk(['sign', '--verify', '--repo', repo, c, '--keys-file', key('a').pub]);

    const commitFile = objPath(c, 'commit');
    const goodCommit = fs.readFileSync(commitFile);
    const altered = Buffer.from(goodCommit);
    const at = altered.indexOf(Buffer.from('unsigned'));
    altered[at] = 'U'.charCodeAt(0);
    fs.chmodSync(commitFile, 0o644);
    fs.writeFileSync(commitFile, altered);
    r = verify(['--keys-file', key('a').pub]);
    assert.equal(r.status, 3);
    assert.equal(errorCode(r), 'SIGNATURE_BAD', 'tampered commit');
    fs.writeFileSync(commitFile, goodCommit);
  });

  it('summary signatures: summary -u --sign, GLib and libsodium read summary.sig; tampering and removal refused', () => {
    ingotOk(['repo', 'summary', '-u', '--sign', '--keys-file', key('b').secret, '--repo', repo]);
    const sig = path.join(repo, 'summary.sig');
    const lines = py(['sigs', sig, 'ostree.sign.ed25519']).trim().split('\n');
    assert.equal(lines[0], 'normal');
    assert.equal(lines.length, 3);
    const pk = fs.readFileSync(key('b').pub, 'utf8').trim();
    assert.equal(run('/usr/bin/python3', ['-c', PY, 'verify', pk, lines[2]!, path.join(repo, 'summary')]).status, 0);
    ingotOk(['sign', '--summary', '--verify', '--repo', repo, '--keys-file', key('b').pub]);
    let r = ingot(['--json', 'sign', '--summary', '--verify', '--repo', repo, '--keys-file', key('a').pub]);
    assert.equal(errorCode(r), 'SIGNATURE_BAD');
    const summary = path.join(repo, 'summary');
    const good = fs.readFileSync(summary);
    const bad = Buffer.from(good);
    bad[10]! ^= 0xff;
    fs.writeFileSync(summary, bad);
    r = ingot(['--json', 'sign', '--summary', '--verify', '--repo', repo, '--keys-file', key('b').pub]);
    assert.equal(r.status, 3);
    assert.equal(errorCode(r), 'SIGNATURE_BAD', 'tampered summary');
    fs.writeFileSync(summary, good);
    // Regenerating without --sign drops the old signature: verification reports it missing.
    ingotOk(['repo', 'summary', '-u', '--repo', repo]);
    assert.equal(fs.existsSync(sig), false);
    r = ingot(['--json', 'sign', '--summary', '--verify', '--repo', repo, '--keys-file', key('b').pub]);
    assert.equal(errorCode(r), 'SIGNATURE_MISSING');
  });
});
