/**
 * Damaged repositories and bad input, for an archive and a bare-user repository: flipped bytes
 * in every object type, truncated deflate data, dirtrees with names that would escape the
 * checkout, objects stored under another object's name, missing or broken config, invalid and
 * garbage refs, special files in a committed tree, and `fsck --delete`.
 *
 * Every error must exit with its code's status (src/core/codes.ts), print `error[CODE]: ...`
 * without a stack trace, and give `{"error": {"code": ...}}` on stderr with --json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, firstChecksum, ingot, ingotOk, ostree, tmpdir, type RunResult } from '../helpers.js';
import { ERROR_CODES, type ErrorCode } from '../../src/core/codes.js';
import { serialize } from '../../src/codecs/gvariant/serialize.js';
import { DIRTREE_TYPE, decodeFilezHeader, encodeCommit, sha256 } from '../../src/codecs/ostree/objects.js';
import { sys } from '../../src/platform/sys.js';
import type { Checksum } from '../../src/core/checksum.js';

type Mode = 'archive' | 'bare-user';
const MODES: Mode[] = ['archive', 'bare-user'];
const STACK = /^\s+at \S/m;

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * Runs a failing command twice (as text, then with --json; `args` gets which, so the two runs
 * can use different destinations) and checks the exit status, the `error[CODE]:` line, the
 * absence of a stack trace and the JSON error object. Returns both results.
 */
function expectError(code: ErrorCode, args: (json: boolean) => string[]): { text: RunResult; json: RunResult } {
  const exit = ERROR_CODES[code].exit;
  const text = ingot(args(false));
  const cmd = args(false).join(' ');
  assert.equal(text.status, exit, `ingot ${cmd}: want exit ${exit} (${code}), got ${text.status}:\n${text.stderr}`);
  assert.ok(text.stderr.startsWith(`error[${code}]: `), `ingot ${cmd}: stderr should start with error[${code}]:\n${text.stderr}`);
  assert.doesNotMatch(text.stderr, STACK, `ingot ${cmd}: stack trace on stderr`);
  const json = ingot(['--json', ...args(true)]);
  assert.equal(json.status, exit, `ingot --json ${cmd}: exit ${json.status}:\n${json.stderr}`);
  let parsed: { error?: { code?: string; message?: string } };
  try {
    parsed = JSON.parse(json.stderr) as typeof parsed;
  } catch {
    assert.fail(`ingot --json ${cmd}: stderr is not one JSON document:\n${json.stderr}`);
  }
  assert.equal(parsed.error?.code, code, `ingot --json ${cmd}: ${json.stderr}`);
  assert.equal(typeof parsed.error?.message, 'string');
  return { text, json };
}

interface FsckJson {
  commits: number;
  partialCommits: number;
  problems: { checksum: string; type: string; code: string; message: string }[];
  deleted: string[];
  markedPartial: string[];
}

/** fsck must fail with status 3 and name `checksum` with one of `codes`, as text and as JSON. */
function expectFsckProblem(repo: string, checksum: string, codes: string[]): FsckJson {
  const t = ingot(['repo', 'fsck', '--repo', repo]);
  assert.equal(t.status, ERROR_CODES.FSCK_FAILED.exit, `fsck should find the damage to ${checksum}:\n${t.stdout}${t.stderr}`);
  assert.doesNotMatch(t.stdout + t.stderr, STACK);
  const line = t.stdout.split('\n').find((l) => l.startsWith('error[') && l.includes(checksum));
  assert.ok(line, `fsck output does not name ${checksum}:\n${t.stdout}`);
  const code = /^error\[([A-Z_]+)\]/.exec(line)![1]!;
  assert.ok(codes.includes(code), `fsck reports ${code} for ${checksum}, want one of ${codes.join(', ')}`);
  const j = ingot(['--json', 'repo', 'fsck', '--repo', repo]);
  assert.equal(j.status, ERROR_CODES.FSCK_FAILED.exit);
  const res = JSON.parse(j.stdout) as FsckJson;
  const p = res.problems.find((x) => x.checksum === checksum);
  assert.ok(p, `fsck --json does not name ${checksum}: ${j.stdout}`);
  assert.ok(codes.includes(p.code), `fsck --json code ${p.code} for ${checksum}`);
  return res;
}

