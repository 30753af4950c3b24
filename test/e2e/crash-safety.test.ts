/**
 * Crash safety of `ingot repo commit`: the process is SIGKILLed at every failpoint (and at
 * random moments) while it commits a second version onto a branch that already has a commit.
 * After each kill: `ingot repo fsck` and `ostree fsck` are clean, the ref names the old commit
 * or the new one, every file under objects/ hashes to its name (orphans included, which fsck
 * does not look at), and re-running the same commit succeeds with the expected checksum.
 * Also: two commits and a prune started at the same moment on one repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { INGOT, ROOT, cleanup, describeTree, firstChecksum, ingot, ingotOk, ostree, tmpdir, treeDiff } from '../helpers.js';
import { prng } from '../helpers.js';
import { decodeFilezHeader, decodeUserMeta, encodeFileHeader, sha256, S_IFLNK, S_IFMT } from '../../src/codecs/ostree/objects.js';
import { sys } from '../../src/platform/sys.js';

type Mode = 'archive' | 'bare-user';
const MODES: Mode[] = ['archive', 'bare-user'];
const BRANCH = 'os/x86_64/stable';
const T1 = '@1700000000';
const T2 = '@1700000100';
/** Two worker threads whatever the machine, so `@N` failpoints in workers behave alike. */
const ENV = { INGOT_THREADS: '2' };

/** Every failpoint, with the ref expected after a kill there ('old' or 'new'). */
const FAILPOINTS: [string, 'old' | 'new'][] = [
  // content objects staged in the transaction (worker threads and, for symlinks, the main one);
  // `@N`: the N-th time that step is reached
  ['store-before-place', 'old'],
  ['store-after-place@3', 'old'],
  ['commit-walk-done', 'old'],
  // metadata objects staged
  ['commit-dirtree-written@3', 'old'],
  ['commit-after-tree', 'old'],
  ['commit-before-syncfs', 'old'],
  ['commit-before-publish', 'old'],
  // publishing into objects/: after a few objects, and just before the commit object
  ['publish-object@4', 'old'],
  ['publish-commit-object', 'old'],
  ['commit-after-publish', 'old'],
  ['commit-before-ref', 'old'],
  ['ref-write', 'old'],
  ['commit-after-ref', 'new'],
];

/** Failpoints after which the re-run's tree is also checked out and compared with v2. */
const CHECKOUT_AFTER = new Set(['store-after-place@3', 'publish-object@4', 'commit-after-ref']);

// ---------------------------------------------------------------------------------------------
// helpers


function bytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) b.writeUInt32LE((rand() * 0x100000000) >>> 0, i);
  for (; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** Text-like data: compresses, so archive objects hold real Huffman-coded deflate streams. */
function words(rand: () => number, n: number): Buffer {
  const vocab = ['ostree', 'commit', 'tree', 'object', 'ref', 'deploy', 'kernel', 'usr', 'etc', 'var', '\n'];
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = vocab[Math.floor(rand() * vocab.length)]! + ' ';
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('').slice(0, n));
}

/** v1: a small tree. */
function writeV1(root: string): void {
  const rand = prng(1);
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/bin/tool'), '#!/bin/sh\necho v1\n', { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'etc/conf'), words(rand, 3000));
  fs.symlinkSync('../usr/bin/tool', path.join(root, 'etc/tool-link'));
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(root, `usr/f${i}`), words(rand, 100 + i * 50));
}

/**
 * v2: v1 changed, plus `dirs` x `files` new files (random and text data), a private
 * directory, a file with an xattr, and optionally one file over the 8 MiB streaming threshold.
 */
