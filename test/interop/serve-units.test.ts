/**
 * Table-driven checks of the server side's pure pieces: request paths (traversal refused),
 * byte ranges, and hostile static-delta input: every single-byte corruption of a superblock and
 * of a part is either harmless or refused with DELTA_INVALID (never another error).
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, prng, tmpdir } from '../helpers.js';
import { parseRange, requestPath } from '../../src/transport/serve.js';
import { Repo } from '../../src/repo/repo.js';
import { writeCommit } from '../../src/repo/commit.js';
import { applyDeltaPart, deltaRelDir, generateStaticDelta, parseSuperblock } from '../../src/transport/delta.js';
import { IngotError, isIngotError } from '../../src/core/errors.js';

suite('serve: request paths and ranges', () => {
  it('maps request targets to repository paths and refuses escapes', () => {
    const table: [string, string | null][] = [
      ['/config', 'config'],
      ['/objects/ab/cdef.commit', 'objects/ab/cdef.commit'],
      ['/deltas/Gq/Mhy+x_y/0', 'deltas/Gq/Mhy+x_y/0'],
      ['/summary?x=1', 'summary'],
      ['//refs//heads/a', 'refs/heads/a'],
      ['/refs/heads/%61', 'refs/heads/a'],
      ['/', null],
      ['', null],
      ['config', null],
      ['/../etc/passwd', null],
      ['/objects/../../x', null],
      ['/%2e%2e/x', null],
      ['/a/%2E%2E/b', null],
      ['/a%2f..%2fb', null],
      ['/./config', null],
      ['/.lock', null],
      ['/objects/.tmp-x', null],
      ['/tmp/x', null],
      ['/state/x.commitpartial', null],
      ['/config%00', null],
      ['/a\\b', null],
      ['/%zz', null],
    ];
    for (const [url, want] of table) assert.equal(requestPath(url), want, url);
  });

  it('parses single byte ranges against a size', () => {
    const table: [string | undefined, number, ReturnType<typeof parseRange>][] = [
      [undefined, 10, null],
      ['bytes=0-4', 10, [0, 5]],
      ['bytes=5-', 10, [5, 10]],
      ['bytes=-3', 10, [7, 10]],
      ['bytes=-30', 10, [0, 10]],
      ['bytes=2-100', 10, [2, 10]],
      ['bytes=10-', 10, 'unsatisfiable'],
      ['bytes=5-4', 10, 'unsatisfiable'],
      ['bytes=-0', 10, 'unsatisfiable'],
      ['bytes=0-1,3-4', 10, null],
      ['items=0-1', 10, null],
      ['bytes=-', 10, null],
    ];
    for (const [h, size, want] of table) assert.deepEqual(parseRange(h, size), want, String(h));
  });
});

suite('static deltas: hostile superblocks and parts', () => {
  let tmp = '';
  let repo: Repo;
  let sbBytes = Buffer.alloc(0);
  let part = Buffer.alloc(0);

  before(async () => {
    tmp = tmpdir('ingot-delta-fuzz-');
    const src = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(src, 'usr/bin'), { recursive: true });
    const rand = prng(3);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, `usr/bin/f${i}`), `file ${i} ${rand()}\n`.repeat(i + 1));
    fs.symlinkSync('f1', path.join(src, 'usr/bin/link'));
    repo = Repo.init(path.join(tmp, 'repo'), 'archive');
    const c = await writeCommit(repo, src, { branch: 'x' });
    await generateStaticDelta(repo, c.commit);
    const dir = path.join(repo.path, deltaRelDir({ from: null, to: c.commit }));
    sbBytes = fs.readFileSync(path.join(dir, 'superblock'));
    part = fs.readFileSync(path.join(dir, '0'));
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  it('every single-byte change of the superblock parses to the same delta or fails with DELTA_INVALID', () => {
    const good = parseSuperblock(sbBytes);
    for (let i = 0; i < sbBytes.length; i++) {
      const b = Buffer.from(sbBytes);
      b[i]! ^= 0x5a;
      try {
        const sb = parseSuperblock(b);
        // A change that still parses can only touch what no checksum covers (e.g. the timestamp).
        assert.equal(sb.to, good.to, `byte ${i}`);
      } catch (e) {
        assert.ok(isIngotError(e, 'DELTA_INVALID'), `byte ${i}: ${(e as Error).message}`);
      }
    }
    for (const n of [0, 1, 7, 8, sbBytes.length - 1]) {
      assert.throws(() => parseSuperblock(sbBytes.subarray(0, n)), (e: unknown) => isIngotError(e, 'DELTA_INVALID'));
    }
  });

  it('a changed or truncated part is refused before any object is staged', async () => {
    const sb = parseSuperblock(sbBytes);
    const rand = prng(9);
    for (let k = 0; k < 40; k++) {
      const tx = repo.beginTransaction();
      try {
        const b = Buffer.from(part);
        const i = Math.floor(rand() * b.length);
        b[i]! ^= 1 + Math.floor(rand() * 255);
        await assert.rejects(applyDeltaPart(repo, tx.dir, sb, 0, k % 5 === 0 ? b.subarray(0, b.length - 1) : b), (e: unknown) => e instanceof IngotError && e.code === 'DELTA_INVALID');
        const staged = fs.readdirSync(tx.dir).flatMap((d) => (d.length === 2 ? fs.readdirSync(path.join(tx.dir, d)) : []));
        assert.deepEqual(staged, []);
      } finally {
        tx.abort();
      }
    }
    const tx = repo.beginTransaction();
    try {
      await assert.rejects(applyDeltaPart(repo, tx.dir, sb, 5, part), (e: unknown) => isIngotError(e, 'DELTA_INVALID'));
    } finally {
      tx.abort();
    }
  });
});
