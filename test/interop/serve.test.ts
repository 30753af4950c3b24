/**
 * ingot serve (and a plain static server over an ingot-made repository) -> the real
 * `ostree pull`: an archive repository committed by ingot, with every kind of entry, is pulled
 * into fresh bare-user repositories; `ostree fsck` must be clean and `ostree checkout` of the
 * pulled commit must equal `ostree checkout` of the served one. Then the HTTP contract of
 * `ingot serve`: Range, ETag / If-None-Match, keep-alive, HEAD, path traversal refused, and
 * the summary following the refs.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { cleanup, firstChecksum, ingotOk, ostree, ostreeOk, tmpdir, treeDiff } from '../helpers.js';
import { assertOstreeFsckClean, assertXattrsSettable, buildKindsTree, describe } from './trees.js';
import { runAsync, runAsyncOk } from './repo-tools.js';
import { request, startIngotServe, startPythonServer, type ServedRepo } from './serve-helpers.js';

const REF = 'deliver/x86_64/stable';

suite('ostree pull from ingot serve and from a plain static server', () => {
  let tmp = '';
  let repo = '';
  let commit = '';
  let server: ServedRepo | null = null;
  let expected = new Map<string, ReturnType<typeof describe> extends Map<string, infer V> ? V : never>();

  before(() => {
    tmp = tmpdir('ingot-serve-');
    assertXattrsSettable(tmp);
    const src = path.join(tmp, 'tree');
    buildKindsTree(src, { streamingFiles: false });
    repo = path.join(tmp, 'srv');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    commit = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', REF, '-s', 'served', src]));
    ingotOk(['repo', 'summary', '-u', '--repo', repo]);
    const co = path.join(tmp, 'co-served');
    ostreeOk(repo, ['checkout', REF, co]);
    expected = describe(co);
  });

  after(async () => {
    await server?.stop();
    if (tmp) cleanup(tmp);
  });

  async function pullAndCompare(url: string, name: string, extra: string[] = []): Promise<string> {
    const dst = path.join(tmp, `dst-${name}`);
    ostreeOk(dst, ['init', '--mode=bare-user']);
    ostreeOk(dst, ['remote', 'add', '--no-gpg-verify', 'origin', url]);
    const out = await runAsyncOk('ostree', [`--repo=${dst}`, 'pull', ...extra, 'origin', REF]);
    assert.equal(ostreeOk(dst, ['rev-parse', `origin:${REF}`]).trim(), commit);
    assertOstreeFsckClean(ostree(dst, ['fsck']), `${name} pull`);
    const co = path.join(tmp, `co-${name}`);
    ostreeOk(dst, ['checkout', `origin:${REF}`, co]);
    assert.deepEqual(treeDiff(describe(co), expected), []);
    assert.ok(expected.size > 50, `fixture too small: ${expected.size}`);
    return out;
  }

  it('ostree pull from ingot serve: fsck clean, checkout identical', async () => {
    server = await startIngotServe(repo);
    await pullAndCompare(server.url, 'ingot');
    assert.ok(server.log.some((l) => /^GET \/summary 200 /.test(l)), server.log.join('\n'));
    assert.ok(server.log.some((l) => /^GET \/config 200 /.test(l)));
    assert.ok(server.log.some((l) => /^GET \/objects\/.*\.filez 200 /.test(l)));
  });

  it('ostree pull from python3 -m http.server over the ingot-made repository', async () => {
    const py = await startPythonServer(repo);
    try {
      await pullAndCompare(py.url, 'python');
      assert.ok(py.log.some((l) => l.includes('"GET /summary HTTP')), py.log.slice(0, 5).join('\n'));
    } finally {
      await py.stop();
    }
  });

  it('ingot pull from python3 -m http.server (HTTP/1.0: one response per connection, no pipelining)', async () => {
    // The pull pipelines requests on keep-alive connections; a server that closes each
    // connection after one response must still give the whole commit (the client stops
    // pipelining to it and retries what the closed connections lost).
    const py = await startPythonServer(repo);
    try {
      const dst = path.join(tmp, 'dst-ingot-python');
      ingotOk(['repo', 'init', '--repo', dst, '--mode', 'bare-user']);
      ingotOk(['remote', 'add', '--repo', dst, 'origin', py.url]);
      const out = ingotOk(['--json', 'pull', '--repo', dst, 'origin', REF]);
      assert.match(out, new RegExp(commit));
      assertOstreeFsckClean(ostree(dst, ['fsck']), 'ingot pull from python');
      const co = path.join(tmp, 'co-ingot-python');
      ostreeOk(dst, ['checkout', REF, co]);
      assert.deepEqual(treeDiff(describe(co), expected), []);
      // (ingotOk blocks the event loop: let the server's log lines arrive.)
      for (let i = 0; i < 50 && py.log.filter((l) => l.includes('"GET /objects/')).length <= 50; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(py.log.filter((l) => l.includes('"GET /objects/')).length > 50, `the objects came from the python server: ${py.log.slice(-3).join('\n')}`);
    } finally {
      await py.stop();
    }
  });

  it('Range: 206 with Content-Range, suffix ranges, 416 past the end', async () => {
    const url = server!.url;
    const whole = fs.readFileSync(path.join(repo, 'summary'));
    const r = await request(url, '/summary', { headers: { range: 'bytes=3-9' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 3-9/${whole.length}`);
    assert.equal(r.headers['content-length'], '7');
    assert.deepEqual(r.body, whole.subarray(3, 10));
    const suffix = await request(url, '/summary', { headers: { range: 'bytes=-5' } });
    assert.equal(suffix.status, 206);
    assert.deepEqual(suffix.body, whole.subarray(whole.length - 5));
    const open = await request(url, '/summary', { headers: { range: `bytes=${whole.length - 2}-` } });
    assert.deepEqual(open.body, whole.subarray(whole.length - 2));
    const past = await request(url, '/summary', { headers: { range: `bytes=${whole.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${whole.length}`);
    // A resumed download whose validator changed gets the whole file.
    const stale = await request(url, '/summary', { headers: { range: 'bytes=3-9', 'if-range': '"stale"' } });
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, whole);
  });

  it('ETag / If-None-Match: 304 without a body; another validator gets the file', async () => {
    const url = server!.url;
    const a = await request(url, '/config');
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-length'], String(fs.statSync(path.join(repo, 'config')).size));
    const etag = a.headers['etag']!;
    assert.match(etag, /^".+"$/);
    const b = await request(url, '/config', { headers: { 'if-none-match': etag } });
    assert.equal(b.status, 304);
    assert.equal(b.body.length, 0);
    const c = await request(url, '/config', { headers: { 'if-none-match': '"something-else"' } });
    assert.equal(c.status, 200);
    assert.deepEqual(c.body, fs.readFileSync(path.join(repo, 'config')));
  });

  it('HEAD: headers with the exact length, no body', async () => {
    const obj = ostreeOk(repo, ['rev-parse', REF]).trim();
    const rel = `/objects/${obj.slice(0, 2)}/${obj.slice(2)}.commit`;
    const h = await request(server!.url, rel, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(fs.statSync(path.join(repo, rel)).size));
    assert.equal(h.body.length, 0);
    const p = await request(server!.url, rel, { method: 'POST' });
    assert.equal(p.status, 405);
  });

  it('keep-alive: several requests on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const rs = [];
      for (const p of ['/config', '/summary', '/config', '/refs/heads/' + REF]) rs.push(await request(server!.url, p, { agent }));
      assert.deepEqual(
        rs.map((r) => r.status),
        [200, 200, 200, 200],
      );
      assert.deepEqual(
        rs.map((r) => r.reusedSocket),
        [false, true, true, true],
      );
      assert.equal(rs[3]!.body.toString(), `${commit}\n`);
    } finally {
      agent.destroy();
    }
  });

  it('path traversal and private files are refused with 404', async () => {
    fs.symlinkSync('/etc', path.join(repo, 'escape'));
    for (const p of ['/../../../../etc/passwd', '/objects/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/objects/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/escape/passwd', '/.lock', '/tmp/', '/state/', '/objects/', '/', '/config%00', '/refs\\heads']) {
      const r = await request(server!.url, p);
      assert.equal(r.status, 404, `${p} -> ${r.status}`);
      assert.doesNotMatch(r.body.toString(), /root:/);
    }
    fs.unlinkSync(path.join(repo, 'escape'));
  });

  it('the summary follows the refs: a new ref is served and pulled', async () => {
    const src2 = path.join(tmp, 'tree2');
    fs.mkdirSync(path.join(src2, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(src2, 'usr/bin/tool'), 'v2\n');
    const c2 = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'deliver/x86_64/next', '-s', 'next', src2]));
    const r = await request(server!.url, '/summary');
    assert.equal(r.status, 200);
    assert.ok(r.body.includes(Buffer.from('deliver/x86_64/next')), 'summary lists the new ref');
    const dst = path.join(tmp, 'dst-ingot');
    const out = await runAsync('ostree', [`--repo=${dst}`, 'remote', 'refs', 'origin']);
    assert.match(out.stdout, /origin:deliver\/x86_64\/next/);
    await runAsyncOk('ostree', [`--repo=${dst}`, 'pull', 'origin', 'deliver/x86_64/next']);
    assert.equal(ostreeOk(dst, ['rev-parse', 'origin:deliver/x86_64/next']).trim(), c2);
  });
});
