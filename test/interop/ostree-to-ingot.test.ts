/**
 * The real ostree writes, ingot reads and extends: repositories made by `ostree commit`
 * (archive, bare-user and bare) holding two commits of a varied tree are read by ingot's
 * log, rev-parse, ls, diff, show, cat, checkout and fsck, whose answers must equal ostree's
 * own; then `ingot repo commit` adds a third commit on the same branch and ostree must read
 * it (log, fsck, ls, diff, checkout).
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INGOT, cleanup, firstChecksum, ingotOk, ostree, ostreeOk, runOk, tmpdir, treeDiff, type TreeEntry } from '../helpers.js';
import {
  ODD_NAMES,
  addBulk,
  assertOstreeFsckClean,
  assertXattrsSettable,
  buildKindsTree,
  describe,
  lines,
  prng,
  randomBytes,
  setx,
} from './trees.js';

const MODES = ['archive', 'bare-user', 'bare'] as const;
const REF = 'main';

/** The second version: every kind of change `ostree diff` distinguishes. */
function mutateV2(root: string): void {
  const p = (r: string): string => path.join(root, r);
  fs.writeFileSync(p('regular.txt'), 'hello, world, changed\n'); // content
  fs.chmodSync(p('exec.sh'), 0o700); // mode
  fs.chownSync(p('owned-1234'), 1235, 5678); // owner
  setx(p('xattr-file'), 'user.alpha', '2'); // xattr
  fs.rmSync(p('private')); // removed file
  fs.rmSync(p('sgid-dir'), { recursive: true }); // removed directory (listed alone)
  fs.mkdirSync(p('new-dir/sub/deeper'), { recursive: true }); // added directory (listed with its contents)
  fs.writeFileSync(p('new-dir/a'), 'a\n');
  fs.writeFileSync(p('new-dir/sub/deeper/b'), 'b\n');
  fs.symlinkSync('../regular.txt', p('new-dir/sub/link'));
  fs.writeFileSync(p('new-file'), 'new\n');
  fs.symlinkSync('new-file', p('new-link'));
  fs.rmSync(p('one-byte')); // file -> directory
  fs.mkdirSync(p('one-byte'));
  fs.writeFileSync(p('one-byte/child'), 'child\n');
  fs.rmdirSync(p('empty-dir')); // directory -> file
  fs.writeFileSync(p('empty-dir'), 'now a file\n');
  fs.rmSync(p('link-rel')); // symlink -> file
  fs.writeFileSync(p('link-rel'), 'was a symlink\n');
  fs.rmSync(p('zeros.bin')); // file -> symlink
  fs.symlinkSync('binary.bin', p('zeros.bin'));
  fs.chmodSync(p('nested-empty/a'), 0o700); // directory metadata only
  setx(p('names'), 'user.tag', 'v2');
  let deep = 'deep';
  for (let i = 1; i <= 60; i++) deep += `/l${String(i).padStart(2, '0')}`;
  fs.writeFileSync(p(`${deep}/leaf.txt`), 'changed at the bottom\n');
  fs.appendFileSync(p('streaming/10mib-text.txt'), 'one more line\n');
  fs.chmodSync(root, 0o750); // the root's own metadata (ostree diff never lists '/')
}

/** The third version, committed by ingot on top of ostree's two. */
function mutateV3(root: string): void {
  const p = (r: string): string => path.join(root, r);
  fs.writeFileSync(p('regular.txt'), 'hello from ingot\n');
  fs.mkdirSync(p('v3-only'));
  fs.writeFileSync(p('v3-only/file'), 'v3\n');
  fs.writeFileSync(p('v3-only/9mib.bin'), randomBytes(prng(3), 9 << 20));
  setx(p('v3-only/file'), 'security.foo', 'v3');
  fs.chownSync(p('v3-only/file'), 2000, 3000);
  fs.rmSync(p('names-link'));
  fs.chmodSync(root, 0o755);
}

