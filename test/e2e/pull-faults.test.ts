/**
 * Pulling from a broken server: a fault-injecting loopback server (test/http-fixture.ts) in
 * front of an ostree-made archive repository. A corrupted object, a truncated response, a 500,
 * a stalled connection, a reset in the middle of an object, a wrong Content-Length, an HTML
 * error page and a summary that points at an older commit each end in a bounded retry that
 * succeeds, or a clear error with a stable code; the local repository stays fsck-clean and a
 * later pull completes.
 */
import { after, afterEach, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingotOk, ostree, ostreeOk, runOk, tmpdir } from '../helpers.js';
import { FixtureServer, type Fault } from '../http-fixture.js';
import { assertOstreeFsckClean, prng, randomBytes } from '../interop/trees.js';
import { ingotAsync, pullStagings } from '../interop/pull-fixtures.js';

suite('ingot pull against a faulty server', () => {
  let tmp: string;
  let srv: string;
  let server: FixtureServer;
  let c1: string;
  let c2: string;
  /** Server paths of a small file object and of the big (streamed) one. */
  let small: string;
  let big: string;
  let n = 0;

  before(async () => {
    tmp = tmpdir('ingot-pull-faults-');
    const tree = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(tree, 'etc'), { recursive: true });
    const rand = prng(5);
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(tree, 'etc', `f${i}`), randomBytes(rand, 200 + i * 300));
    fs.writeFileSync(path.join(tree, 'big.bin'), randomBytes(rand, 9 << 20));
    fs.writeFileSync(path.join(tree, 'small.txt'), 'a small file that the tests break\n'.repeat(20));
    srv = path.join(tmp, 'srv');
    ostreeOk(srv, ['init', '--mode=archive']);
    c1 = ostreeOk(srv, ['commit', '-b', 'main', '--timestamp=@1600000000', '-s', 'one', tree]).trim();
    fs.writeFileSync(path.join(tree, 'etc', 'f0'), 'changed\n');
    c2 = ostreeOk(srv, ['commit', '-b', 'main', '--timestamp=@1600001000', '-s', 'two', tree]).trim();
    // A ref that names a commit bound (ostree.ref-binding) to `main` only.
    ostreeOk(srv, ['refs', '--create', 'other', c2]);
    ostreeOk(srv, ['summary', '-u']);
    const obj = (p: string): string => {
      const c = /\b[0-9a-f]{64}\b/.exec(ostreeOk(srv, ['ls', '-C', 'main', p]))![0];
      return `/objects/${c.slice(0, 2)}/${c.slice(2)}.filez`;
    };
    small = obj('/small.txt');
    big = obj('/big.bin');
    // An older server: the same repository whose summary names the first commit.
    const old = path.join(tmp, 'old');
    runOk('cp', ['-a', srv, old]);
    ostreeOk(old, ['refs', '--delete', 'main']);
    ostreeOk(old, ['refs', '--create', 'main', c1]);
    ostreeOk(old, ['summary', '-u']);
    server = await FixtureServer.start(tmp);
  });

  afterEach(() => server?.clearFaults());

  after(async () => {
    await server?.close();
    if (tmp) cleanup(tmp);
  });

  const client = (url = `${server.url}/srv`): string => {
    const repo = path.join(tmp, `client-${++n}`);
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'bare-user']);
    ingotOk(['remote', 'add', '--repo', repo, 'origin', url]);
    return repo;
  };

  const pull = (repo: string, extra: string[] = []) => ingotAsync(['pull', '--repo', repo, '--stall-timeout', '1', '--retries', '3', ...extra, 'origin', 'main']);

  const assertComplete = (repo: string): void => {
    assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${c2}\n`);
    ingotOk(['repo', 'fsck', '--repo', repo]);
    assertOstreeFsckClean(ostree(repo, ['fsck']), repo);
    assert.deepEqual(pullStagings(repo), []);
  };

  /** A failed pull: the code, no ref, fsck clean; then a pull without faults completes. */
  const assertFailsCleanly = async (repo: string, r: { status: number; stderr: string }, code: string, status: number): Promise<void> => {
    assert.equal(r.status, status, r.stderr);
    assert.match(r.stderr, new RegExp(`\\[${code}\\]`), r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.equal(fs.existsSync(path.join(repo, 'refs/remotes/origin/main')), false, 'no ref');
    ingotOk(['repo', 'fsck', '--repo', repo]);
    assertOstreeFsckClean(ostree(repo, ['fsck']), `${repo} after ${code}`);
    server.clearFaults();
    const again = await pull(repo);
    assert.equal(again.status, 0, again.stderr);
    assertComplete(repo);
  };

  const once = async (target: string, fault: Fault, extra: string[] = []): Promise<string> => {
    const repo = client();
    server.fault(`/srv${target}`, fault, 1);
    const before = server.log.length;
    const r = await pull(repo, extra);
    server.clearFaults();
    assert.equal(r.status, 0, `${fault.kind}: ${r.stderr}`);
    assertComplete(repo);
    const hits = server.log.slice(before).filter((l) => l.path.endsWith(target));
    assert.ok(hits.length >= 2, `${fault.kind}: ${target} was retried (${hits.length} requests)`);
    return repo;
  };

  it('a corrupted object is fetched once more, and refused when it stays corrupt', async () => {
    await once(small, { kind: 'body', data: Buffer.from('not the object') });
    const repo = client();
    server.fault(`/srv${small}`, { kind: 'body', data: Buffer.from('not the object') }, Infinity);
    const r = await pull(repo);
    assert.match(r.stderr, new RegExp(small.replace(/\./g, '\\.')), 'the message names the object URL');
    await assertFailsCleanly(repo, r, 'PULL_OBJECT_CORRUPT', 3);
  });

  it('a truncated response is retried', async () => {
    await once(small, { kind: 'truncate', at: 20 });
  });

  it('HTTP 500 is retried a bounded number of times', async () => {
    await once(small, { kind: 'status', status: 500 });
    const repo = client();
    server.fault(`/srv${small}`, { kind: 'status', status: 500 }, Infinity);
    const before = server.log.length;
    const r = await pull(repo);
    assert.equal(server.log.slice(before).filter((l) => l.path.endsWith(small)).length, 3, 'exactly --retries attempts');
    assert.match(r.stderr, /HTTP status 500.*after 3 attempts/);
    await assertFailsCleanly(repo, r, 'NETWORK_ERROR', 1);
  });

  it('a stalled connection times out and is retried', async () => {
    await once(small, { kind: 'stall', at: 50 });
  });

  it('a connection reset in the middle of a big object resumes with a Range request', async () => {
    const before = server.log.length;
    await once(big, { kind: 'reset', at: 3 << 20 });
    const hits = server.log.slice(before).filter((l) => l.path.endsWith(big));
    assert.match(hits[1]!.range ?? '', /^bytes=[1-9]\d*-$/, 'the retry asked for the rest only');
  });

  it('a wrong Content-Length is retried, the checksum deciding whether the body was whole', async () => {
    // Too long: the connection closes early; the retry asks for the rest (416: nothing more)
    // and the received bytes verify.
    await once(small, { kind: 'length', delta: 100 });
    // Too short: the object is cut; its checksum fails; fetched again.
    await once(small, { kind: 'length', delta: -5 });
    const repo = client();
    server.fault(`/srv${small}`, { kind: 'length', delta: 100 }, Infinity);
    const r = await pull(repo);
    assert.equal(r.status, 0, r.stderr);
    assertComplete(repo);
  });

  it('a response that is always cut short fails after the retries', async () => {
    const repo = client();
    server.fault(`/srv${small}`, { kind: 'truncate', at: 20 }, Infinity);
    const r = await pull(repo);
    assert.match(r.stderr, /connection closed after 20 of \d+ bytes|premature close|aborted/);
    await assertFailsCleanly(repo, r, 'NETWORK_ERROR', 1);
  });

  it('an HTML error page is a clear error, not retried', async () => {
    const repo = client();
    server.fault(`/srv${small}`, { kind: 'html' }, Infinity);
    const before = server.log.length;
    const r = await pull(repo);
    assert.match(r.stderr, /HTML page/);
    assert.equal(server.log.slice(before).filter((l) => l.path.endsWith(small)).length, 1);
    await assertFailsCleanly(repo, r, 'NETWORK_ERROR', 1);
  });

  it('a summary that points at an older commit is refused unless --allow-downgrade', async () => {
    const repo = client();
    assert.equal((await pull(repo)).status, 0);
    ingotOk(['remote', 'add', '--repo', repo, '--force', 'origin', `${server.url}/old`]);
    const before = server.log.length;
    const r = await pull(repo);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /\[PULL_DOWNGRADE\]/);
    assert.match(r.stderr, /--allow-downgrade/);
    assert.ok(!server.log.slice(before).some((l) => l.path.includes('/objects/')), 'refused before fetching any object');
    assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${c2}\n`, 'the ref did not move');
    const ok = await pull(repo, ['--allow-downgrade']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${c1}\n`);
    ingotOk(['repo', 'fsck', '--repo', repo]);
  });

  it('a commit bound to another ref is refused before its tree is fetched', async () => {
    const repo = client();
    const before = server.log.length;
    const r = await ingotAsync(['pull', '--repo', repo, 'origin', 'other']);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /\[PULL_REF_BINDING\].*'main'/);
    assert.ok(!server.log.slice(before).some((l) => /\.(dirtree|dirmeta|filez)$/.test(l.path)), 'no tree object fetched');
    assert.deepEqual(fs.readdirSync(path.join(repo, 'objects')), []);
    assert.deepEqual(pullStagings(repo), []);
  });

  it('an unreachable server is a clear network error', async () => {
    const repo = client('http://127.0.0.1:1/repo');
    const r = await pull(repo, ['--retries', '2']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\[NETWORK_ERROR\].*connection refused/);
  });
});