function objPath(repo: string, checksum: string, ext: string): string {
  return path.join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${ext}`);
}

function fileExt(mode: Mode): string {
  return mode === 'archive' ? 'filez' : 'file';
}

/** Flips every bit of the byte at `offset`, in place (keeps the inode and its xattrs). */
function flipByte(p: string, offset: number): void {
  const fd = fs.openSync(p, 'r+');
  try {
    const b = Buffer.alloc(1);
    assert.equal(fs.readSync(fd, b, 0, 1, offset), 1, `${p} has no byte ${offset}`);
    b[0] = b[0]! ^ 0xff;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}

function storeObject(repo: string, ext: string, data: Buffer): Checksum {
  const c = sha256(data);
  fs.mkdirSync(path.dirname(objPath(repo, c, ext)), { recursive: true });
  fs.writeFileSync(objPath(repo, c, ext), data);
  return c;
}

function cloneRepo(src: string, dest: string): string {
  const r = spawnSync('cp', ['-a', src, dest]);
  assert.equal(r.status, 0, String(r.stderr));
  return dest;
}

function words(n: number, seed: number): string {
  const vocab = ['alpha', 'beta', 'gamma', 'delta', 'ostree', 'ingot', 'commit', 'tree', '\n'];
  let x = seed;
  let s = '';
  const parts: string[] = [];
  while (s.length + parts.length * 7 < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    parts.push(vocab[(x >>> 16) % vocab.length]!);
    if (parts.length >= 4096) {
      s += parts.join(' ') + ' ';
      parts.length = 0;
    }
  }
  return (s + parts.join(' ')).slice(0, n);
}

interface Base {
  repo: string;
  commit: string;
  rootTree: string;
  rootMeta: string;
  /** path -> content checksum (files) or dirtree checksum (dirs) */
  sums: Map<string, string>;
  /** path -> dirmeta checksum (dirs) */
  metas: Map<string, string>;
}

/** The committed tree: small files, compressible text, a 5 MB file (streamed paths), a symlink, a 0700 directory. */
function writeTree(root: string): void {
  fs.mkdirSync(path.join(root, 'a'), { recursive: true });
  fs.mkdirSync(path.join(root, 'sub'), { mode: 0o700 });
  fs.chmodSync(path.join(root, 'sub'), 0o700);
  fs.writeFileSync(path.join(root, 'a/f'), 'hello\n');
  fs.writeFileSync(path.join(root, 'a/g'), 'other content\n');
  fs.writeFileSync(path.join(root, 'text'), words(40000, 1));
  fs.writeFileSync(path.join(root, 'large'), words(5 * 1024 * 1024, 2));
  fs.writeFileSync(path.join(root, 'sub/x'), 'x\n');
  fs.symlinkSync('a/f', path.join(root, 'link'));
}

function makeBase(work: string, mode: Mode, tree: string): Base {
  const repo = path.join(work, `base-${mode}`);
  ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
  const commit = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', '-s', 'base', '--timestamp', '@1700000000', tree]));
  const show = JSON.parse(ingotOk(['--json', 'repo', 'show', '--repo', repo, 'main'])) as { rootTree: string; rootMeta: string };
  const ls = JSON.parse(ingotOk(['--json', 'repo', 'ls', '-R', '--repo', repo, 'main'])) as { path: string; checksum: string; meta?: string }[];
  const sums = new Map(ls.map((e) => [e.path, e.checksum]));
  const metas = new Map(ls.filter((e) => e.meta).map((e) => [e.path, e.meta!]));
  return { repo, commit, rootTree: show.rootTree, rootMeta: show.rootMeta, sums, metas };
}

// ---------------------------------------------------------------------------------------------

for (const mode of MODES) {
  test(`${mode}: corrupt objects are found by fsck and fail cleanly elsewhere`, async (t) => {
    const work = tmpdir(`ingot-bad-${mode}-`);
    const tree = path.join(work, 'tree');
    writeTree(tree);
    const base = makeBase(work, mode, tree);
    const ext = fileExt(mode);
    let n = 0;
    const fresh = (): string => cloneRepo(base.repo, path.join(work, `r${n++}`));
    try {
      const ok = ingot(['repo', 'fsck', '--repo', base.repo]);
      assert.equal(ok.status, 0, `the undamaged repository: ${ok.stdout}${ok.stderr}`);

      await t.test('a flipped byte in a commit, a dirtree and a dirmeta', () => {
        const cases: [string, string, number][] = [
          ['commit', base.commit, 40],
          ['dirtree', base.rootTree, 2],
          ['dirmeta', base.metas.get('/sub')!, 11],
        ];
        for (const [type, checksum, offset] of cases) {
          const repo = fresh();
          flipByte(objPath(repo, checksum, type), offset);
          expectFsckProblem(repo, checksum, ['OBJECT_CORRUPT']);
        }
      });

      if (mode === 'archive') {
        await t.test('a flipped byte in a .filez header and, separately, in its deflate data', () => {
          const c = base.sums.get('/text')!;
          const repo1 = fresh();
          // bytes 8..15 of the header hold the size, 16..19 the uid, 20..23 the gid (BE)
          flipByte(objPath(repo1, c, ext), 23);
          expectFsckProblem(repo1, c, ['OBJECT_CORRUPT', 'OBJECT_INVALID', 'GVARIANT_INVALID']);
          const repo2 = fresh();
          const p = objPath(repo2, c, ext);
          const h = decodeFilezHeader(fs.readFileSync(p));
          const dataLen = fs.statSync(p).size - h.headerLength;
          assert.ok(dataLen > 100);
          flipByte(p, h.headerLength + Math.floor(dataLen / 2));
          expectFsckProblem(repo2, c, ['DEFLATE_INVALID', 'OBJECT_CORRUPT']);
        });

        await t.test('truncated deflate data: DEFLATE_INVALID from fsck, checkout and cat', () => {
          for (const file of ['/text', '/large']) {
            const c = base.sums.get(file)!;
            const repo = fresh();
            const p = objPath(repo, c, ext);
            const h = decodeFilezHeader(fs.readFileSync(p));
            fs.truncateSync(p, h.headerLength + Math.floor((fs.statSync(p).size - h.headerLength) / 2));
            expectFsckProblem(repo, c, ['DEFLATE_INVALID']);
            const co = expectError('DEFLATE_INVALID', (j) => ['repo', 'checkout', '--repo', repo, 'main', path.join(work, `co-trunc-${n}-${j}`)]);
            assert.match(co.text.stderr, new RegExp(c));
            const cat = expectError('DEFLATE_INVALID', () => ['repo', 'cat', '--repo', repo, 'main', file]);
            assert.match(cat.text.stderr, new RegExp(c));
            // Only that file is damaged: the others still read.
            assert.equal(ingotOk(['repo', 'cat', '--repo', repo, 'main', '/a/f']), 'hello\n');
          }
        });
      } else {
        await t.test('a flipped byte in the data of a bare-user object, and in its user.ostreemeta', () => {
          const c = base.sums.get('/text')!;
          const repo1 = fresh();
          flipByte(objPath(repo1, c, ext), 1000);
          expectFsckProblem(repo1, c, ['OBJECT_CORRUPT']);
          const repo2 = fresh();
          const p = objPath(repo2, c, ext);
          const meta = sys().lgetxattr(p, 'user.ostreemeta')!;
          meta[7] = meta[7]! ^ 0x01; // the gid's low byte
          sys().lsetxattr(p, 'user.ostreemeta', meta);
          expectFsckProblem(repo2, c, ['OBJECT_CORRUPT']);
        });
      }

      await t.test('an object holding another object\'s content', () => {
        const repo1 = fresh();
        const f = base.sums.get('/a/f')!;
        const g = base.sums.get('/a/g')!;
        // Rewrite in place: a bare-user object keeps its own xattr.
        fs.writeFileSync(objPath(repo1, g, ext), fs.readFileSync(objPath(repo1, f, ext)));
        const res = expectFsckProblem(repo1, g, ['OBJECT_CORRUPT', 'OBJECT_INVALID', 'GVARIANT_INVALID']);
        assert.ok(!res.problems.some((p) => p.checksum === f), 'the object that was copied is intact');
        const repo2 = fresh();
        fs.writeFileSync(objPath(repo2, base.rootMeta, 'dirmeta'), fs.readFileSync(objPath(repo2, base.metas.get('/sub')!, 'dirmeta')));
        expectFsckProblem(repo2, base.rootMeta, ['OBJECT_CORRUPT']);
      });

      await t.test('dirtree names "..", "../evil" and "a/b": OBJECT_INVALID, nothing written outside the checkout', () => {
        const fileSum = Buffer.from(base.sums.get('/a/f')!, 'hex');
        const metaSum = Buffer.from(base.rootMeta, 'hex');
        const cases: [string, (repo: string) => Buffer][] = [
          [
            '..',
            (repo) => {
              // '..' is a directory whose content (a file 'pwned') would land beside the checkout
              const inner = storeObject(repo, 'dirtree', serialize(DIRTREE_TYPE, [[['pwned', fileSum]], []]));
              return serialize(DIRTREE_TYPE, [[['ok', fileSum]], [['..', Buffer.from(inner, 'hex'), metaSum]]]);
            },
          ],
          ['../evil', () => serialize(DIRTREE_TYPE, [[['../evil', fileSum], ['ok', fileSum]], []])],
          [
            'a/b',
            (repo) => {
              const a = storeObject(repo, 'dirtree', serialize(DIRTREE_TYPE, [[], []]));
              return serialize(DIRTREE_TYPE, [[['a/b', fileSum]], [['a', Buffer.from(a, 'hex'), metaSum]]]);
            },
          ],
        ];
        for (const [name, build] of cases) {
          const repo = fresh();
          const bad = storeObject(repo, 'dirtree', build(repo));
          const commit = storeObject(
            repo,
            'commit',
            encodeCommit({
              metadata: [],
              parent: null,
              related: [],
              subject: `bad name ${name}`,
              body: '',
              timestamp: 1700000000n,
              rootTree: bad,
              rootMeta: base.rootMeta as Checksum,
            }),
          );
          fs.writeFileSync(path.join(repo, 'refs/heads/evil'), `${commit}\n`);
          expectFsckProblem(repo, bad, ['OBJECT_INVALID']);

          const box = path.join(work, `box-${n}`);
          fs.mkdirSync(box);
          const co = expectError('OBJECT_INVALID', (j) => ['repo', 'checkout', '--repo', repo, 'evil', path.join(box, j ? 'dest-json' : 'dest')]);
          assert.match(co.text.stderr, new RegExp(bad));
          // --union writes into an existing directory: the escape would succeed there if anywhere.
          fs.mkdirSync(path.join(box, 'union'));
          fs.mkdirSync(path.join(box, 'union-json'));
          expectError('OBJECT_INVALID', (j) => ['repo', 'checkout', '--union', '--repo', repo, 'evil', path.join(box, j ? 'union-json' : 'union')]);
          if (name === '..') expectError('OBJECT_INVALID', () => ['repo', 'ls', '-R', '--repo', repo, 'evil']);
          const outside = fs.readdirSync(box).sort();
          assert.deepEqual(
            outside.filter((e) => !['dest', 'dest-json', 'union', 'union-json'].includes(e)),
            [],
            `name ${JSON.stringify(name)}: files written beside the checkout: ${outside.join(', ')}`,
          );
          for (const d of outside) {
            for (const e of fs.readdirSync(path.join(box, d), { recursive: true }) as string[]) {
              assert.ok(!/pwned|evil/.test(e), `name ${JSON.stringify(name)}: ${d}/${e} was written`);
            }
          }
          assert.ok(!fs.existsSync(path.join(work, 'pwned')) && !fs.existsSync(path.join(work, 'evil')));
          // The good commit is unaffected.
          assert.equal(ingotOk(['repo', 'cat', '--repo', repo, 'main', '/a/f']), 'hello\n');
        }
      });

      await t.test('special files: UNSUPPORTED_FILE_TYPE naming the path; --skip-special-files skips them', () => {
        const kinds: [string, string[]][] = [
          ['fifo', ['mkfifo']],
          ['device', ['mknod', '-m', '0600']],
        ];
        for (const [kind, cmd] of kinds) {
          const t2 = path.join(work, `special-${kind}`);
          fs.mkdirSync(path.join(t2, 'd'), { recursive: true });
          fs.writeFileSync(path.join(t2, 'd/regular'), 'regular\n');
          const special = path.join(t2, 'd', kind);
          const args = kind === 'fifo' ? [special] : [special, 'c', '1', '3'];
          const r = spawnSync(cmd[0]!, [...cmd.slice(1), ...args]);
          assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
          const repo = fresh();
          const before = fs.readFileSync(path.join(repo, 'refs/heads/main'), 'utf8');
          const e = expectError('UNSUPPORTED_FILE_TYPE', () => ['repo', 'commit', '--repo', repo, '-b', 'main', t2]);
          assert.ok(e.text.stderr.includes(special), `the error names ${special}:\n${e.text.stderr}`);
          assert.equal((JSON.parse(e.json.stderr) as { error: { path: string } }).error.path, special);
          assert.equal(fs.readFileSync(path.join(repo, 'refs/heads/main'), 'utf8'), before, 'a failed commit moved the ref');

          const ok = JSON.parse(ingotOk(['--json', 'repo', 'commit', '--repo', repo, '-b', 'main', '--skip-special-files', t2])) as {
            commit: string;
            stats: { skipped: string[]; files: number };
          };
          assert.deepEqual(ok.stats.skipped, [`/d/${kind}`]);
          assert.equal(ok.stats.files, 1);
          const ls = JSON.parse(ingotOk(['--json', 'repo', 'ls', '-R', '--repo', repo, 'main'])) as { path: string }[];
          assert.deepEqual(ls.map((x) => x.path).sort(), ['/', '/d', '/d/regular']);
          assert.equal(ingot(['repo', 'fsck', '--repo', repo]).status, 0);
          assert.equal(ostree(repo, ['fsck']).status, 0);
        }
      });

      await t.test('fsck --delete removes the corrupt object and marks the commit partial', () => {
        const repo = fresh();
        const g = base.sums.get('/a/g')!;
        const p = objPath(repo, g, ext);
        flipByte(p, fs.statSync(p).size - 2);
        const countObjects = (): number => (fs.readdirSync(path.join(repo, 'objects'), { recursive: true }) as string[]).filter((e) => e.includes('.')).length;
        const before = countObjects();
        const d = ingot(['--json', 'repo', 'fsck', '--delete', '--repo', repo]);
        assert.equal(d.status, 3, d.stderr);
        const res = JSON.parse(d.stdout) as FsckJson;
        assert.ok(res.problems.some((x) => x.checksum === g));
        assert.deepEqual(res.deleted, [`${g}.file`]);
        assert.deepEqual(res.markedPartial, [base.commit]);
        assert.ok(!fs.existsSync(p), 'the corrupt object is still there');
        assert.equal(countObjects(), before - 1, 'fsck --delete removed more than the corrupt object');
        assert.ok(fs.existsSync(path.join(repo, 'state', `${base.commit}.commitpartial`)));
        const after = ingot(['--json', 'repo', 'fsck', '--repo', repo]);
        assert.equal(after.status, 0, after.stdout);
        assert.equal((JSON.parse(after.stdout) as FsckJson).partialCommits, 1);
        const o = ostree(repo, ['fsck']);
        assert.equal(o.status, 0, o.stdout + o.stderr);
        assert.equal((JSON.parse(ingotOk(['--json', 'repo', 'show', '--repo', repo, 'main'])) as { partial: boolean }).partial, true);
        // Reading the deleted file now fails cleanly.
        expectError('OBJECT_MISSING', (j) => ['repo', 'checkout', '--repo', repo, 'main', path.join(work, `co-missing-${n}-${j}`)]);
        // Committing the tree again restores the object, and the repository is whole.
        ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', tree]);
        assert.ok(fs.existsSync(p));
      });
    } finally {
      cleanup(work);
    }
  });
}

test('repository, config and ref errors', async (t) => {
  const work = tmpdir('ingot-bad-repo-');
  try {
    const tree = path.join(work, 'tree');
    fs.mkdirSync(tree);
    fs.writeFileSync(path.join(tree, 'f'), 'f\n');
    const repo = path.join(work, 'repo');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    const c = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', tree]));

    await t.test('no config, or no directory at all: REPO_NOT_FOUND', () => {
      const noConfig = path.join(work, 'no-config');
      fs.mkdirSync(path.join(noConfig, 'objects'), { recursive: true });
      for (const r of [noConfig, path.join(work, 'does-not-exist')]) {
        expectError('REPO_NOT_FOUND', () => ['repo', 'log', '--repo', r, 'main']);
        expectError('REPO_NOT_FOUND', () => ['repo', 'fsck', '--repo', r]);
        expectError('REPO_NOT_FOUND', () => ['repo', 'commit', '--repo', r, '-b', 'main', tree]);
        expectError('REPO_NOT_FOUND', (j) => ['repo', 'checkout', '--repo', r, 'main', path.join(work, `co-${j}`)]);
        expectError('REPO_NOT_FOUND', () => ['repo', 'refs', '--repo', r]);
      }
      assert.ok(!fs.existsSync(path.join(work, 'does-not-exist')), 'a failed command created the repository');
      assert.ok(!fs.existsSync(path.join(work, 'co-false')));
    });

    await t.test('an unknown mode or repo_version in the config: REPO_CONFIG_INVALID', () => {
      for (const [what, edit] of [
        ['mode', (s: string) => s.replace(/mode=.*/, 'mode=bare-fancy')],
        ['repo_version', (s: string) => s.replace(/repo_version=.*/, 'repo_version=2')],
      ] as const) {
        const r = cloneRepo(repo, path.join(work, `bad-${what}`));
        const cfg = path.join(r, 'config');
        fs.writeFileSync(cfg, edit(fs.readFileSync(cfg, 'utf8')));
        const e = expectError('REPO_CONFIG_INVALID', () => ['repo', 'fsck', '--repo', r]);
        assert.match(e.text.stderr, what === 'mode' ? /bare-fancy/ : /repo_version/);
        expectError('REPO_CONFIG_INVALID', () => ['repo', 'log', '--repo', r, 'main']);
        expectError('REPO_CONFIG_INVALID', () => ['repo', 'commit', '--repo', r, '-b', 'main', tree]);
      }
    });

    await t.test('invalid ref names for commit -b and refs --create: REF_INVALID (exit 2)', () => {
      const commits = (): number => (fs.readdirSync(path.join(repo, 'objects'), { recursive: true }) as string[]).filter((e) => e.endsWith('.commit')).length;
      const before = commits();
      for (const name of ['has space', '-lead', '.dot', 'a//b', 'trail/', '/lead', 'a/../b', 'remote:ref', 'x/.y']) {
        const e = expectError('REF_INVALID', () => ['repo', 'commit', '--repo', repo, '-b', name, tree]);
        assert.ok(e.text.stderr.includes(name), e.text.stderr);
        expectError('REF_INVALID', () => ['repo', 'refs', '--repo', repo, '--create', `${name}=main`]);
      }
      assert.equal(commits(), before, 'a commit was written for an invalid branch');
      assert.deepEqual(fs.readdirSync(path.join(repo, 'refs/heads')), ['main']);
    });

    await t.test('a ref file holding garbage', () => {
      const r = cloneRepo(repo, path.join(work, 'garbage-ref'));
      fs.mkdirSync(path.join(r, 'refs/heads/os'), { recursive: true });
      fs.writeFileSync(path.join(r, 'refs/heads/os/junk'), 'this is not a checksum\n');
      for (const args of [
        () => ['repo', 'log', '--repo', r, 'os/junk'],
        () => ['repo', 'rev-parse', '--repo', r, 'os/junk'],
        () => ['repo', 'show', '--repo', r, 'os/junk'],
        (j: boolean) => ['repo', 'checkout', '--repo', r, 'os/junk', path.join(work, `co-junk-${j}`)],
        () => ['repo', 'commit', '--repo', r, '-b', 'os/junk', tree],
        () => ['repo', 'refs', '--repo', r],
        () => ['repo', 'fsck', '--repo', r],
      ]) {
        const e = expectError('OBJECT_INVALID', args);
        assert.ok(e.text.stderr.includes('os/junk'), `the error names the ref:\n${e.text.stderr}`);
      }
      assert.equal(fs.readFileSync(path.join(r, 'refs/heads/os/junk'), 'utf8'), 'this is not a checksum\n', 'the garbage ref was rewritten');
      // Other refs still work.
      assert.equal(ingotOk(['repo', 'rev-parse', '--repo', r, 'main']).trim(), c);
    });
  } finally {
    cleanup(work);
  }
});