/** Runs a command and returns its raw stdout (for binary file contents). */
function runBuf(cmd: string, args: string[]): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr.toString()}`);
  return r.stdout;
}

/** ostree prints `Date:  2020-09-13 12:26:40 +0000`, ingot `Date:  2020-09-13T12:26:40Z`. */
function isoDates(s: string): string {
  return s.replace(/^Date: {2}(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) \+0000$/gm, 'Date:  $1T$2Z');
}

suite('real ostree repositories -> ingot reads them and adds a commit', () => {
  let tmp = '';
  const trees: Record<'v1' | 'v2' | 'v3', string> = { v1: '', v2: '', v3: '' };
  const descs: Record<'v1' | 'v2' | 'v3', Map<string, TreeEntry>> = { v1: new Map(), v2: new Map(), v3: new Map() };

  before(() => {
    tmp = tmpdir('ingot-o2i-');
    assertXattrsSettable(tmp);
    trees.v1 = path.join(tmp, 'v1');
    buildKindsTree(trees.v1);
    addBulk(trees.v1, { count: 300, bigMiB: 0 });
    trees.v2 = path.join(tmp, 'v2');
    runOk('cp', ['-a', trees.v1, trees.v2]);
    mutateV2(trees.v2);
    trees.v3 = path.join(tmp, 'v3');
    runOk('cp', ['-a', trees.v2, trees.v3]);
    mutateV3(trees.v3);
    for (const v of ['v1', 'v2', 'v3'] as const) descs[v] = describe(trees[v]);
  });

  after(() => {
    if (tmp) cleanup(tmp);
  });

  for (const mode of MODES) {
    suite(`ostree ${mode} repository`, () => {
      let repo = '';
      let c1 = '';
      let c2 = '';
      const ing = (...args: string[]): string => ingotOk(['repo', args[0]!, '--repo', repo, ...args.slice(1)]);
      const ost = (...args: string[]): string => ostreeOk(repo, args);

      before(() => {
        repo = path.join(tmp, `repo-${mode}`);
        ost('init', `--mode=${mode}`);
        c1 = ost('commit', '-b', REF, '-s', 'first', '-m', 'body one\n\nsecond paragraph', '--timestamp=@1600000000', '--add-metadata-string=version=1.0', trees.v1).trim();
        c2 = ost('commit', '-b', REF, '-s', 'second: ünïcödé', '--timestamp=@1600001000', '--add-metadata-string=version=2.0', '--add-metadata=build=uint64 42', trees.v2).trim();
      });

      it('ingot repo log prints the history as ostree log does', () => {
        // Textually equal but for the date format and the blank line ostree prints after the
        // last commit.
        assert.equal(ing('log', REF).trimEnd(), isoDates(ost('log', REF)).trimEnd());
        const log = JSON.parse(ingotOk(['--json', 'repo', 'log', '--repo', repo, REF])) as { commits: { checksum: string; parent: string | null }[] };
        assert.deepEqual(
          log.commits.map((c) => [c.checksum, c.parent]),
          [
            [c2, c1],
            [c1, null],
          ],
        );
      });

      it('ingot repo rev-parse resolves revs as ostree rev-parse does', () => {
        for (const rev of [REF, `${REF}^`, c1.slice(0, 10), c2]) {
          assert.equal(ing('rev-parse', rev).trim(), ost('rev-parse', rev).trim(), rev);
        }
      });

      it('ingot repo ls prints what ostree ls prints (-R, -X, -C, subpaths)', () => {
        const cases: string[][] = [
          ['-R', REF],
          ['-R', `${REF}^`],
          ['-R', '-X', '-C', REF],
          ['-R', '-X', '-C', `${REF}^`],
          [REF, '/'],
          [REF, '/names'],
          ['-X', REF, '/xattr-dir'],
          ['-R', REF, '/name-dirs'],
          ['-R', REF, '/deep'],
          [REF, '/regular.txt'],
          [REF, '/link-long'],
          ['-C', '-X', REF, '/xattr-link'],
        ];
        for (const args of cases) {
          const ours = ing('ls', ...args);
          assert.equal(ours, ost('ls', ...args), `ls ${args.join(' ')}`);
          assert.ok(lines(ours).length > 0);
        }
      });

      it('ingot repo diff prints what ostree diff prints', () => {
        for (const [a, b] of [
          [`${REF}^`, REF],
          [REF, `${REF}^`],
          [REF, REF],
        ] as const) {
          assert.equal(ing('diff', a, b), ost('diff', a, b), `diff ${a} ${b}`);
        }
        // The changes mutateV2 made are all there.
        const d = ing('diff', `${REF}^`, REF);
        for (const l of ['M    /regular.txt', 'M    /one-byte', 'M    /zeros.bin', 'D    /sgid-dir', 'A    /new-dir/sub/deeper/b', 'M    /nested-empty/a']) {
          assert.ok(lines(d).includes(l), `${l} in\n${d}`);
        }
      });

      it('ingot repo show gives the ContentChecksum ostree show gives', () => {
        for (const [rev, c] of [
          [REF, c2],
          [`${REF}^`, c1],
        ] as const) {
          const theirs = ost('show', rev);
          const ours = JSON.parse(ingotOk(['--json', 'repo', 'show', '--repo', repo, rev])) as {
            checksum: string;
            contentChecksum: string;
            subject: string;
            version: string | null;
          };
          assert.equal(ours.checksum, c);
          assert.equal(ours.contentChecksum, /^ContentChecksum:\s+([0-9a-f]{64})$/m.exec(theirs)?.[1]);
          assert.match(ing('show', rev), new RegExp(`^ContentChecksum:  ${ours.contentChecksum}$`, 'm'));
          assert.equal(`    ${ours.subject}`, lines(theirs).find((l) => l.startsWith('    ')));
          assert.equal(ours.version, /^Version: (.*)$/m.exec(theirs)?.[1]);
        }
      });

      it('ingot repo cat gives the bytes ostree cat gives', () => {
        const files = [
          '/regular.txt',
          '/empty',
          '/binary.bin',
          '/mode-zero',
          '/xattr-file',
          '/mib-plus-one.bin',
          '/streaming/8mib.bin',
          '/streaming/8mib-plus-one.bin',
          '/streaming/10mib-text.txt',
          `/names/${ODD_NAMES[3]}`,
          `/names/${ODD_NAMES[7]}`,
          '/many/flat/f000017',
        ];
        for (const f of files) {
          const ours = runBuf(process.execPath, [INGOT, 'repo', 'cat', '--repo', repo, REF, f]);
          const theirs = runBuf('ostree', [`--repo=${repo}`, 'cat', REF, f]);
          assert.ok(ours.equals(theirs), `cat ${f}: ${ours.length} vs ${theirs.length} bytes`);
          assert.ok(ours.equals(fs.readFileSync(path.join(trees.v2, f))), `cat ${f} vs the source`);
        }
      });

      it('ingot repo checkout gives the tree ostree checkout gives', () => {
        for (const [rev, v] of [
          [REF, 'v2'],
          [`${REF}^`, 'v1'],
        ] as const) {
          const ours = path.join(tmp, `co-ingot-${mode}`);
          const theirs = path.join(tmp, `co-ostree-${mode}`);
          ingotOk(['repo', 'checkout', '--repo', repo, rev, ours]);
          ost('checkout', rev, theirs);
          try {
            const d = describe(ours);
            assert.deepEqual(treeDiff(d, describe(theirs)), [], `${rev}: ingot checkout vs ostree checkout`);
            assert.deepEqual(treeDiff(d, descs[v]), [], `${rev}: ingot checkout vs the committed tree`);
          } finally {
            cleanup(ours);
            cleanup(theirs);
          }
        }
        // A subpath.
        const ours = path.join(tmp, `co-sub-ingot-${mode}`);
        const theirs = path.join(tmp, `co-sub-ostree-${mode}`);
        ingotOk(['repo', 'checkout', '--repo', repo, '--subpath', '/xattr-dir', REF, ours]);
        ost('checkout', '--subpath=/xattr-dir', REF, theirs);
        try {
          assert.deepEqual(treeDiff(describe(ours), describe(theirs)), []);
        } finally {
          cleanup(ours);
          cleanup(theirs);
        }
      });

      it('ingot repo fsck finds no problems', () => {
        const out = ing('fsck');
        assert.match(out, /fsck: no problems found/);
        const res = JSON.parse(ingotOk(['--json', 'repo', 'fsck', '--repo', repo])) as { commits: number; problems: unknown[]; objects: number };
        assert.equal(res.commits, 2);
        assert.deepEqual(res.problems, []);
        assert.ok(res.objects > 400, `${res.objects} objects checked`);
      });

      it('ingot commits on top of the branch, and ostree reads that commit', () => {
        const c3 = firstChecksum(ing('commit', '-b', REF, '-s', 'third, by ingot', '--timestamp=@1600002000', '--add-metadata-string=version=3.0', trees.v3));
        assert.equal(ost('rev-parse', REF).trim(), c3);
        // ostree log shows ingot's commit on top of its own two.
        const log = ost('log', REF);
        assert.deepEqual(
          [...log.matchAll(/^commit ([0-9a-f]{64})$/gm)].map((m) => m[1]),
          [c3, c2, c1],
        );
        assert.match(log, new RegExp(`^commit ${c3}\\nParent:  ${c2}$`, 'm'));
        assert.match(log, /^ {4}third, by ingot$/m);
        assertOstreeFsckClean(ostree(repo, ['fsck']), `the ${mode} repository after ingot's commit`);
        assert.equal(ing('ls', '-R', '-X', '-C', REF), ost('ls', '-R', '-X', '-C', REF));
        assert.equal(ing('diff', `${REF}^`, REF), ost('diff', `${REF}^`, REF));
        const dest = path.join(tmp, `co-v3-${mode}`);
        ost('checkout', REF, dest);
        try {
          assert.deepEqual(treeDiff(describe(dest), descs.v3), []);
        } finally {
          cleanup(dest);
        }
      });
    });
  }
});
