/**
 * Byte identity with the real ostree: the same tree with the same subject, body, timestamp and
 * metadata gives the same commit checksum (and ContentChecksum) from `ingot repo commit` as
 * from `ostree commit`, in archive, bare-user and bare repositories: with typed metadata,
 * owner overrides, a parent, without and with extra ref bindings, without a branch, without
 * xattrs, and with a collection ID. --generate-sizes: see its own suite. Also the summary:
 * `ingot repo summary -u` is what `ostree summary -u` writes, but for the time stamp.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, firstChecksum, ingotOk, ostree, ostreeOk, runOk, tmpdir } from '../helpers.js';
import { assertOstreeFsckClean, assertXattrsSettable, buildKindsTree, lines, setx } from './trees.js';

const MODES = ['archive', 'bare-user', 'bare'] as const;

/** Options both tools take with the same meaning, in the same syntax. */
const SUBJECT = `Release 1.2.3: ünïcödé, 'quotes' and "double quotes"`;
const BODY = 'First line of the body.\n\n  Indented line\ttab\nLast line';
const METADATA = [
  '--add-metadata-string=version=1.2.3',
  '--add-metadata-string=empty-string=',
  '--add-metadata-string=with=equals=signs',
  '--add-metadata=count=uint64 5',
  "--add-metadata=list=['a','b']",
  '--add-metadata=flag=true',
  '--add-metadata=int=-42',
  '--add-metadata=int64=int64 -9000000000',
  '--add-metadata=byte=byte 0x41',
  '--add-metadata=double=3.25',
  "--add-metadata=bytestring=b'bytes'",
  "--add-metadata=dict={'k': <'v'>, 'n': <1>}",
  "--add-metadata=tuple=(1, 'x', true)",
  '--add-metadata=empty-array=@as []',
  '--add-metadata=maybe=@mi 7',
  '--add-metadata=nothing=@ms nothing',
  "--add-metadata=variant=<'inner'>",
  "--add-metadata=path=objectpath '/org/example'",
  '--add-metadata=u32=uint32 4000000000',
  "--add-metadata=nested=[['a'], ['b', 'c']]",
];
const BASE = ['-s', SUBJECT, '-m', BODY, '--timestamp=@1577836800', ...METADATA];

function contentChecksumOf(repo: string, rev: string): string {
  const m = /^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(ostreeOk(repo, ['show', rev]));
  assert.ok(m, `ostree show ${rev}`);
  return m[1]!;
}

interface Pair {
  ours: string;
  theirs: string;
}

