/**
 * Large files in an archive repository: ingot compresses a content object over 8 MiB on every
 * core, in 2 MiB chunks joined into one raw DEFLATE stream (sys().deflateFile). The real
 * ostree must read such objects: `ostree fsck` clean, `ostree checkout` bit for bit; zlib must
 * inflate each object's stream to the file; and the commit must be the one `ostree commit`
 * makes of the same tree (checksums cover the uncompressed content, so the compressed bytes,
 * which differ from ostree's, do not enter them).
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { cleanup, firstChecksum, hashFile, ingotOk, ostree, ostreeOk, prng, tmpdir } from '../helpers.js';
import { assertOstreeFsckClean } from './trees.js';
import { PARALLEL_CHUNK } from '../../src/repo/store-file.js';

const ARGS = ['-s', 'large files', '--timestamp=@1700000000'];

/** Pages of half random bytes and half text: compressible, and no two pages alike. */
function writeMixed(p: string, size: number, seed: number): void {
  const r = prng(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) {
    const end = Math.min(size, i + 4096);
    const mid = i + ((end - i) >> 1);
    for (let k = i; k < mid; k++) b[k] = (r() * 256) | 0;
    for (let k = mid; k < end; k++) b[k] = 0x61 + ((k * 7 + i) % 26);
  }
  fs.writeFileSync(p, b);
}

suite('large archive objects compressed in parallel chunks are read by ostree and zlib', () => {
  let tmp = '';
  let src = '';
  let repo = '';
  let commit = '';
  const files: Record<string, number> = {
    // just over the 8 MiB threshold: 5 chunks, the last one a single byte
    'over-threshold.bin': 8 * 1024 * 1024 + 1,
    // several chunks and an odd tail
    'sub/odd-tail.bin': 9 * 1024 * 1024 + 12345,
    // a whole number of chunks
    'sub/exact-chunks.bin': 5 * PARALLEL_CHUNK,
  };

  before(() => {
    tmp = tmpdir('ingot-large-archive-');
    src = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    let seed = 1;
    for (const [name, size] of Object.entries(files)) writeMixed(path.join(src, name), size, seed++);
    fs.writeFileSync(path.join(src, 'small.txt'), 'a small file beside the large ones\n');
    fs.chmodSync(path.join(src, 'sub/odd-tail.bin'), 0o755);
    repo = path.join(tmp, 'repo');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    // Three threads on whatever cores there are: chunks finish out of order and must be
    // written in order.
    commit = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'x', ...ARGS, src], { env: { INGOT_THREADS: '3' } }));
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  it('ostree fsck finds the repository clean', () => {
    assertOstreeFsckClean(ostree(repo, ['fsck']), 'the archive repository');
  });

  it('ostree checkout reproduces every file bit for bit', () => {
    const dest = path.join(tmp, 'co');
    ostreeOk(repo, ['checkout', 'x', dest]);
    for (const name of [...Object.keys(files), 'small.txt']) {
      assert.equal(hashFile(path.join(dest, name)), hashFile(path.join(src, name)), name);
    }
    assert.equal(fs.statSync(path.join(dest, 'sub/odd-tail.bin')).mode & 0o7777, 0o755);
    cleanup(dest);
  });

  it('zlib inflates each large object to its file, and the objects are compressed', () => {
    const objects: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.filez') && fs.statSync(p).size > 1024 * 1024) objects.push(p);
      }
    };
    walk(path.join(repo, 'objects'));
    assert.equal(objects.length, Object.keys(files).length);
    const wanted = new Map(Object.keys(files).map((n) => [hashFile(path.join(src, n)), n]));
    for (const o of objects) {
      const b = fs.readFileSync(o);
      const headerLength = 8 + b.readUInt32BE(0);
      const data = zlib.inflateRawSync(b.subarray(headerLength));
      const name = wanted.get(createHash('sha256').update(data).digest('hex'));
      assert.ok(name, `${o} inflates to none of the large files`);
      assert.equal(data.length, files[name]);
      assert.ok(b.length < data.length * 0.8, `${name}: ${b.length} bytes stored for ${data.length}`);
    }
  });

  it('the commit is the one ostree commit makes of the same tree', () => {
    const theirs = path.join(tmp, 'repo-ostree');
    ostreeOk(theirs, ['init', '--mode=archive']);
    const c = ostreeOk(theirs, ['commit', '-b', 'x', ...ARGS, src]).trim();
    assert.equal(commit, c);
  });
});