function writeV2(root: string, dirs: number, files: number, large: boolean): void {
  writeV1(root);
  const rand = prng(2);
  fs.writeFileSync(path.join(root, 'usr/bin/tool'), '#!/bin/sh\necho v2\n', { mode: 0o755 });
  fs.rmSync(path.join(root, 'usr/f3'));
  fs.mkdirSync(path.join(root, 'var/lib/private'), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.join(root, 'var/lib/private'), 0o700);
  fs.writeFileSync(path.join(root, 'var/lib/private/secret'), 'secret\n', { mode: 0o600 });
  fs.writeFileSync(path.join(root, 'etc/with-xattr'), 'x\n');
  sys().lsetxattr(path.join(root, 'etc/with-xattr'), 'user.ingot-test', Buffer.from('value'));
  for (let d = 0; d < dirs; d++) {
    const dir = path.join(root, `data/d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < files; i++) {
      const n = Math.floor(rand() * 12000);
      fs.writeFileSync(path.join(dir, `f${i}`), i % 2 ? bytes(rand, n) : words(rand, n));
    }
    fs.symlinkSync('f0', path.join(dir, 'first'));
  }
  // Over the 8 MiB threshold: stored by streaming chunks.
  if (large) fs.writeFileSync(path.join(root, 'data/large.bin'), Buffer.concat([bytes(rand, 1 << 20), words(rand, (15 << 19) + 4096)]));
}

function cloneRepo(src: string, dest: string): void {
  // -a keeps the user.ostreemeta xattrs of bare-user objects.
  const r = spawnSync('cp', ['-a', src, dest]);
  assert.equal(r.status, 0, `cp -a ${src} ${dest}: ${r.stderr}`);
}

function readRef(repo: string): string {
  return fs.readFileSync(path.join(repo, 'refs/heads', BRANCH), 'utf8').trim();
}

/** Staging directories (of any process) left in tmp/. */
function leftovers(repo: string): string[] {
  return fs.readdirSync(path.join(repo, 'tmp')).filter((n) => n.includes('ingot-staging-'));
}

function commitArgs(repo: string, tree: string, parent: string): string[] {
  return ['repo', 'commit', '--repo', repo, '-b', BRANCH, '-s', 'v2', '--parent', parent, '--timestamp', T2, tree];
}

/**
 * Checks every file under objects/: a valid name, and contents that hash to it (content
 * objects re-hashed from their stored form, independently of ingot's fsck).
 */
function verifyAllObjects(repo: string, mode: Mode): string[] {
  const problems: string[] = [];
  const objDir = path.join(repo, 'objects');
  const fileExt = mode === 'archive' ? 'filez' : 'file';
  for (const pre of fs.readdirSync(objDir)) {
    if (!/^[0-9a-f]{2}$/.test(pre)) {
      problems.push(`stray entry objects/${pre}`);
      continue;
    }
    for (const name of fs.readdirSync(path.join(objDir, pre))) {
      const p = path.join(objDir, pre, name);
      const m = /^([0-9a-f]{62})\.(commit|dirtree|dirmeta|commitmeta|filez|file)$/.exec(name);
      if (!m || ((m[2] === 'filez' || m[2] === 'file') && m[2] !== fileExt)) {
        problems.push(`stray file objects/${pre}/${name}`);
        continue;
      }
      const checksum = pre + m[1];
      const ext = m[2]!;
      try {
        const st = fs.lstatSync(p);
        if (ext === 'commit' || ext === 'dirtree' || ext === 'dirmeta') {
          const actual = sha256(fs.readFileSync(p));
          if (actual !== checksum) problems.push(`${ext} ${checksum} hashes to ${actual}`);
        } else if (ext === 'filez') {
          const raw = fs.readFileSync(p);
          const h = decodeFilezHeader(raw, name);
          // Symlinks are a header alone; regular files a raw deflate stream after it.
          const isLink = (h.mode & S_IFMT) === S_IFLNK;
          if (isLink && raw.length !== h.headerLength) throw new Error('data after a symlink header');
          const data = isLink ? Buffer.alloc(0) : zlib.inflateRawSync(raw.subarray(h.headerLength));
          if (BigInt(data.length) !== h.size) problems.push(`filez ${checksum}: ${data.length} bytes, header says ${h.size}`);
          const actual = sha256(encodeFileHeader(h), data);
          if (actual !== checksum) problems.push(`filez ${checksum} hashes to ${actual}`);
        } else if (ext === 'file') {
          if (!st.isFile()) throw new Error('not a regular file');
          const meta = sys().lgetxattr(p, 'user.ostreemeta');
          if (!meta) throw new Error('no user.ostreemeta');
          const um = decodeUserMeta(meta);
          const data = fs.readFileSync(p);
          let actual: string;
          if ((um.mode & S_IFMT) === S_IFLNK) {
            const target = data.subarray(0, data.length && data[data.length - 1] === 0 ? data.length - 1 : data.length).toString('utf8');
            actual = sha256(encodeFileHeader({ ...um, rdev: 0, symlinkTarget: target }));
          } else {
            actual = sha256(encodeFileHeader({ ...um, rdev: 0, symlinkTarget: '' }), data);
          }
          if (actual !== checksum) problems.push(`file ${checksum} hashes to ${actual}`);
        }
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}`);
      }
    }
  }
  return problems;
}

