/**
 * The fast paths of `ingot repo checkout` and of start-up: the whole-tree native hardlink
 * checkout (native/ingot_sys.c checkoutTree) must give exactly what the general path gives
 * (INGOT_CHECKOUT_NATIVE=0), hand over to it cleanly when it meets something it does not
 * handle, and the one-file bundle of the repo group (scripts/bundle.mjs) must run the repo
 * commands like the unbundled modules and never run when it is stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, cleanup, describeTree, firstChecksum, ingot, ingotOk, tmpdir, treeDiff } from '../helpers.js';
import { sys } from '../../src/platform/sys.js';
import { serialize } from '../../src/codecs/gvariant/serialize.js';
import { DIRTREE_TYPE, encodeCommit, sha256 } from '../../src/codecs/ostree/objects.js';
import type { Checksum } from '../../src/core/checksum.js';
import { bundleFor } from '../../src/cli/launch.js';
import { VERSION } from '../../src/version.js';

const isRoot = process.getuid?.() === 0;

/** Nested directories (a read-only one with content, setgid and sticky ones, an empty one), odd names, symlinks, an xattr on a directory. */
function writeTree(root: string): void {
  const mk = (p: string, mode = 0o755): void => {
    fs.mkdirSync(path.join(root, p), { recursive: true });
    fs.chmodSync(path.join(root, p), mode);
  };
  mk('');
  for (let i = 0; i < 30; i++) {
    mk(`d${i % 5}/sub${i}`);
    fs.writeFileSync(path.join(root, `d${i % 5}/sub${i}/file ${i}`), `content ${i}\n`);
    fs.writeFileSync(path.join(root, `d${i % 5}/-dash${i}`), `dash ${i % 3}\n`); // duplicates share an object
  }
  fs.writeFileSync(path.join(root, 'empty'), '');
  fs.writeFileSync(path.join(root, 'd0/ünïcödé ✓'), 'unicode\n');
  fs.symlinkSync('d0/ünïcödé ✓', path.join(root, 'link'));
  fs.symlinkSync('/absolute/target', path.join(root, 'd1/abs'));
  mk('deep/a/b/c/d/e/f/g');
  fs.writeFileSync(path.join(root, 'deep/a/b/c/d/e/f/g/leaf'), 'leaf\n');
  mk('void'); // empty directory
  mk('shared', 0o2775);
  mk('tmp', 0o1777);
  fs.writeFileSync(path.join(root, 'ro-file'), 'read only\n');
  fs.chmodSync(path.join(root, 'ro-file'), 0o444);
  mk('ro/inner');
  fs.writeFileSync(path.join(root, 'ro/inner/x'), 'x\n');
  fs.chmodSync(path.join(root, 'ro/inner'), 0o555);
  fs.chmodSync(path.join(root, 'ro'), 0o500);
  sys().lsetxattr(path.join(root, 'd2'), 'user.checkout-test', Buffer.from('on a directory'));
}

function mtimes(root: string): string[] {
  const bad: string[] = [];
  const walk = (abs: string, rel: string): void => {
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      if (st.mtimeMs !== 0) bad.push(`${rel || '/'} mtime ${st.mtimeMs}`);
      for (const n of fs.readdirSync(abs)) walk(path.join(abs, n), `${rel}/${n}`);
    }
  };
  walk(root, '');
  return bad;
}

