/**
 * ingot writes, the real ostree reads: a tree with every kind of entry (see trees.ts), 50,000
 * small files and a 200 MiB file is committed by `ingot repo commit` into an archive and a
 * bare-user repository; `ostree fsck` must be clean, `ostree ls -R` must list exactly the
 * tree, and `ostree checkout` must reproduce it bit for bit (contents, modes, owners, symlink
 * targets, xattrs); its 20,000-entry directory must be the dirtree `ostree commit` makes.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, firstChecksum, ingotOk, ostree, ostreeOk, tmpdir, treeDiff, type TreeEntry } from '../helpers.js';
import {
  addBulk,
  assertOstreeFsckClean,
  assertXattrsSettable,
  buildKindsTree,
  describe,
  expectedLs,
  lineSetDiff,
  lines,
} from './trees.js';

const MODES = ['archive', 'bare-user'] as const;
const REF = 'interop/x86_64/big';
const SMALL_FILES = 50_000;
const BIG_MIB = 200;
const COMMIT_ARGS = ['-s', 'every kind of entry', '-m', 'body\n\nsecond paragraph', '--timestamp=@1700000000', '--add-metadata-string=version=7.1'];

suite('ingot repo commit -> real ostree (every kind of entry, 50,000 files, a 200 MiB file)', () => {
  let tmp = '';
  let src = '';
  let srcDesc = new Map<string, TreeEntry>();
  const commits: Record<string, string> = {};
  const repos: Record<string, string> = {};

  before(() => {
    tmp = tmpdir('ingot-i2o-');
    assertXattrsSettable(tmp);
    src = path.join(tmp, 'tree');
    buildKindsTree(src);
    addBulk(src, { count: SMALL_FILES, bigMiB: BIG_MIB });
    // The source without the empty-valued xattr, which ostree never carries (trees.ts).
    srcDesc = describe(src);
    for (const mode of MODES) {
      const repo = path.join(tmp, `repo-${mode}`);
      repos[mode] = repo;
      ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
      commits[mode] = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', REF, ...COMMIT_ARGS, src]));
    }
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  it('the fixture really has every kind of entry', () => {
    const entries = [...srcDesc.values()];
    const files = entries.filter((e) => e.type === 'file');
    assert.ok(files.length > SMALL_FILES, `only ${files.length} files`);
    assert.equal(srcDesc.get('/big/blob.bin')?.size, BIG_MIB << 20);
    assert.ok(entries.some((e) => e.type === 'file' && e.size === 0), 'an empty file');
    assert.ok(entries.some((e) => e.type === 'symlink' && e.target?.startsWith('/')), 'an absolute symlink');
    assert.equal(srcDesc.get('/link-dangling')?.type, 'symlink');
    assert.equal(srcDesc.get('/suid')?.mode, 0o4755);
    assert.equal(srcDesc.get('/sgid')?.mode, 0o2755);
    assert.equal(srcDesc.get('/sticky-dir')?.mode, 0o1777);
    assert.equal(srcDesc.get('/owned-suid')?.mode, 0o4755);
    assert.equal(srcDesc.get('/owned-suid')?.uid, 1000);
    assert.equal(srcDesc.get('/big-uid')?.uid, 3_000_000_000);
    assert.equal(srcDesc.get('/owned-link')?.gid, 2222);
    assert.deepEqual(Object.keys(srcDesc.get('/xattr-file')!.xattrs), [
      'security.foo',
      'trusted.ingot',
      'user.alpha',
      'user.binary',
      'user.nul-terminated',
      'user.print-escapes',
      'user.print-quote',
      'user.print-utf8',
    ]);
    assert.equal(srcDesc.get('/xattr-link')?.xattrs['security.foo'], Buffer.from('linksec').toString('hex'));
    assert.equal(srcDesc.get('/xattr-dir')?.xattrs['security.foo'], Buffer.from('dirsec').toString('hex'));
    assert.equal(srcDesc.get('/')?.xattrs['user.root'], Buffer.from('top').toString('hex'));
    assert.ok([...srcDesc.keys()].some((p) => p.split('/').length > 60), '60 levels of nesting');
    assert.ok(srcDesc.has('/names/-leading-dash') && srcDesc.has('/names/with space') && srcDesc.has('/names/日本語のファイル'));
    const ino = (p: string): number => fs.lstatSync(path.join(src, p)).ino;
    assert.equal(ino('hardlink-a'), ino('sub/hardlink-c'), 'hardlinks');
  });

  it('the commit is the same in both modes; its 20,000-entry directory is the dirtree `ostree commit` writes', () => {
    assert.equal(commits['archive'], commits['bare-user']);
    // Whole-tree identity with ostree commit is identity.test.ts's subject; here, the one
    // structure only this tree has: a dirtree over 64 KiB (4-byte GVariant offsets). Content
    // objects are covered by ostree fsck, which rehashes every one.
    const scratch = path.join(tmp, 'ostree-flat');
    ostreeOk(scratch, ['init', '--mode=bare-user']);
    // --fsync=false only saves time; it changes nothing in the objects.
    const c = ostreeOk(scratch, ['commit', '--orphan', '--fsync=false', path.join(src, 'many', 'flat')]).trim();
    const dirLine = /^d0\d{4} \d+ \d+ +\d+ ([0-9a-f]{64}) ([0-9a-f]{64}) /;
    const theirs = dirLine.exec(lines(ostreeOk(scratch, ['ls', '-C', c, '/']))[0]!);
    const ours = dirLine.exec(lines(ostreeOk(repos['archive']!, ['ls', '-C', REF, '/many/flat']))[0]!);
    assert.ok(theirs && ours);
    assert.deepEqual([ours[1], ours[2]], [theirs[1], theirs[2]], 'dirtree and dirmeta of /many/flat');
    const tree = ours[1]!;
    assert.ok(fs.statSync(path.join(repos['archive']!, 'objects', tree.slice(0, 2), `${tree.slice(2)}.dirtree`)).size > 0xffff);
    cleanup(scratch);
  });

  for (const mode of MODES) {
    suite(`${mode} repository`, () => {
      it('ostree fsck is clean', () => {
        assertOstreeFsckClean(ostree(repos[mode]!, ['fsck']), `ingot's ${mode} repository`);
      });

      it('ostree log and show read the commit', () => {
        const log = ostreeOk(repos[mode]!, ['log', REF]);
        assert.match(log, new RegExp(`^commit ${commits[mode]}$`, 'm'));
        assert.match(log, /^Version: 7\.1$/m);
        assert.match(log, /^ {4}every kind of entry$/m);
        assert.equal(ostreeOk(repos[mode]!, ['rev-parse', REF]).trim(), commits[mode]);
        const show = ostreeOk(repos[mode]!, ['show', REF]);
        const ours = JSON.parse(ingotOk(['--json', 'repo', 'show', '--repo', repos[mode]!, REF])) as { contentChecksum: string };
        assert.equal(/^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(show)?.[1], ours.contentChecksum);
      });

      it('ostree ls -R lists exactly the tree (types, modes, owners, sizes, targets)', () => {
        const listed = lines(ostreeOk(repos[mode]!, ['ls', '-R', REF]));
        const expected = expectedLs(srcDesc);
        assert.deepEqual(lineSetDiff(listed, expected), []);
        assert.equal(listed.length, expected.length);
      });

      it('ostree checkout reproduces the tree bit for bit', () => {
        const dest = path.join(tmp, `checkout-${mode}`);
        // As root, without -U: ostree restores owners and xattrs (from user.ostreemeta for
        // bare-user, which it does not copy into the checkout).
        ostreeOk(repos[mode]!, ['checkout', REF, dest]);
        try {
          assert.deepEqual(treeDiff(srcDesc, describe(dest)), []);
        } finally {
          cleanup(dest);
        }
      });
    });
  }
});
