/**
 * sys().storeBareFiles, the native batch store of a commit into a bare or bare-user
 * repository. Its contract is checked against the JavaScript store (storeRegularFile) and the
 * codecs: for plain files the same checksum, the same staged bytes, mode, owner, mtime and
 * user.ostreemeta; every case it must leave to its caller (xattrs, over maxSize, not a regular
 * file) reported as status 2; a missing file as an errno error naming the path; an object
 * already in objects/ or already staged as status 1, writing nothing.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sys } from '../../src/platform/sys.js';
import { decodeUserMeta } from '../../src/codecs/ostree/objects.js';
import { storeRegularFile, type StoreContext } from '../../src/repo/store-file.js';
import { stagedObjectPath } from '../../src/repo/repo.js';
import { cleanup, prng, tmpdir } from '../helpers.js';

let work: string;

function stagingDir(name: string): string {
  const d = path.join(work, name);
  for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(d, i.toString(16).padStart(2, '0')), { recursive: true });
  return d;
}

function ctxFor(mode: 'bare' | 'bare-user', staging: string, objects: string, owner: number | null = null): StoreContext {
  return {
    repoPath: path.dirname(objects),
    stagingDir: staging,
    mode,
    ownerUid: owner,
    ownerGid: owner,
    xattrs: true,
    zlibLevel: 6,
    compressor: 'libdeflate',
    wantSizes: false,
  };
}

function staged(staging: string, checksum: string): string {
  return stagedObjectPath(staging, checksum, 'file');
}

suite('storeBareFiles', () => {
  before(() => {
    work = tmpdir('ingot-sbf-');
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const r = prng(7);
    const rnd = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => (r() * 256) | 0));
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.writeFileSync(path.join(src, 'small'), 'hello\n', { mode: 0o644 });
    fs.writeFileSync(path.join(src, 'exec'), rnd(70_000), { mode: 0o755 });
    fs.chmodSync(path.join(src, 'exec'), 0o4755);
    fs.writeFileSync(path.join(src, 'private'), rnd(5000), { mode: 0o600 });
    fs.writeFileSync(path.join(src, 'same'), 'hello\n', { mode: 0o644 });
    fs.writeFileSync(path.join(src, 'big'), rnd(3000));
    fs.writeFileSync(path.join(src, 'xattr'), 'x');
    sys().lsetxattr(path.join(src, 'xattr'), 'user.test', Buffer.from('v'));
    fs.mkdirSync(path.join(src, 'dir'));
    fs.symlinkSync('small', path.join(src, 'link'));
    fs.mkdirSync(path.join(work, 'objects'));
  });
  after(() => cleanup(work));

  for (const mode of ['bare-user', 'bare'] as const) {
    for (const owner of [null, 1234]) {
      it(`${mode}${owner === null ? '' : ' with an owner override'}: the same objects as the JavaScript store`, async () => {
        const tag = `${mode}-${owner ?? 'own'}`;
        const nat = stagingDir(`native-${tag}`);
        const js = stagingDir(`js-${tag}`);
        const objects = path.join(work, 'objects');
        const names = ['empty', 'small', 'exec', 'private', 'same'];
        const paths = names.map((n) => path.join(work, 'src', n));
        const res = await sys().storeBareFiles(nat, objects, mode === 'bare', owner ?? -1, owner ?? -1, true, 1 << 20, paths);
        // 'same' has the content and mode of 'small': one object, staged once.
        assert.deepEqual(res.status, [0, 0, 0, 0, 1]);
        assert.equal(res.digests[4], res.digests[1]);
        for (let i = 0; i < names.length; i++) {
          const want = storeRegularFile(ctxFor(mode, js, objects, owner), paths[i]!);
          assert.equal(res.digests[i], want.checksum, `${names[i]}: checksum`);
          assert.equal(res.sizes[i], want.size, `${names[i]}: size`);
          assert.equal(res.errors[i], null);
          const a = staged(nat, want.checksum);
          const b = staged(js, want.checksum);
          assert.deepEqual(fs.readFileSync(a), fs.readFileSync(b), `${names[i]}: bytes`);
          const sa = fs.statSync(a);
          const sb = fs.statSync(b);
          assert.equal(sa.mode, sb.mode, `${names[i]}: mode`);
          assert.equal(sa.uid, sb.uid, `${names[i]}: uid`);
          assert.equal(sa.gid, sb.gid, `${names[i]}: gid`);
          assert.equal(sa.mtimeMs, 0, `${names[i]}: mtime`);
          if (mode === 'bare-user') {
            const ma = sys().lgetxattr(a, 'user.ostreemeta')!;
            assert.deepEqual(ma, sys().lgetxattr(b, 'user.ostreemeta'), `${names[i]}: user.ostreemeta`);
            const m = decodeUserMeta(ma);
            assert.equal(m.mode, fs.statSync(paths[i]!).mode);
            if (owner !== null) assert.equal(m.uid, owner);
          } else if (owner !== null) {
            assert.equal(sa.uid, owner);
          }
        }
      });
    }
  }

  it('leaves xattrs, large files and non-files to the caller, and names a missing file', async () => {
    const nat = stagingDir('native-rest');
    const src = path.join(work, 'src');
    const paths = ['xattr', 'big', 'dir', 'link', 'gone'].map((n) => path.join(src, n));
    const res = await sys().storeBareFiles(nat, path.join(work, 'objects'), false, -1, -1, true, 2048, paths);
    assert.deepEqual(res.status, [2, 2, 2, 3, 3]);
    // O_NOFOLLOW: a symlink is never followed.
    assert.equal((res.errors[3] as NodeJS.ErrnoException).code, 'ELOOP');
    const gone = res.errors[4] as NodeJS.ErrnoException;
    assert.equal(gone.code, 'ENOENT');
    assert.equal(gone.path, paths[4]);
    assert.equal(gone.syscall, 'open');
    // Without the xattr check, the file with an xattr is stored (its xattr left out, as --no-xattrs).
    const res2 = await sys().storeBareFiles(nat, path.join(work, 'objects'), false, -1, -1, false, 2048, paths.slice(0, 1));
    assert.deepEqual(res2.status, [0]);
    const count = fs.readdirSync(nat).reduce((n, d) => n + fs.readdirSync(path.join(nat, d)).length, 0);
    assert.equal(count, 1, 'only the one object was staged');
  });

  it('writes nothing for an object that objects/ already holds', async () => {
    const repo = path.join(work, 'repo');
    const objects = path.join(repo, 'objects');
    const first = stagingDir('first');
    const p = path.join(work, 'src', 'private');
    const res = await sys().storeBareFiles(first, path.join(work, 'objects'), false, -1, -1, true, 1 << 20, [p]);
    const c = res.digests[0]!;
    fs.mkdirSync(path.join(objects, c.slice(0, 2)), { recursive: true });
    fs.renameSync(staged(first, c), path.join(objects, c.slice(0, 2), `${c.slice(2)}.file`));
    const second = stagingDir('second');
    const again = await sys().storeBareFiles(second, objects, false, -1, -1, true, 1 << 20, [p]);
    assert.deepEqual(again.status, [1]);
    assert.equal(again.digests[0], c);
    assert.equal(fs.existsSync(staged(second, c)), false);
  });

  it('rejects the batch when the staging folder is missing', async () => {
    await assert.rejects(
      sys().storeBareFiles(path.join(work, 'no-such-staging'), path.join(work, 'objects'), false, -1, -1, true, 1 << 20, []),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
  });
});