function checkoutJson(args: string[], env: NodeJS.ProcessEnv = {}): { files: number; dirs: number; hardlinked: number; copied: number; symlinks: number } {
  const r = ingot(['--json', 'repo', 'checkout', ...args], { env });
  assert.equal(r.status, 0, `ingot repo checkout ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  const j = JSON.parse(r.stdout) as { files: number; dirs: number; hardlinked: number; copied: number; symlinks: number };
  return { files: j.files, dirs: j.dirs, hardlinked: j.hardlinked, copied: j.copied, symlinks: j.symlinks };
}

test('native hardlink checkout: the same tree as the general path, bare-user (user mode) and bare', async (t) => {
  const work = tmpdir('ingot-cofast-');
  try {
    const tree = path.join(work, 'tree');
    writeTree(tree);
    for (const mode of ['bare-user', 'bare'] as const) {
      await t.test(mode, () => {
        const repo = path.join(work, `repo-${mode}`);
        ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
        ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', '--timestamp', '@1700000000', tree]);
        const args = mode === 'bare-user' ? ['-U', '--require-hardlinks'] : ['--require-hardlinks'];
        const fast = path.join(work, `fast-${mode}`);
        const slow = path.join(work, `slow-${mode}`);
        const dbg = ingot(['repo', 'checkout', '--repo', repo, ...args, 'main', fast], { env: { INGOT_DEBUG: '1' } });
        assert.equal(dbg.status, 0, dbg.stderr);
        assert.doesNotMatch(dbg.stderr, /native path stopped/, 'the native path handled the whole tree');
        fs.rmSync(fast, { recursive: true, force: true });
        const a = checkoutJson(['--repo', repo, ...args, 'main', fast]);
        const b = checkoutJson(['--repo', repo, ...args, 'main', slow], { INGOT_CHECKOUT_NATIVE: '0' });
        assert.deepEqual(a, b, 'counts');
        assert.equal(a.copied, 0);
        assert.equal(a.hardlinked + a.symlinks, a.files);
        // Bare keeps the committed owners (as root) and xattrs; user mode drops both.
        const opts = mode === 'bare' && isRoot ? {} : { owners: false };
        assert.deepEqual(treeDiff(describeTree(fast, opts), describeTree(slow, opts)), []);
        if (mode === 'bare') {
          assert.deepEqual(treeDiff(describeTree(fast, opts), describeTree(tree, opts)), [], 'bare: the committed tree itself');
          assert.equal(sys().lgetxattr(path.join(fast, 'd2'), 'user.checkout-test')?.toString(), 'on a directory');
        } else {
          assert.equal(sys().lgetxattr(path.join(fast, 'd2'), 'user.checkout-test'), null, 'user mode restores no xattrs');
        }
        assert.deepEqual(mtimes(fast), [], 'every directory gets mtime 0, as the general path sets');
        assert.equal(fs.statSync(path.join(fast, 'd0/-dash0')).ino, fs.statSync(path.join(fast, 'd3/-dash3')).ino, 'one object, one inode');
        assert.equal(fs.statSync(path.join(fast, 'd0/-dash0')).ino, fs.statSync(path.join(slow, 'd0/-dash0')).ino, 'hardlinks into the repository');
        // An existing destination: CHECKOUT_EXISTS, from the general path, with nothing removed.
        const again = ingot(['--json', 'repo', 'checkout', '--repo', repo, ...args, 'main', fast]);
        assert.equal(again.status, 1);
        assert.equal((JSON.parse(again.stderr) as { error: { code: string } }).error.code, 'CHECKOUT_EXISTS');
        assert.ok(fs.existsSync(path.join(fast, 'deep/a/b/c/d/e/f/g/leaf')));
        // A subpath is a tree of its own.
        const sub = checkoutJson(['--repo', repo, ...args, '--subpath', '/deep/a', 'main', path.join(work, `sub-${mode}`)]);
        assert.deepEqual([sub.files, sub.dirs], [1, 7]);
        for (const d of [fast, slow, path.join(work, `sub-${mode}`)]) cleanup(d);
      });
    }
  } finally {
    cleanup(work);
  }
});

test('native hardlink checkout hands over to the general path: unsorted dirtree, missing object', () => {
  const work = tmpdir('ingot-cofall-');
  try {
    const tree = path.join(work, 'tree');
    fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'a'), 'a\n');
    fs.writeFileSync(path.join(tree, 'sub/b'), 'b\n');
    const repo = path.join(work, 'repo');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'bare-user']);
    ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', tree]);
    const ls = JSON.parse(ingotOk(['--json', 'repo', 'ls', '-R', '--repo', repo, 'main'])) as { path: string; checksum: string; meta?: string }[];
    const sum = (p: string): Buffer => Buffer.from(ls.find((e) => e.path === p)!.checksum, 'hex');
    const meta = Buffer.from(ls.find((e) => e.path === '/sub')!.meta!, 'hex');
    const store = (ext: string, data: Buffer): Checksum => {
      const c = sha256(data);
      const p = path.join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.${ext}`);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
      return c;
    };
    const show = JSON.parse(ingotOk(['--json', 'repo', 'show', '--repo', repo, 'main'])) as { rootMeta: Checksum };
    const commitOf = (root: Checksum, ref: string): void => {
      const c = store('commit', encodeCommit({ metadata: [], parent: null, related: [], subject: ref, body: '', timestamp: 1700000000n, rootTree: root, rootMeta: show.rootMeta }));
      fs.writeFileSync(path.join(repo, 'refs/heads', ref), `${c}\n`);
    };
    // Names out of order: ostree never writes this, the general path reads it all the same.
    const inner = store('dirtree', serialize(DIRTREE_TYPE, [[['z', sum('/a')], ['b', sum('/sub/b')]], []]));
    commitOf(store('dirtree', serialize(DIRTREE_TYPE, [[['a', sum('/a')]], [['sub', Buffer.from(inner, 'hex'), meta]]])), 'unsorted');
    const dest = path.join(work, 'co-unsorted');
    const r = ingot(['repo', 'checkout', '--repo', repo, '-U', 'unsorted', dest], { env: { INGOT_DEBUG: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /native path stopped \(EINVAL in dirtree name/);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'sub')).sort(), ['b', 'z']);
    assert.equal(fs.readFileSync(path.join(dest, 'sub/z'), 'utf8'), 'a\n');

    // A missing file object deep in the tree: the general path names it; nothing is left behind.
    const missing = 'ab'.repeat(32);
    const inner2 = store('dirtree', serialize(DIRTREE_TYPE, [[['b', sum('/sub/b')], ['gone', Buffer.from(missing, 'hex')]], []]));
    commitOf(store('dirtree', serialize(DIRTREE_TYPE, [[['a', sum('/a')]], [['sub', Buffer.from(inner2, 'hex'), meta]]])), 'missing');
    const box = path.join(work, 'box');
    fs.mkdirSync(box);
    const m = ingot(['--json', 'repo', 'checkout', '--repo', repo, '-U', 'missing', path.join(box, 'dest')]);
    assert.equal(m.status, 3, m.stderr);
    const err = (JSON.parse(m.stderr) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'OBJECT_MISSING');
    assert.match(err.message, new RegExp(missing));
  } finally {
    cleanup(work);
  }
});