/** The state after an interrupted commit: everything consistent, the ref old or new. */
function checkConsistent(repo: string, mode: Mode, oldC: string, newC: string, what: string, ingotFsck = true): string {
  const ref = readRef(repo);
  assert.ok(ref === oldC || ref === newC, `${what}: ref is ${ref}, neither the old ${oldC} nor the new ${newC}`);
  assert.deepEqual(verifyAllObjects(repo, mode), [], `${what}: objects/ holds partial or corrupt objects`);
  if (ingotFsck) {
    const f = ingot(['repo', 'fsck', '--repo', repo]);
    assert.equal(f.status, 0, `${what}: ingot fsck:\n${f.stdout}${f.stderr}`);
    assert.match(f.stdout, /no problems found/);
  }
  const o = ostree(repo, ['fsck']);
  assert.equal(o.status, 0, `${what}: ostree fsck:\n${o.stdout}${o.stderr}`);
  return ref;
}

function sameTree(repo: string, rev: string, source: string, dest: string, what: string): void {
  ingotOk(['repo', 'checkout', '--repo', repo, rev, dest]);
  const diffs = treeDiff(describeTree(source, { ignoreXattrs: ['security.selinux'] }), describeTree(dest, { ignoreXattrs: ['security.selinux'] }));
  assert.deepEqual(diffs, [], `${what}: checkout differs from the committed tree`);
}

interface Setup {
  work: string;
  base: Record<Mode, string>;
  oldC: string;
  newC: string;
  v2: string;
}

/** Base repositories (one per mode) with v1 on the branch, and the checksum v2 must get. */
function setup(prefix: string, dirs: number, files: number, large: boolean): Setup {
  const work = tmpdir(prefix);
  const v1 = path.join(work, 'v1');
  const v2 = path.join(work, 'v2');
  writeV1(v1);
  writeV2(v2, dirs, files, large);
  const base = {} as Record<Mode, string>;
  const olds = new Set<string>();
  const news = new Set<string>();
  for (const mode of MODES) {
    const repo = path.join(work, `base-${mode}`);
    ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
    olds.add(firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', BRANCH, '-s', 'v1', '--timestamp', T1, v1])));
    base[mode] = repo;
    // The reference result: v2 committed without interruption into a copy.
    const ref = path.join(work, `ref-${mode}`);
    cloneRepo(repo, ref);
    const oldC = readRef(repo);
    news.add(firstChecksum(ingotOk(commitArgs(ref, v2, oldC), { env: ENV })));
    cleanup(ref);
  }
  // Checksums do not depend on the repository mode.
  assert.equal(olds.size, 1, 'v1 has one checksum in every mode');
  assert.equal(news.size, 1, 'v2 has one checksum in every mode');
  const [oldC] = olds;
  const [newC] = news;
  assert.notEqual(oldC, newC);
  return { work, base, oldC: oldC!, newC: newC!, v2 };
}

function runAsync(args: string[], env: NodeJS.ProcessEnv = {}): { done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [INGOT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

// ---------------------------------------------------------------------------------------------
// tests

test('every failpoint of the repository layer (src/repo) is exercised by this file', () => {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/\bfailpoint\('([^']+)'\)/g)) names.add(m[1]!);
      }
    }
  };
  // Other layers' failpoints (pull, deploy) have their own crash tests.
  walk(path.join(ROOT, 'src/repo'));
  assert.ok(names.size >= 6, `found only ${[...names].join(', ')}`);
  const tested = new Set(FAILPOINTS.map(([n]) => n.split('@')[0]!));
  const untested = [...names].filter((n) => !tested.has(n));
  assert.deepEqual(untested, [], 'failpoints without a crash test');
  const unknown = [...tested].filter((n) => !names.has(n));
  assert.deepEqual(unknown, [], 'tested failpoints that no longer exist in src/repo');
});