suite('ingot repo commit is byte-identical to ostree commit', () => {
  let tmp = '';
  let tree = '';
  let tree2 = '';

  before(() => {
    tmp = tmpdir('ingot-id-');
    assertXattrsSettable(tmp);
    tree = path.join(tmp, 'tree');
    buildKindsTree(tree);
    tree2 = path.join(tmp, 'tree2');
    runOk('cp', ['-a', tree, tree2]);
    fs.writeFileSync(path.join(tree2, 'regular.txt'), 'second version\n');
    fs.mkdirSync(path.join(tree2, 'added'));
    fs.writeFileSync(path.join(tree2, 'added', 'file'), 'added\n');
    setx(path.join(tree2, 'added'), 'user.added', 'yes');
    fs.rmSync(path.join(tree2, 'streaming', '8mib.bin'));
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  for (const mode of MODES) {
    suite(`${mode} repositories`, () => {
      let ourRepo = '';
      let theirRepo = '';
      /** Commits with both tools; `theirArgs` defaults to the same arguments. */
      const both = (args: string[], theirArgs: string[] = args): Pair => {
        const ours = firstChecksum(ingotOk(['repo', 'commit', '--repo', ourRepo, ...args]));
        const theirs = ostreeOk(theirRepo, ['commit', ...theirArgs]).trim();
        return { ours, theirs };
      };
      const assertSame = (p: Pair): void => {
        assert.match(p.theirs, /^[0-9a-f]{64}$/);
        assert.equal(p.ours, p.theirs, 'commit checksum');
        // ostree computes the ContentChecksum of ingot's commit in ingot's repository.
        assert.equal(contentChecksumOf(ourRepo, p.ours), contentChecksumOf(theirRepo, p.theirs), 'ContentChecksum');
      };

      before(() => {
        ourRepo = path.join(tmp, `ours-${mode}`);
        theirRepo = path.join(tmp, `theirs-${mode}`);
        ingotOk(['repo', 'init', '--repo', ourRepo, '--mode', mode]);
        ostreeOk(theirRepo, ['init', `--mode=${mode}`]);
      });

      it('same tree, subject, body, timestamp and typed metadata (-b adds ostree.ref-binding)', () => {
        const p = both(['-b', 'id/base', ...BASE, tree]);
        assertSame(p);
        const meta = ostreeOk(ourRepo, ['show', '--print-metadata-key=ostree.ref-binding', p.ours]).trim();
        assert.equal(meta, "['id/base']");
        const ours = JSON.parse(ingotOk(['--json', 'repo', 'show', '--repo', ourRepo, 'id/base'])) as { contentChecksum: string };
        assert.equal(ours.contentChecksum, contentChecksumOf(theirRepo, p.theirs), "ingot's own ContentChecksum");
      });

      it('a second commit on the branch (with its parent)', () => {
        const first = ostreeOk(theirRepo, ['rev-parse', 'id/base']).trim();
        const p = both(['-b', 'id/base', '-s', 'second', '--timestamp=@1577836900', tree2]);
        assertSame(p);
        assert.equal(ostreeOk(ourRepo, ['rev-parse', `${p.ours}^`]).trim(), first);
        assert.equal(ostreeOk(theirRepo, ['rev-parse', `${p.theirs}^`]).trim(), first);
      });

      it('an explicit --parent on another branch', () => {
        const parent = ostreeOk(theirRepo, ['rev-parse', 'id/base^']).trim();
        assertSame(both(['-b', 'id/explicit-parent', `--parent=${parent}`, '-s', 'explicit parent', '--timestamp=@1577837000', tree2]));
      });

      it('--owner-uid and --owner-gid', () => {
        assertSame(both(['-b', 'id/owner', '--owner-uid=1000', '--owner-gid=1001', '-s', 'owners', '--timestamp=@1577836800', tree]));
        assertSame(both(['-b', 'id/owner-root', '--owner-uid=0', '--owner-gid=0', '-s', 'root', '--timestamp=@1577836800', tree]));
      });

      it('--no-bindings', () => {
        const p = both(['-b', 'id/no-bindings', '--no-bindings', ...BASE, tree]);
        assertSame(p);
        assert.equal(ostree(ourRepo, ['show', '--print-metadata-key=ostree.ref-binding', p.ours]).status, 1, 'no ref binding');
      });

      it('--bind-ref (sorted into ostree.ref-binding)', () => {
        assertSame(both(['-b', 'id/bound', '--bind-ref=zz/last', '--bind-ref=aa/first', '-s', 'bound', '--timestamp=@1577836800', tree]));
      });

      it('no branch (ostree --orphan: an empty ostree.ref-binding)', () => {
        const p = both(['-s', 'orphan', '--timestamp=@1577836800', tree], ['--orphan', '-s', 'orphan', '--timestamp=@1577836800', tree]);
        assertSame(p);
        assert.equal(ostreeOk(ourRepo, ['show', '--print-metadata-key=ostree.ref-binding', p.ours]).trim(), '@as []');
      });

      it('--no-xattrs', () => {
        assertSame(both(['-b', 'id/no-xattrs', '--no-xattrs', '-s', 'no xattrs', '--timestamp=@1577836800', tree]));
      });

      it('a repository with a collection ID (ostree.collection-binding)', () => {
        const ours = path.join(tmp, `ours-cid-${mode}`);
        const theirs = path.join(tmp, `theirs-cid-${mode}`);
        ingotOk(['repo', 'init', '--repo', ours, '--mode', mode, '--collection-id', 'org.example.Ingot']);
        ostreeOk(theirs, ['init', `--mode=${mode}`, '--collection-id=org.example.Ingot']);
        const args = ['-b', 'os/stable', '-s', 'collection', '--timestamp=@1577836800', tree];
        const a = firstChecksum(ingotOk(['repo', 'commit', '--repo', ours, ...args]));
        const b = ostreeOk(theirs, ['commit', ...args]).trim();
        assert.equal(a, b);
        assert.equal(ostreeOk(ours, ['show', '--print-metadata-key=ostree.collection-binding', a]).trim(), "'org.example.Ingot'");
        assertOstreeFsckClean(ostree(ours, ['fsck']), 'the collection repository');
        cleanup(ours);
        cleanup(theirs);
      });

      it("ostree fsck is clean on ingot's repository, and both repositories hold the same refs", () => {
        assertOstreeFsckClean(ostree(ourRepo, ['fsck']), `ingot's ${mode} repository`);
        const refs = (r: string): string[] => lines(ostreeOk(r, ['refs'])).sort();
        assert.deepEqual(refs(ourRepo), refs(theirRepo));
        for (const ref of refs(theirRepo)) assert.equal(ostreeOk(ourRepo, ['rev-parse', ref]), ostreeOk(theirRepo, ['rev-parse', ref]), ref);
      });
    });
  }
});

/** The `ostree.sizes` entries as ostree prints them: checksum -> [archived, unpacked, type]. */
function sizesOf(repo: string, rev: string): Map<string, [number, number, number]> {
  const text = ostreeOk(repo, ['show', '--print-metadata-key=ostree.sizes', rev]);
  const out = new Map<string, [number, number, number]>();
  // `[[byte 0x35, 0xb4, ...], [0x3a, ...], ...]`: one byte array per object.
  for (const m of text.matchAll(/\[(?:byte )?((?:0x[0-9a-f]{2}(?:, )?)+)\]/g)) {
    const b = m[1]!.split(', ').map((x) => parseInt(x, 16));
    let pos = 32;
    const varint = (): number => {
      let v = 0;
      let shift = 0;
      for (;;) {
        const byte = b[pos++]!;
        v += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(byte & 0x80)) return v;
      }
    };
    const archived = varint();
    const unpacked = varint();
    assert.equal(pos, b.length - 1, 'one entry: checksum, two varints, the object type');
    out.set(Buffer.from(b.slice(0, 32)).toString('hex'), [archived, unpacked, b[pos]!]);
  }
  return out;
}

function objectFile(repo: string, checksum: string, type: number): string {
  const ext = type === 1 ? 'filez' : type === 2 ? 'dirtree' : type === 3 ? 'dirmeta' : 'commit';
  return path.join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${ext}`);
}

suite('--generate-sizes (archive)', () => {
  let tmp = '';

  before(() => {
    tmp = tmpdir('ingot-sizes-');
    assertXattrsSettable(tmp);
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  it('a tree of tiny files (where every deflate writes the same bytes) gives the same commit', () => {
    const tree = path.join(tmp, 'tiny');
    fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(tree, `f${i}`), `file ${i}\n`);
    fs.writeFileSync(path.join(tree, 'd', 'g'), 'xyz\n');
    fs.writeFileSync(path.join(tree, 'empty'), '');
    fs.symlinkSync('f1', path.join(tree, 'link'));
    setx(path.join(tree, 'f0'), 'user.x', 'y');
    const ours = path.join(tmp, 'tiny-ours');
    const theirs = path.join(tmp, 'tiny-theirs');
    ingotOk(['repo', 'init', '--repo', ours, '--mode', 'archive']);
    ostreeOk(theirs, ['init', '--mode=archive']);
    const args = ['-b', 'sized', '--generate-sizes', '-s', 'sizes', '--timestamp=@1577836800', tree];
    const a = firstChecksum(ingotOk(['repo', 'commit', '--repo', ours, ...args]));
    const b = ostreeOk(theirs, ['commit', ...args]).trim();
    assert.equal(a, b);
    assertOstreeFsckClean(ostree(ours, ['fsck']), 'the tiny sized repository');
  });

  it("ostree accepts ingot's ostree.sizes for a varied tree, and they describe the objects as ostree's do", () => {
    // Compressed sizes follow the compressor: ingot's deflate output is not byte-identical to
    // the system zlib's that ostree uses, so the commit checksums differ here; everything else
    // in ostree.sizes must agree, and each archived size must be the object file's size.
    const tree = path.join(tmp, 'kinds');
    buildKindsTree(tree);
    const ours = path.join(tmp, 'ours');
    const theirs = path.join(tmp, 'theirs');
    ingotOk(['repo', 'init', '--repo', ours, '--mode', 'archive']);
    ostreeOk(theirs, ['init', '--mode=archive']);
    const args = ['-b', 'sized', '--generate-sizes', '-s', 'sizes', '--timestamp=@1577836800', tree];
    const a = firstChecksum(ingotOk(['repo', 'commit', '--repo', ours, ...args]));
    const b = ostreeOk(theirs, ['commit', ...args]).trim();
    assertOstreeFsckClean(ostree(ours, ['fsck']), 'the sized repository');
    assert.match(ostreeOk(ours, ['show', a]), /^ContentChecksum:\s+[0-9a-f]{64}$/m);
    assert.equal(contentChecksumOf(ours, a), contentChecksumOf(theirs, b));
    const mine = sizesOf(ours, a);
    const theirSizes = sizesOf(theirs, b);
    assert.ok(theirSizes.size > 100, `${theirSizes.size} entries`);
    assert.deepEqual([...mine.keys()], [...theirSizes.keys()], 'the same objects, in the same (sorted) order');
    for (const [c, [archived, unpacked, type]] of mine) {
      const [, theirUnpacked, theirType] = theirSizes.get(c)!;
      assert.equal(unpacked, theirUnpacked, `unpacked size of ${c}`);
      assert.equal(type, theirType, `object type of ${c}`);
      assert.equal(archived, fs.statSync(objectFile(ours, c, type)).size, `archived size of ${c}`);
    }
    for (const [c, [archived, , type]] of theirSizes) {
      assert.equal(archived, fs.statSync(objectFile(theirs, c, type)).size, `ostree's archived size of ${c}`);
    }
  });
});