test('the repo and pull bundles run their commands as the modules do, and only while fresh', () => {
  const work = tmpdir('ingot-bundle-');
  try {
    // A package root of our own: the build's dist/src, the addon and node_modules of this one.
    const pkg = path.join(work, 'pkg');
    fs.mkdirSync(path.join(pkg, 'dist'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'dist', 'src'), path.join(pkg, 'dist', 'src'), { recursive: true, preserveTimestamps: true });
    for (const dir of ['repo', 'transport']) {
      fs.rmSync(path.join(pkg, `dist/src/${dir}/cli-bundle.js`), { force: true });
      fs.rmSync(path.join(pkg, `dist/src/${dir}/cli-bundle.json`), { force: true });
    }
    fs.cpSync(path.join(ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkg, 'build'));
    const root = pathToFileURL(pkg + '/');
    const argv = ['node', 'ingot', 'repo', 'checkout', 'x', 'y'];
    assert.equal(bundleFor(argv, root), null, 'no bundle yet');
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle.mjs'), '--root', pkg], { encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const bundle = bundleFor(argv, root);
    assert.equal(bundle?.href, new URL('dist/src/repo/cli-bundle.js', root).href);
    assert.equal(bundleFor(['node', 'ingot', '--json', 'repo', 'fsck'], root)?.href, bundle.href);
    assert.equal(bundleFor(['node', 'ingot', 'pkg', 'vercmp', '1', '2'], root), null, 'other groups run unbundled');
    const pullBundle = bundleFor(['node', 'ingot', 'pull', '--repo', 'r', 'origin', 'main'], root);
    assert.equal(pullBundle?.href, new URL('dist/src/transport/cli-bundle.js', root).href);

    // The bundle itself: init, commit (worker threads), checkout (native), fsck, an error.
    // (A script file, not --eval: worker threads inherit the process's execArgv.)
    const runner = path.join(work, 'run-bundle.mjs');
    fs.writeFileSync(runner, `const m = await import(${JSON.stringify(bundle.href)});\nprocess.exitCode = await m.main(process.argv);\n`);
    const run = (args: string[]): { status: number; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [runner, ...args], { encoding: 'utf8' });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const tree = path.join(work, 'tree');
    writeTree(tree);
    const repo = path.join(work, 'repo');
    assert.equal(run(['repo', 'init', '--repo', repo, '--mode', 'bare-user']).status, 0);
    const c = run(['repo', 'commit', '--repo', repo, '-b', 'main', '--timestamp', '@1700000000', tree]);
    assert.equal(c.status, 0, c.stderr);
    const viaModules = ingotOk(['repo', 'rev-parse', '--repo', repo, 'main'], { env: { INGOT_BUNDLE: '0' } }).trim();
    assert.equal(firstChecksum(c.stdout), viaModules);
    const co = run(['--json', 'repo', 'checkout', '--repo', repo, '-U', 'main', path.join(work, 'co')]);
    assert.equal(co.status, 0, co.stderr);
    assert.equal((JSON.parse(co.stdout) as { copied: number }).copied, 0);
    ingotOk(['repo', 'checkout', '--repo', repo, '-U', 'main', path.join(work, 'co-modules')], { env: { INGOT_BUNDLE: '0' } });
    assert.deepEqual(treeDiff(describeTree(path.join(work, 'co'), { owners: false }), describeTree(path.join(work, 'co-modules'), { owners: false })), []);
    const f = run(['repo', 'fsck', '--repo', repo]);
    assert.equal(f.status, 0, f.stderr + f.stdout);
    const e = run(['--json', 'repo', 'checkout', '--repo', path.join(work, 'nope'), 'main', path.join(work, 'co2')]);
    assert.equal(e.status, 1);
    assert.equal((JSON.parse(e.stderr) as { error: { code: string } }).error.code, 'REPO_NOT_FOUND');
    const u = run(['repo', 'checkout', '--no-such-option']);
    assert.equal(u.status, 2, 'usage errors keep their status');

    // The pull bundle (undici inside): an archive repository pulled over file:// as the modules do.
    const srv = path.join(work, 'srv');
    ingotOk(['repo', 'init', '--repo', srv, '--mode', 'archive']);
    ingotOk(['repo', 'commit', '--repo', srv, '-b', 'main', '--timestamp', '@1700000000', tree]);
    const client = path.join(work, 'client');
    ingotOk(['repo', 'init', '--repo', client, '--mode', 'bare-user']);
    ingotOk(['remote', 'add', '--repo', client, 'origin', pathToFileURL(srv).href]);
    const pullRunner = path.join(work, 'run-pull-bundle.mjs');
    fs.writeFileSync(pullRunner, `const m = await import(${JSON.stringify(pullBundle!.href)});\nprocess.exitCode = await m.main(process.argv);\n`);
    const p = spawnSync(process.execPath, [pullRunner, 'pull', '--repo', client, 'origin', 'main'], { encoding: 'utf8', env: { ...process.env, INGOT_NO_PROGRESS: '1' } });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(ingotOk(['repo', 'rev-parse', '--repo', client, 'origin:main']).trim(), viaModules);
    assert.equal(run(['repo', 'fsck', '--repo', client]).status, 0);

    // bin/ingot.js of that package root runs repo commands from it (a broken main.js there proves it)...
    const mainJs = path.join(pkg, 'dist/src/cli/main.js');
    const st = fs.statSync(mainJs);
    const saved = fs.readFileSync(mainJs);
    fs.writeFileSync(mainJs, Buffer.alloc(saved.length, 0x20).fill('throw new Error("unbundled main.js ran");\n', 0, 42));
    fs.utimesSync(mainJs, st.atime, st.mtime);
    const viaBin = spawnSync(process.execPath, [path.join(pkg, 'bin', 'ingot.js'), 'repo', 'rev-parse', '--repo', repo, 'main'], { encoding: 'utf8' });
    assert.equal(viaBin.stdout.trim(), viaModules, viaBin.stderr);
    // ...and stops using it once a file it was built from changes.
    fs.utimesSync(mainJs, st.atime, new Date(st.mtimeMs + 5000));
    assert.equal(bundleFor(argv, root), null, 'a changed input makes the bundle stale');
    const stale = spawnSync(process.execPath, [path.join(pkg, 'bin', 'ingot.js'), 'repo', 'rev-parse', '--repo', repo, 'main'], { encoding: 'utf8' });
    assert.match(stale.stderr, /unbundled main\.js ran/);
  } finally {
    cleanup(work);
  }
});

test('start-up: --version loads no group; a repo verb alone parses as within its whole group', () => {
  for (const flag of ['--version', '-V']) {
    const v = ingot([flag]);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `${VERSION}\n`);
  }
  const help = ingot(['repo', '--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const verb of ['init', 'commit', 'checkout', 'ls', 'cat', 'log', 'show', 'refs', 'rev-parse', 'diff', 'summary', 'fsck', 'prune']) {
    assert.match(help.stdout, new RegExp(`^  ${verb}\\b`, 'm'), `repo --help lists ${verb}`);
  }
  const one = ingot(['repo', 'checkout', '--help']);
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stdout, /--require-hardlinks/);
  const typo = ingot(['repo', 'chekout', 'x', 'y']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /Did you mean checkout\?/);
  const bad = ingot(['--json', 'repo', 'checkout', '--no-such-option', 'x', 'y']);
  assert.equal(bad.status, 2);
  assert.equal((JSON.parse(bad.stderr) as { error: { code: string } }).error.code, 'USAGE');
});