test('SIGKILL at every failpoint of repo commit leaves a consistent repository (archive, bare-user)', async (t) => {
  const s = setup('ingot-crash-fp-', 4, 25, false);
  try {
    for (const mode of MODES) {
      for (const [fp, expect] of FAILPOINTS) {
        await t.test(`${mode} ${fp}`, () => {
          const repo = path.join(s.work, `r-${mode}-${fp.replace('@', '-')}`);
          cloneRepo(s.base[mode], repo);
          const r = spawnSync(process.execPath, [INGOT, ...commitArgs(repo, s.v2, s.oldC)], {
            encoding: 'utf8',
            env: { ...process.env, ...ENV, INGOT_FAILPOINT: fp },
          });
          assert.equal(r.signal, 'SIGKILL', `failpoint ${fp} did not fire (status ${r.status}):\n${r.stderr}`);
          const ref = checkConsistent(repo, mode, s.oldC, s.newC, `${mode} killed at ${fp}`);
          assert.equal(ref, expect === 'old' ? s.oldC : s.newC, `ref after a kill at ${fp}`);
          // The same commit again completes and yields the same commit.
          const again = firstChecksum(ingotOk(commitArgs(repo, s.v2, s.oldC), { env: ENV }));
          assert.equal(again, s.newC);
          assert.equal(readRef(repo), s.newC);
          checkConsistent(repo, mode, s.oldC, s.newC, `${mode} re-run after ${fp}`, false);
          // The killed commit's staging directory is gone once the next commit ran.
          assert.deepEqual(leftovers(repo), [], `${mode} ${fp}: staging left in tmp/ after the re-run`);
          if (CHECKOUT_AFTER.has(fp)) sameTree(repo, BRANCH, s.v2, path.join(s.work, `co-${mode}-${fp.replace('@', '-')}`), `${mode} after ${fp}`);
          cleanup(repo);
        });
      }
    }
  } finally {
    cleanup(s.work);
  }
});