suite('ingot repo summary -u', () => {
  let tmp = '';

  before(() => {
    tmp = tmpdir('ingot-summary-');
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  /** Where the 8 bytes of ostree.summary.last-modified's value are in a summary file. */
  function lastModifiedOffset(b: Buffer): number {
    const key = Buffer.from('ostree.summary.last-modified\0');
    const at = b.indexOf(key);
    assert.ok(at >= 0, 'the summary has ostree.summary.last-modified');
    // The dict entry starts 8-aligned (its v makes it so); the variant value follows the key,
    // aligned to 8 from the entry's start.
    return at + Math.ceil(key.length / 8) * 8;
  }

  for (const mode of ['archive', 'bare-user'] as const) {
    it(`${mode}: ostree summary --view accepts it, and it is ostree's summary but for the time stamp`, () => {
      const repo = path.join(tmp, `repo-${mode}`);
      const tree = path.join(tmp, `tree-${mode}`);
      fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
      fs.writeFileSync(path.join(tree, 'd', 'f'), 'content\n');
      ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
      const refs: Record<string, string> = {};
      const commit = (ref: string, ...args: string[]): void => {
        refs[ref] = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', ref, ...args, tree]));
      };
      commit('os/x86_64/stable', '--add-metadata-string=version=3.1', '--timestamp=@1600000000', '-s', 'stable');
      commit('os/x86_64/testing', '--timestamp=@1600000100', '-s', 'testing');
      fs.writeFileSync(path.join(tree, 'd', 'f'), 'changed\n');
      commit('os/x86_64/stable', '--add-metadata-string=version=3.2', '--timestamp=@1600000200', '-s', 'stable 2');
      commit('app/zz-last', '--timestamp=@1600000300');
      commit('a', '--timestamp=@1600000400', '--add-metadata-string=version=long version string with spaces');

      ingotOk(['repo', 'summary', '-u', '--repo', repo]);
      const view = ostreeOk(repo, ['summary', '--view']);
      const listed = [...view.matchAll(/^\* (\S+)\n {4}Latest Commit \(\d+ bytes\):\n {6}([0-9a-f]{64})$/gm)].map((m) => [m[1], m[2]]);
      assert.deepEqual(
        listed,
        Object.entries(refs).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
      );
      assert.match(view, /^Repository Mode \(ostree\.summary\.mode\): (archive-z2|bare-user)$/m);
      assert.match(view, /^ {4}Version \(ostree\.commit\.version\): 3\.2$/m);

      // ostree's own summary of the same repository, in a copy.
      const copy = path.join(tmp, `copy-${mode}`);
      runOk('cp', ['-a', repo, copy]);
      ostreeOk(copy, ['summary', '-u']);
      const noTime = (s: string): string => s.replace(/^Last-Modified .*$/m, '');
      assert.equal(noTime(view), noTime(ostreeOk(copy, ['summary', '--view'])));
      // Byte for byte, but for the last-modified time stamp.
      const ours = fs.readFileSync(path.join(repo, 'summary'));
      const theirs = fs.readFileSync(path.join(copy, 'summary'));
      assert.equal(ours.length, theirs.length);
      const at = lastModifiedOffset(ours);
      assert.equal(at, lastModifiedOffset(theirs));
      const differing = [...ours.keys()].filter((i) => ours[i] !== theirs[i]);
      assert.ok(
        differing.every((i) => i >= at && i < at + 8),
        `bytes differ outside the time stamp at ${at}: ${differing.join(', ')}`,
      );
      // And ingot reads ostree's summary.
      const back = JSON.parse(ingotOk(['--json', 'repo', 'summary', '--view', '--repo', copy])) as { refs: { name: string; checksum: string }[] };
      assert.deepEqual(
        back.refs.map((r) => [r.name, r.checksum]),
        listed,
      );
    });
  }

  it('with a collection ID: ostree summary --view lists the refs with it', () => {
    const repo = path.join(tmp, 'repo-cid');
    const tree = path.join(tmp, 'tree-cid');
    fs.mkdirSync(tree);
    fs.writeFileSync(path.join(tree, 'f'), 'f\n');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive', '--collection-id', 'org.example.Ingot']);
    const c = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'os/stable', '--timestamp=@1600000000', tree]));
    ingotOk(['repo', 'summary', '-u', '--repo', repo]);
    const view = ostreeOk(repo, ['summary', '--view']);
    assert.match(view, new RegExp(`^\\* \\(org\\.example\\.Ingot, os/stable\\)\\n {4}Latest Commit \\(\\d+ bytes\\):\\n {6}${c}$`, 'm'));
    assert.match(view, /^Collection ID \(ostree\.summary\.collection-id\): org\.example\.Ingot$/m);
  });
});
