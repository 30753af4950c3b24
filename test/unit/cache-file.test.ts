/**
 * Self-checking cache files (src/sources/cache-file.ts): what is written reads back only for
 * its kind and key and only intact; pruning keeps the most recently used files and removes
 * temporary files that a dead writer left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpdir } from '../helpers.js';
import { pruneCacheDir, readCacheFile, touchCacheFile, writeCacheFile } from '../../src/sources/cache-file.js';

test('cache files read back intact for their kind and key only', () => {
  const dir = tmpdir('ingot-cache-file-');
  try {
    const file = path.join(dir, 'sub', 'k1.json');
    const body = Buffer.from('{"x":"données"}\n\u0000binary\xff', 'latin1');
    assert.equal(writeCacheFile(file, 'plan', 'k1', body), true, 'parent folders are made');
    assert.deepEqual(readCacheFile(file, 'plan', 'k1'), body);
    assert.equal(readCacheFile(file, 'plan', 'k2'), null, 'another key');
    assert.equal(readCacheFile(file, 'apt-index-2', 'k1'), null, 'another kind');
    assert.equal(readCacheFile(path.join(dir, 'missing'), 'plan', 'k1'), null, 'no file');
    const good = fs.readFileSync(file);
    for (let i = 0; i < good.length; i += 7) {
      const bad = Buffer.from(good);
      bad[i] = bad[i]! ^ 0x04;
      fs.writeFileSync(file, bad);
      assert.equal(readCacheFile(file, 'plan', 'k1'), null, `byte ${i} flipped`);
    }
    for (const n of [0, 10, good.length - 1]) {
      fs.writeFileSync(file, good.subarray(0, n));
      assert.equal(readCacheFile(file, 'plan', 'k1'), null, `cut at ${n}`);
    }
    fs.writeFileSync(file, Buffer.concat([good, Buffer.from('x')]));
    assert.equal(readCacheFile(file, 'plan', 'k1'), null, 'a byte appended');
    assert.throws(() => writeCacheFile(file, 'a kind', 'k', 'x'), /spaces/);
    // An unwritable place is not an error: the cache is only an optimisation.
    fs.writeFileSync(path.join(dir, 'plain'), 'x');
    assert.equal(writeCacheFile(path.join(dir, 'plain', 'f.json'), 'plan', 'k', 'x'), false);
  } finally {
    cleanup(dir);
  }
});

test('pruning keeps the most recently used files and removes stale temporary files', () => {
  const dir = tmpdir('ingot-cache-prune-');
  try {
    const t0 = Date.now() / 1000 - 10_000;
    for (let i = 0; i < 6; i++) {
      const f = path.join(dir, `f${i}.idx`);
      writeCacheFile(f, 'k', `f${i}`, 'x');
      fs.utimesSync(f, t0 + i, t0 + i);
    }
    touchCacheFile(path.join(dir, 'f0.idx')); // used now: the newest
    fs.writeFileSync(path.join(dir, 'other.json'), 'x');
    const stale = path.join(dir, '.f9.idx-123-abcdef');
    const fresh = path.join(dir, '.f8.idx-124-abcdef');
    fs.writeFileSync(stale, 'x');
    fs.utimesSync(stale, t0, t0);
    fs.writeFileSync(fresh, 'x');
    pruneCacheDir(dir, '.idx', 3);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['.f8.idx-124-abcdef', 'f0.idx', 'f4.idx', 'f5.idx', 'other.json']);
    pruneCacheDir(path.join(dir, 'missing'), '.idx', 3); // no folder: nothing to do
  } finally {
    cleanup(dir);
  }
});