test('failpoint error and ENOSPC actions fail cleanly and leave the old ref', () => {
  const s = setup('ingot-crash-err-', 1, 10, false);
  try {
    for (const mode of MODES) {
      for (const spec of ['ref-write=error', 'store-before-place=enospc']) {
        const repo = path.join(s.work, `r-${mode}`);
        cloneRepo(s.base[mode], repo);
        const r = ingot(commitArgs(repo, s.v2, s.oldC), { env: { ...ENV, INGOT_FAILPOINT: spec } });
        const code = spec.endsWith('=error') ? 'FAILPOINT' : 'IO_ERROR';
        assert.equal(r.status, 1, `${spec}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: `), spec);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${spec}: stack trace`);
        assert.equal(checkConsistent(repo, mode, s.oldC, s.newC, `${mode} ${spec}`), s.oldC);
        assert.equal(firstChecksum(ingotOk(commitArgs(repo, s.v2, s.oldC), { env: ENV })), s.newC);
        cleanup(repo);
      }
    }
  } finally {
    cleanup(s.work);
  }
});

test('SIGKILL at random moments of a large commit leaves a consistent repository', async (t) => {
  const seed = Number(process.env['INGOT_TEST_SEED'] ?? Date.now() % 1000000);
  t.diagnostic(`seed ${seed} (rerun with INGOT_TEST_SEED=${seed})`);
  const rand = prng(seed);
  const s = setup('ingot-crash-rand-', 6, 50, true);
  try {
    let killed = 0;
    let runs = 0;
    for (const mode of MODES) {
      // How long an uninterrupted commit takes here.
      const probe = path.join(s.work, `probe-${mode}`);
      cloneRepo(s.base[mode], probe);
      const t0 = Date.now();
      ingotOk(commitArgs(probe, s.v2, s.oldC), { env: ENV });
      const duration = Date.now() - t0;
      cleanup(probe);
      for (let i = 0; i < 10; i++) {
        runs++;
        const repo = path.join(s.work, `r-${mode}-${i}`);
        cloneRepo(s.base[mode], repo);
        const delay = Math.floor(rand() * duration * 0.75);
        const what = `${mode} run ${i}: kill after ${delay} ms of ~${duration} ms (seed ${seed})`;
        const child = runAsync(commitArgs(repo, s.v2, s.oldC), ENV);
        const timer = setTimeout(child.kill, delay);
        const r = await child.done;
        clearTimeout(timer);
        if (r.signal === 'SIGKILL') killed++;
        else assert.equal(r.status, 0, `${what}: the commit failed:\n${r.stderr}`);
        const ref = checkConsistent(repo, mode, s.oldC, s.newC, what);
        if (r.status === 0) assert.equal(ref, s.newC, `${what}: finished but the ref did not move`);
        assert.equal(firstChecksum(ingotOk(commitArgs(repo, s.v2, s.oldC), { env: ENV })), s.newC, what);
        assert.equal(readRef(repo), s.newC);
        assert.deepEqual(leftovers(repo), [], `${what}: staging left in tmp/ after the re-run`);
        if (i === 9) {
          checkConsistent(repo, mode, s.oldC, s.newC, `${what}, re-run`, false);
          sameTree(repo, BRANCH, s.v2, path.join(s.work, `co-${mode}`), what);
        }
        cleanup(repo);
      }
    }
    t.diagnostic(`${killed} of ${runs} commits were killed before they finished`);
    assert.ok(killed >= runs / 3, `only ${killed} of ${runs} runs were killed mid-commit`);
  } finally {
    cleanup(s.work);
  }
});

/** Resolves once `repo`/tmp holds a staging directory (a commit is inside its transaction). */
async function stagingAppears(repo: string, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (fs.readdirSync(path.join(repo, 'tmp')).some((n) => /^ingot-staging-/.test(n))) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.fail('no commit started its transaction');
}

test('two commits and a prune started together on one repository all succeed', async () => {
  const work = tmpdir('ingot-crash-conc-');
  try {
    const rand = prng(7);
    // X: a commit no ref keeps (prune deletes it); A and B share most of X's content, so a
    // prune that ran in the middle of a commit would delete objects the commit relies on.
    // Each also has a large file of its own, which keeps the commit busy after those checks.
    const tx = path.join(work, 'tx');
    for (let d = 0; d < 4; d++) {
      fs.mkdirSync(path.join(tx, `d${d}`), { recursive: true });
      for (let i = 0; i < 25; i++) fs.writeFileSync(path.join(tx, `d${d}/f${i}`), words(rand, 200 + Math.floor(rand() * 4000)));
    }
    const trees: Record<'a' | 'b' | 'keep', string> = { a: path.join(work, 'ta'), b: path.join(work, 'tb'), keep: path.join(work, 'tk') };
    for (const [name, dir] of Object.entries(trees)) {
      // 'keep' (a branch prune must keep) shares nothing with X.
      if (name === 'keep') fs.mkdirSync(dir);
      else spawnSync('cp', ['-a', tx, dir]);
      fs.writeFileSync(path.join(dir, `only-${name}`), words(rand, 5000));
      fs.mkdirSync(path.join(dir, `new-${name}`));
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `new-${name}/g${i}`), bytes(rand, 3000));
      if (name !== 'keep') fs.writeFileSync(path.join(dir, `new-${name}/large`), words(rand, 6 << 20));
    }
    for (let round = 0; round < 4; round++) {
      const mode: Mode = round % 2 ? 'bare-user' : 'archive';
      // Rounds 0-1 start all three at once; rounds 2-3 start prune once a commit is under way.
      const staggered = round >= 2;
      const what = `round ${round} (${mode}, ${staggered ? 'prune during the commits' : 'all at once'})`;
      const repo = path.join(work, `repo-${round}`);
      ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
      const x = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'tmp/x', tx]));
      ingotOk(['repo', 'refs', '--repo', repo, '--delete', 'tmp/x']);
      ingotOk(['repo', 'commit', '--repo', repo, '-b', 'keep', trees.keep]);
      const xPath = path.join(repo, 'objects', x.slice(0, 2), `${x.slice(2)}.commit`);
      assert.ok(fs.existsSync(xPath));

      const pruneArgs = ['--json', 'repo', 'prune', '--repo', repo, '--refs-only'];
      const prune0 = staggered ? null : runAsync(pruneArgs);
      const commits = [
        runAsync(['--json', 'repo', 'commit', '--repo', repo, '-b', 'branch/a', trees.a]),
        runAsync(['--json', 'repo', 'commit', '--repo', repo, '-b', 'branch/b', trees.b]),
      ];
      if (staggered) await stagingAppears(repo);
      const prune = prune0 ?? runAsync(pruneArgs);
      const results = await Promise.all([...commits.map((p) => p.done), prune.done]);
      for (const r of results) assert.equal(r.status, 0, `${what}: a process failed:\n${r.stderr}`);
      const pruned = JSON.parse(results[2]!.stdout) as { commitsDeleted: string[] };
      assert.ok(pruned.commitsDeleted.includes(x), `${what}: prune did not delete the unreferenced commit`);
      assert.ok(!fs.existsSync(xPath));

      const f = ingot(['--json', 'repo', 'fsck', '--repo', repo]);
      assert.equal(f.status, 0, `${what}: ingot fsck:\n${f.stdout}${f.stderr}`);
      const o = ostree(repo, ['fsck']);
      assert.equal(o.status, 0, `${what}: ostree fsck:\n${o.stdout}${o.stderr}`);
      assert.deepEqual(verifyAllObjects(repo, mode), []);
      for (const [name, ref] of [['a', 'branch/a'], ['b', 'branch/b']] as const) {
        sameTree(repo, ref, trees[name], path.join(work, `co-${round}-${name}`), `${what} ${ref}`);
      }
      cleanup(repo);
    }
  } finally {
    cleanup(work);
  }
});
