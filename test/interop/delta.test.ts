/**
 * Static deltas in ostree's format. ingot generates deltas (from scratch, split into several
 * parts, inline, and from one commit to the next); the real ostree parses them (`static-delta
 * show`) and applies them when pulling into bare-user repositories from `ingot serve`, with
 * `--require-static-deltas` and the server's log proving the delta was used; fsck clean and
 * checkouts identical. ingot's applier takes its own deltas and ostree's (including rollsum
 * opcodes) into fresh repositories, and refuses a corrupt part with nothing made visible.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, firstChecksum, ingot, ingotOk, ostree, ostreeOk, runOk, tmpdir, treeDiff, prng } from '../helpers.js';
import { assertOstreeFsckClean, assertXattrsSettable, buildKindsTree, describe, randomBytes } from './trees.js';
import { runAsyncOk } from './repo-tools.js';
import { startIngotServe, type ServedRepo } from './serve-helpers.js';
import { Repo } from '../../src/repo/repo.js';
import { applyLocalDelta, deltaRelDir, parseSuperblock } from '../../src/transport/delta.js';
import { isIngotError } from '../../src/core/errors.js';
import type { Checksum } from '../../src/core/checksum.js';

const REF = 'os/x86_64/stable';

suite('static deltas: ingot generates, ostree applies; ingot applies ostree deltas', () => {
  let tmp = '';
  let srv = '';
  let v1 = '' as Checksum;
  let v2 = '' as Checksum;
  let server: ServedRepo | null = null;
  const expected: Record<string, ReturnType<typeof describe>> = {};

  before(() => {
    tmp = tmpdir('ingot-delta-');
    assertXattrsSettable(tmp);
    const t1 = path.join(tmp, 'v1');
    buildKindsTree(t1, { streamingFiles: false });
    const rand = prng(42);
    fs.mkdirSync(path.join(t1, 'usr/lib/big'), { recursive: true });
    // Incompressible files so that a 1 MB part limit makes several parts.
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(t1, `usr/lib/big/blob${i}`), randomBytes(rand, 700_000));
    fs.writeFileSync(path.join(t1, 'usr/lib/big/text'), 'line of text that changes a little\n'.repeat(20_000));
    const t2 = path.join(tmp, 'v2');
    runOk('cp', ['-a', t1, t2]);
    fs.writeFileSync(path.join(t2, 'usr/lib/big/text'), 'line of text that changes a little\n'.repeat(19_000) + 'new tail\n'.repeat(500));
    fs.rmSync(path.join(t2, 'usr/lib/big/blob3'));
    fs.writeFileSync(path.join(t2, 'usr/lib/big/added'), randomBytes(rand, 50_000));
    fs.chmodSync(path.join(t2, 'usr/lib/big/blob0'), 0o700);
    fs.symlinkSync('big/added', path.join(t2, 'usr/lib/added-link'));
    srv = path.join(tmp, 'srv');
    ingotOk(['repo', 'init', '--repo', srv, '--mode', 'archive']);
    v1 = firstChecksum(ingotOk(['repo', 'commit', '--repo', srv, '-b', REF, '-s', 'v1', '--timestamp=@1700000000', t1])) as Checksum;
    v2 = firstChecksum(ingotOk(['repo', 'commit', '--repo', srv, '-b', REF, '-s', 'v2', '--timestamp=@1700000100', t2])) as Checksum;
    for (const [name, c] of [
      ['v1', v1],
      ['v2', v2],
    ] as const) {
      const co = path.join(tmp, `co-srv-${name}`);
      ostreeOk(srv, ['checkout', c, co]);
      expected[name] = describe(co);
    }
  });

  after(async () => {
    await server?.stop();
    if (tmp) cleanup(tmp);
  });

  function assertCheckout(repo: string, rev: string, name: 'v1' | 'v2', tag: string): void {
    const co = path.join(tmp, `co-${tag}`);
    ostreeOk(repo, ['checkout', rev, co]);
    assert.deepEqual(treeDiff(describe(co), expected[name]!), []);
  }

  it('generate: scratch delta in several parts, an inline scratch delta, a from-to delta; ostree parses them', () => {
    const a = JSON.parse(ingotOk(['--json', 'static-delta', 'generate', '--repo', srv, '--to', v1, '--max-chunk-size', '1'])) as { parts: unknown[]; name: string };
    assert.ok(a.parts.length >= 3, `expected several parts, got ${a.parts.length}`);
    assert.equal(a.name, v1);
    ingotOk(['static-delta', 'generate', '--repo', srv, '--to', v2, '--inline']);
    const b = JSON.parse(ingotOk(['--json', 'static-delta', 'generate', '--repo', srv, '--from', v1, '--to', REF])) as { name: string };
    assert.equal(b.name, `${v1}-${v2}`);
    ingotOk(['repo', 'summary', '-u', '--repo', srv]);
    const list = ingotOk(['static-delta', 'list', '--repo', srv]);
    for (const n of [v1, v2, `${v1}-${v2}`]) assert.match(list, new RegExp(`^${n} `, 'm'));
    assert.deepEqual(ostreeOk(srv, ['static-delta', 'list']).trim().split('\n').sort(), [v1, v2, `${v1}-${v2}`].sort());
    const show = ostreeOk(srv, ['static-delta', 'show', v1]);
    assert.match(show, new RegExp(`Number of parts: ${a.parts.length}`));
    assert.match(show, /Endianness: little/);
    assert.match(ostreeOk(srv, ['static-delta', 'show', `${v1}-${v2}`]), new RegExp(`From: ${v1}`));
    assert.match(ostreeOk(srv, ['summary', '--view']), /ostree\.static-deltas/);
  });

  it('ostree pull --require-static-deltas applies the scratch delta, then the from-to delta', async () => {
    server = await startIngotServe(srv);
    const dst = path.join(tmp, 'dst');
    ostreeOk(dst, ['init', '--mode=bare-user']);
    ostreeOk(dst, ['remote', 'add', '--no-gpg-verify', 'origin', server.url]);
    await runAsyncOk('ostree', [`--repo=${dst}`, 'pull', '--require-static-deltas', 'origin', `${REF}@${v1}`]);
    const scratchDir = deltaRelDir({ from: null, to: v1 });
    assert.ok(server.log.some((l) => l.startsWith(`GET /${scratchDir}/superblock 200`)), server.log.join('\n'));
    assert.ok(server.log.some((l) => l.startsWith(`GET /${scratchDir}/2 200`)), 'part 2 of the scratch delta was fetched');
    assertOstreeFsckClean(ostree(dst, ['fsck']), 'after the scratch delta');
    assertCheckout(dst, v1, 'v1', 'dst-v1');

    server.log.length = 0;
    await runAsyncOk('ostree', [`--repo=${dst}`, 'pull', '--require-static-deltas', 'origin', REF]);
    const fromTo = deltaRelDir({ from: v1, to: v2 });
    assert.ok(server.log.some((l) => l.startsWith(`GET /${fromTo}/superblock 200`)), server.log.join('\n'));
    assert.ok(server.log.some((l) => l.startsWith(`GET /${fromTo}/0 200`)));
    // (ostree 2022.7 scans the new commit while delta parts are still in flight, and may fetch
    // some objects loose meanwhile: the same happens with deltas ostree itself generated.)
    assert.equal(ostreeOk(dst, ['rev-parse', `origin:${REF}`]).trim(), v2);
    assertOstreeFsckClean(ostree(dst, ['fsck']), 'after the from-to delta');
    assertCheckout(dst, v2, 'v2', 'dst-v2');
  });

  it('ostree pull --require-static-deltas into an empty repository uses the inline delta (no part files)', async () => {
    const dst = path.join(tmp, 'dst-inline');
    ostreeOk(dst, ['init', '--mode=bare-user']);
    ostreeOk(dst, ['remote', 'add', '--no-gpg-verify', 'origin', server!.url]);
    server!.log.length = 0;
    await runAsyncOk('ostree', [`--repo=${dst}`, 'pull', '--require-static-deltas', 'origin', REF]);
    const dir = deltaRelDir({ from: null, to: v2 });
    assert.ok(server!.log.some((l) => l.startsWith(`GET /${dir}/superblock 200`)), server!.log.join('\n'));
    assert.ok(!server!.log.some((l) => l.startsWith(`GET /${dir}/0`)), 'parts travel inside the superblock');
    assertOstreeFsckClean(ostree(dst, ['fsck']), 'after the inline delta');
    assertCheckout(dst, v2, 'v2', 'dst-inline');
  });

  it("ingot applies its own deltas into fresh bare-user and archive repositories (fsck clean)", async () => {
    for (const mode of ['bare-user', 'archive'] as const) {
      const p = path.join(tmp, `apply-${mode}`);
      const repo = Repo.init(p, mode);
      const r1 = await applyLocalDelta(repo, path.join(srv, deltaRelDir({ from: null, to: v1 })), { ref: 'applied' });
      assert.equal(r1.to, v1);
      assert.ok(r1.written > 50);
      const r2 = await applyLocalDelta(repo, path.join(srv, deltaRelDir({ from: v1, to: v2 })), { ref: 'applied' });
      assert.equal(r2.to, v2);
      ingotOk(['repo', 'fsck', '--repo', p]);
      assertOstreeFsckClean(ostree(p, ['fsck']), `ingot-applied ${mode}`);
      assertCheckout(p, 'applied', 'v2', `applied-${mode}`);
    }
  });

  it("ingot applies ostree's own deltas (with its rollsum opcodes) and reads ostree's superblock", async () => {
    const osrv = path.join(tmp, 'osrv');
    runOk('cp', ['-a', srv, osrv]);
    fs.rmSync(path.join(osrv, 'deltas'), { recursive: true });
    ostreeOk(osrv, ['static-delta', 'generate', '--empty', `--to=${v1}`, '--disable-bsdiff']);
    ostreeOk(osrv, ['static-delta', 'generate', `--from=${v1}`, `--to=${v2}`, '--disable-bsdiff']);
    // The from-to delta reuses the old version of the modified text file (rollsum: r, w, R).
    assert.match(ostreeOk(osrv, ['static-delta', 'show', `${v1}-${v2}`]), /setread=[1-9]/);
    const sb = parseSuperblock(fs.readFileSync(path.join(osrv, deltaRelDir({ from: v1, to: v2 }), 'superblock')));
    assert.equal(sb.from, v1);
    assert.equal(sb.to, v2);
    const p = path.join(tmp, 'apply-ostree');
    const repo = Repo.init(p, 'bare-user');
    await applyLocalDelta(repo, path.join(osrv, deltaRelDir({ from: null, to: v1 })));
    await applyLocalDelta(repo, path.join(osrv, deltaRelDir({ from: v1, to: v2 })), { ref: 'applied' });
    ingotOk(['repo', 'fsck', '--repo', p]);
    assertOstreeFsckClean(ostree(p, ['fsck']), "ingot-applied ostree deltas");
    assertCheckout(p, 'applied', 'v2', 'applied-ostree');
  });

  it('fallback objects: a file above --min-fallback-size is left out of the parts and ostree fetches it as an object', async () => {
    const src = path.join(tmp, 'fb-tree');
    fs.mkdirSync(path.join(src, 'usr/share'), { recursive: true });
    const rand = prng(5);
    fs.writeFileSync(path.join(src, 'usr/share/large'), randomBytes(rand, 1_500_000));
    fs.writeFileSync(path.join(src, 'usr/share/small'), 'small\n');
    const repo = path.join(tmp, 'fb-srv');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    const c = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'fb', src]));
    const g = JSON.parse(ingotOk(['--json', 'static-delta', 'generate', '--repo', repo, '--to', c, '--min-fallback-size', '1'])) as { fallbacks: number };
    assert.equal(g.fallbacks, 1);
    assert.match(ostreeOk(repo, ['static-delta', 'show', c]), /Number of fallback entries: 1/);
    ingotOk(['repo', 'summary', '-u', '--repo', repo]);
    const fb = await startIngotServe(repo);
    try {
      const dst = path.join(tmp, 'fb-dst');
      ostreeOk(dst, ['init', '--mode=bare-user']);
      ostreeOk(dst, ['remote', 'add', '--no-gpg-verify', 'origin', fb.url]);
      await runAsyncOk('ostree', [`--repo=${dst}`, 'pull', '--require-static-deltas', 'origin', 'fb']);
      assert.ok(fb.log.some((l) => /\/superblock 200/.test(l)), fb.log.join('\n'));
      const large = fb.log.filter((l) => /\.filez 200 (\d+)/.test(l) && Number(l.split(' ')[3]) > 1_000_000);
      assert.equal(large.length, 1, `the fallback is fetched as a plain object:\n${fb.log.join('\n')}`);
      assertOstreeFsckClean(ostree(dst, ['fsck']), 'after a delta with a fallback');
      const co = path.join(tmp, 'fb-co');
      ostreeOk(dst, ['checkout', '-U', 'origin:fb', co]);
      assert.deepEqual(fs.readFileSync(path.join(co, 'usr/share/large')), fs.readFileSync(path.join(src, 'usr/share/large')));
    } finally {
      await fb.stop();
    }
  });

  it('a corrupt part is refused with DELTA_INVALID and nothing becomes visible', async () => {
    const copy = path.join(tmp, 'corrupt-delta');
    runOk('cp', ['-a', path.join(srv, deltaRelDir({ from: null, to: v1 })), copy]);
    const part = path.join(copy, '1');
    const b = fs.readFileSync(part);
    b[b.length >> 1]! ^= 0x40;
    fs.writeFileSync(part, b);
    const p = path.join(tmp, 'apply-corrupt');
    const repo = Repo.init(p, 'bare-user');
    await assert.rejects(applyLocalDelta(repo, copy, { ref: 'x' }), (e: unknown) => isIngotError(e, 'DELTA_INVALID') && /part 1/.test((e as Error).message));
    assert.equal(repo.hasObject(v1, 'commit'), false);
    assert.equal(repo.readRef('x'), null);
    assert.deepEqual([...repo.listObjects()], [], 'no object of the failed transaction is visible');
    const sbFile = path.join(copy, 'superblock');
    const sb = fs.readFileSync(sbFile);
    fs.writeFileSync(sbFile, sb.subarray(0, sb.length - 7));
    await assert.rejects(applyLocalDelta(repo, copy), (e: unknown) => isIngotError(e, 'DELTA_INVALID'));
    const r = ingot(['--json', 'static-delta', 'generate', '--repo', srv, '--to', 'no-such-ref']);
    assert.equal(r.status, 1);
  });
});
