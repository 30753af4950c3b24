/**
 * The command line end to end: --json on every data command, `ingot demo`, prune (refs-only,
 * depth, keep-younger-than), commit --skip-if-unchanged, and checkout's --subpath, --union,
 * --require-hardlinks and hardlinked inodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, describeTree, firstChecksum, ingot, ingotOk, ostree, ostreeOk, tmpdir, treeDiff, type RunResult } from '../helpers.js';
import { ERROR_CODES, type ErrorCode } from '../../src/core/codes.js';

const STACK = /^\s+at \S/m;
const IGNORE = { ignoreXattrs: ['user.ostreemeta', 'security.selinux'] };

function expectError(code: ErrorCode, args: (json: boolean) => string[]): { text: RunResult; json: RunResult } {
  const exit = ERROR_CODES[code].exit;
  const cmd = args(false).join(' ');
  const text = ingot(args(false));
  assert.equal(text.status, exit, `ingot ${cmd}: want exit ${exit} (${code}), got ${text.status}:\n${text.stderr}`);
  assert.ok(text.stderr.startsWith(`error[${code}]: `), `ingot ${cmd}:\n${text.stderr}`);
  assert.doesNotMatch(text.stderr, STACK);
  const json = ingot(['--json', ...args(true)]);
  assert.equal(json.status, exit, `ingot --json ${cmd}:\n${json.stderr}`);
  assert.equal((JSON.parse(json.stderr) as { error: { code: string } }).error.code, code);
  return { text, json };
}

/** Runs `ingot --json ARGS`, which must succeed and print exactly one JSON document. */
function json<T = Record<string, unknown>>(args: string[]): T {
  const r = ingot(['--json', ...args]);
  assert.equal(r.status, 0, `ingot --json ${args.join(' ')}:\n${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    return assert.fail(`ingot --json ${args.join(' ')} printed no valid JSON:\n${r.stdout}`);
  }
}

/** Three versions of a small system tree. */
function writeVersion(root: string, v: 1 | 2 | 3): void {
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/share/doc'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/bin/hello'), `#!/bin/sh\necho "hello v${v}"\n`, { mode: 0o755 });
  fs.chmodSync(path.join(root, 'usr/bin/hello'), 0o755);
  fs.writeFileSync(path.join(root, 'usr/share/doc/COMMON'), 'the same in every version\n'.repeat(50));
  fs.writeFileSync(path.join(root, 'etc/conf'), `version=${v}\n`);
  fs.symlinkSync('../usr/bin/hello', path.join(root, 'etc/hello-link'));
  if (v === 1) fs.writeFileSync(path.join(root, 'usr/share/doc/README-v1-only'), 'only in version 1\n');
  if (v >= 2) fs.writeFileSync(path.join(root, 'etc/motd'), 'welcome\n');
  if (v === 3) {
    fs.mkdirSync(path.join(root, 'opt/app/data'), { recursive: true });
    fs.writeFileSync(path.join(root, 'opt/app/data/blob'), Buffer.alloc(70000, 7));
  }
}

function objPath(repo: string, checksum: string, ext: string): string {
  return path.join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${ext}`);
}

function commitObjects(repo: string): string[] {
  return (fs.readdirSync(path.join(repo, 'objects'), { recursive: true }) as string[])
    .filter((e) => e.endsWith('.commit'))
    .map((e) => e.replace('/', '').replace('.commit', ''))
    .sort();
}

function assertFsckClean(repo: string, what: string): void {
  const f = ingot(['repo', 'fsck', '--repo', repo]);
  assert.equal(f.status, 0, `${what}: ingot fsck:\n${f.stdout}${f.stderr}`);
  const o = ostree(repo, ['fsck']);
  assert.equal(o.status, 0, `${what}: ostree fsck:\n${o.stdout}${o.stderr}`);
}

function assertCheckout(repo: string, rev: string, source: string, dest: string, extra: string[] = []): void {
  ingotOk(['repo', 'checkout', '--repo', repo, ...extra, rev, dest]);
  assert.deepEqual(treeDiff(describeTree(source, IGNORE), describeTree(dest, IGNORE)), [], `checkout of ${rev} differs from ${source}`);
}

// ---------------------------------------------------------------------------------------------

test('every data command accepts --json and prints valid JSON', () => {
  const work = tmpdir('ingot-cli-json-');
  try {
    const repo = path.join(work, 'repo');
    const tree = path.join(work, 'tree');
    const init = json(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    assert.deepEqual(init, { path: repo, mode: 'archive' });

    writeVersion(tree, 1);
    const c1 = json<{ commit: string; parent: string | null; unchanged: boolean; stats: { files: number } }>([
      'repo', 'commit', '--repo', repo, '-b', 'os/stable', '-s', 'one', '--add-metadata-string', 'version=1', tree,
    ]);
    assert.match(c1.commit, /^[0-9a-f]{64}$/);
    assert.equal(c1.parent, null);
    assert.equal(c1.unchanged, false);
    assert.equal(c1.stats.files, 4);
    writeVersion(tree, 2);
    const c2 = json<{ commit: string; parent: string }>(['repo', 'commit', '--repo', repo, '-b', 'os/stable', '-s', 'two', tree]);
    assert.equal(c2.parent, c1.commit);

    assert.deepEqual(json(['repo', 'rev-parse', '--repo', repo, 'os/stable']), { rev: 'os/stable', commit: c2.commit });
    assert.equal(json<{ commit: string }>(['repo', 'rev-parse', '--repo', repo, 'os/stable^']).commit, c1.commit);

    const show = json<{ checksum: string; parent: string; subject: string; contentChecksum: string; metadata: [string, string][] }>([
      'repo', 'show', '--repo', repo, c1.commit,
    ]);
    assert.equal(show.checksum, c1.commit);
    assert.equal(show.subject, 'one');
    assert.ok(show.metadata.some(([k]) => k === 'version'));
    // ostree agrees on the ContentChecksum.
    assert.match(ostreeOk(repo, ['log', c1.commit]), new RegExp(`ContentChecksum:\\s+${show.contentChecksum}`));

    const log = json<{ commits: { checksum: string; subject: string }[]; truncatedAt: string | null }>(['repo', 'log', '--repo', repo, 'os/stable']);
    assert.deepEqual(log.commits.map((c) => c.checksum), [c2.commit, c1.commit]);
    assert.deepEqual(log.commits.map((c) => c.subject), ['two', 'one']);
    assert.equal(log.truncatedAt, null);

    const ls = json<{ path: string; type: string }[]>(['repo', 'ls', '--repo', repo, 'os/stable', '/etc']);
    assert.deepEqual(ls.map((e) => `${e.type} ${e.path}`), ['dir /etc', 'file /etc/conf', 'symlink /etc/hello-link', 'file /etc/motd']);
    const lsR = json<{ path: string }[]>(['repo', 'ls', '-R', '--repo', repo, 'os/stable']);
    assert.ok(lsR.some((e) => e.path === '/usr/share/doc/COMMON'));

    const diff = json<{ from: string; to: string; added: string[]; removed: string[]; modified: string[] }>(['repo', 'diff', '--repo', repo, c1.commit, c2.commit]);
    assert.deepEqual(diff, {
      from: c1.commit,
      to: c2.commit,
      added: ['/etc/motd'],
      removed: ['/usr/share/doc/README-v1-only'],
      modified: ['/etc/conf', '/usr/bin/hello'],
    });

    assert.deepEqual(json(['repo', 'refs', '--repo', repo]), { created: [], deleted: [], refs: { 'os/stable': c2.commit } });
    const created = json<{ created: [string, string][] }>(['repo', 'refs', '--repo', repo, '--create', `os/old=${c1.commit}`]);
    assert.deepEqual(created.created, [['os/old', c1.commit]]);
    assert.deepEqual(json<{ refs: Record<string, string> }>(['repo', 'refs', '--repo', repo]).refs, { 'os/old': c1.commit, 'os/stable': c2.commit });
    assert.deepEqual(json<{ deleted: string[] }>(['repo', 'refs', '--repo', repo, '--delete', 'os/old']).deleted, ['os/old']);

    const co = json<{ commit: string; destination: string; files: number; dirs: number }>(['repo', 'checkout', '--repo', repo, 'os/stable', path.join(work, 'co')]);
    assert.equal(co.commit, c2.commit);
    assert.equal(co.destination, path.join(work, 'co'));
    assert.equal(co.dirs, 6);

    const sum = json<{ refs: { name: string; checksum: string }[] }>(['repo', 'summary', '-u', '--repo', repo]);
    assert.deepEqual(sum.refs.map((r) => [r.name, r.checksum]), [['os/stable', c2.commit]]);
    const view = json<{ refs: { name: string; checksum: string }[]; metadata: [string, string][] }>(['repo', 'summary', '--view', '--repo', repo]);
    assert.deepEqual(view.refs, sum.refs);
    assert.ok(view.metadata.some(([k]) => k === 'ostree.summary.mode'));
    assert.match(ostreeOk(repo, ['summary', '--view']), new RegExp(c2.commit));

    const fsck = json<{ commits: number; problems: unknown[] }>(['repo', 'fsck', '--repo', repo]);
    assert.equal(fsck.commits, 2);
    assert.deepEqual(fsck.problems, []);

    const dry = json<{ dryRun: boolean; objectsTotal: number; objectsDeleted: number }>(['repo', 'prune', '--repo', repo, '--refs-only', '--depth', '0', '--no-prune']);
    assert.equal(dry.dryRun, true);
    assert.ok(dry.objectsDeleted > 0 && dry.objectsTotal > dry.objectsDeleted);
    assert.deepEqual(commitObjects(repo), [c1.commit, c2.commit].sort(), 'a dry run deleted commits');
    const pruned = json<{ dryRun: boolean; objectsDeleted: number; commitsDeleted: string[] }>(['repo', 'prune', '--repo', repo]);
    assert.deepEqual(pruned, { ...pruned, dryRun: false, objectsDeleted: 0, commitsDeleted: [] });

    // --json is accepted after the verb too.
    assert.equal((JSON.parse(ingotOk(['repo', 'show', '--repo', repo, 'os/stable', '--json'])) as { checksum: string }).checksum, c2.commit);
  } finally {
    cleanup(work);
  }
});

test('ingot demo --dir prints its numbered steps (commits, compose, delivery, hosts, images, inventory) with clean fscks', () => {
  const work = tmpdir('ingot-cli-demo-');
  try {
    const dir = path.join(work, 'demo');
    const out = ingotOk(['demo', '--dir', dir]);
    const lines = out.trimEnd().split('\n');
    const numbered = lines.filter((l) => /^\d+\. /.test(l));
    assert.ok(numbered.length > 15, out);
    assert.deepEqual(numbered.map((l) => Number(/^(\d+)\./.exec(l)![1])), Array.from({ length: numbered.length }, (_, i) => i + 1), out);
    assert.match(numbered[6]!, /^7\. fsck: 2 commits, .*no problems/);
    assert.match(numbered[14]!, /^15\. fsck: 4 commits, .*no problems/);
    assert.doesNotMatch(out, /PROBLEMS|COMMITTED/);
    // The compose part: built packages, composed twice with one package upgraded, the db diff.
    assert.match(out, /^8\. built 3 Debian packages with dpkg-deb .*demo-base 1\.0, demo-tool 1\.0, demo-tool 1\.1$/m);
    assert.match(out, /^11\. composed again with the same inputs: unchanged, no commit made/m);
    assert.match(out, /^ +Upgraded:\n +demo-tool 1\.0 → 1\.1$/m);
    // Delivery: a signed commit pulled with its signature verified, and refused under another key.
    assert.match(out, /^\d+\. ingot pull into client\/ .*signature verified/m);
    assert.match(out, /refused with SIGNATURE_BAD; ref not written/);
    // Hosts: deploy, upgrade keeping the local /etc edit, rollback.
    assert.match(out, /^\d+\. ingot admin upgrade: .*the edit survived/m);
    assert.match(out, /^\d+\. ingot admin rollback: /m);
    // Images: the image carries the host commit's packages.
    assert.match(out, /^ +no package changes$/m);
    // Inventory: the vulnerable version is found in both, and the fixed compose is clean.
    assert.match(out, /^ +commit [0-9a-f]{12}: demo-tool 1\.1 is affected by /m);
    assert.match(out, /^ +image oci:image:\S+: demo-tool 1\.1 is affected by /m);
    assert.match(out, /^ +commit [0-9a-f]{12}: clean /m);
    const composed = ostreeOk(path.join(dir, 'repo'), ['log', 'demo/x86_64/os']);
    assert.equal((composed.match(/^commit /gm) ?? []).length, 3);
    const diff = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', path.join(dir, 'repo'), 'demo/x86_64/os'])) as { upgraded: { name: string; from: string; to: string }[]; added: unknown[]; removed: unknown[] };
    assert.deepEqual(diff.upgraded.map((u) => `${u.name} ${u.from} ${u.to}`), ['demo-tool 1.1 1.2']);
    assert.deepEqual([diff.added, diff.removed], [[], []]);
    // What the demo made is a real OSTree repository with the two commits it printed.
    const r = path.join(dir, 'repo');
    assert.equal(ostree(r, ['fsck']).status, 0);
    const log = ostreeOk(r, ['log', 'demo/x86_64/stable']);
    assert.equal((log.match(/^commit /gm) ?? []).length, 2);
    const c3 = /committed again: ([0-9a-f]{12})/.exec(out)![1]!;
    assert.ok(log.startsWith(`commit ${c3}`), log);
    // A used folder is refused cleanly.
    expectError('PATH_INVALID', () => ['demo', '--dir', dir]);
  } finally {
    cleanup(work);
  }
});

test('prune keeps everything a ref reaches; --depth 0 keeps only the tips', () => {
  const work = tmpdir('ingot-cli-prune-');
  try {
    const repo = path.join(work, 'repo');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    const v: string[] = [];
    const c: string[] = [];
    for (const n of [1, 2, 3] as const) {
      const t = path.join(work, `v${n}`);
      writeVersion(t, n);
      v.push(t);
      c.push(firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'os/stable', '-s', `v${n}`, t])));
    }
    // Another branch with content of its own, then its ref is deleted.
    const other = path.join(work, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'unique'), 'only on the other branch\n');
    const o1 = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'other', other]));
    fs.writeFileSync(path.join(other, 'unique2'), 'also only there\n');
    const o2 = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'other', other]));
    const uniqueSum = json<{ path: string; checksum: string }[]>(['repo', 'ls', '--repo', repo, 'other', '/unique'])[0]!.checksum;
    const readmeSum = json<{ checksum: string }[]>(['repo', 'ls', '--repo', repo, c[0]!, '/usr/share/doc/README-v1-only'])[0]!.checksum;
    ingotOk(['repo', 'refs', '--repo', repo, '--delete', 'other']);

    const p = json<{ commitsDeleted: string[]; objectsDeleted: number }>(['repo', 'prune', '--repo', repo, '--refs-only']);
    assert.deepEqual(p.commitsDeleted.sort(), [o1, o2].sort());
    assert.ok(!fs.existsSync(objPath(repo, uniqueSum, 'filez')), 'the deleted branch\'s content was kept');
    assert.deepEqual(commitObjects(repo), [...c].sort());
    assertFsckClean(repo, 'after prune --refs-only');
    assert.deepEqual(json<{ commits: { checksum: string }[] }>(['repo', 'log', '--repo', repo, 'os/stable']).commits.map((x) => x.checksum), [...c].reverse());
    for (const [i, rev] of ['os/stable^^', 'os/stable^', 'os/stable'].entries()) {
      assertCheckout(repo, rev, v[i]!, path.join(work, `co-${i}`));
    }

    const d = json<{ commitsDeleted: string[] }>(['repo', 'prune', '--repo', repo, '--refs-only', '--depth', '0']);
    assert.deepEqual(d.commitsDeleted.sort(), [c[0]!, c[1]!].sort());
    assert.deepEqual(commitObjects(repo), [c[2]!]);
    assert.ok(!fs.existsSync(objPath(repo, readmeSum, 'filez')), 'content only the dropped history had was kept');
    const log = json<{ commits: { checksum: string }[]; truncatedAt: string }>(['repo', 'log', '--repo', repo, 'os/stable']);
    assert.deepEqual(log.commits.map((x) => x.checksum), [c[2]]);
    assert.equal(log.truncatedAt, c[1]);
    assertFsckClean(repo, 'after prune --depth 0');
    assertCheckout(repo, 'os/stable', v[2]!, path.join(work, 'co-tip'));
    assert.equal(json<{ objectsDeleted: number }>(['repo', 'prune', '--repo', repo, '--refs-only']).objectsDeleted, 0);
  } finally {
    cleanup(work);
  }
});

test('prune --keep-younger-than deletes old commits no ref points at', () => {
  const work = tmpdir('ingot-cli-young-');
  try {
    const repo = path.join(work, 'repo');
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'bare-user']);
    const tree = (name: string): string => {
      const t = path.join(work, `t-${name}`);
      fs.mkdirSync(t);
      fs.writeFileSync(path.join(t, name), `${name}\n`);
      return t;
    };
    const commit = (args: string[], name: string): string => firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, ...args, tree(name)]));
    const k1 = commit(['-b', 'main', '--timestamp', '2001-01-01T00:00:00Z'], 'k1');
    const k2 = commit(['-b', 'main', '--timestamp', '2002-01-01T00:00:00Z'], 'k2');
    const k3 = commit(['-b', 'main'], 'k3');
    const old = commit(['-b', 'old', '--timestamp', '2000-01-01T00:00:00Z'], 'old');
    const young = commit(['--timestamp', '2003-01-01T00:00:00Z'], 'young'); // no ref
    const all = [k1, k2, k3, old, young].sort();
    assert.deepEqual(commitObjects(repo), all);

    const dry = json<{ commitsDeleted: string[]; dryRun: boolean }>(['repo', 'prune', '--repo', repo, '--keep-younger-than', '2002-06-01T00:00:00Z', '--no-prune']);
    assert.deepEqual(dry.commitsDeleted.sort(), [k1, k2].sort());
    assert.deepEqual(commitObjects(repo), all, 'a dry run deleted commits');

    const p = json<{ commitsDeleted: string[] }>(['repo', 'prune', '--repo', repo, '--keep-younger-than', '2002-06-01T00:00:00Z']);
    assert.deepEqual(p.commitsDeleted.sort(), [k1, k2].sort());
    assert.deepEqual(commitObjects(repo), [k3, old, young].sort(), 'a ref tip (however old) and a young commit are kept');
    assertFsckClean(repo, 'after --keep-younger-than');
    assert.equal(ingotOk(['repo', 'cat', '--repo', repo, 'old', '/old']), 'old\n');
    assert.equal(ingotOk(['repo', 'cat', '--repo', repo, young, '/young']), 'young\n');
    const log = json<{ commits: unknown[]; truncatedAt: string }>(['repo', 'log', '--repo', repo, 'main']);
    assert.equal(log.commits.length, 1);
    assert.equal(log.truncatedAt, k2);
  } finally {
    cleanup(work);
  }
});

test('commit --skip-if-unchanged makes no new commit for the same tree', () => {
  const work = tmpdir('ingot-cli-skip-');
  try {
    const repo = path.join(work, 'repo');
    const tree = path.join(work, 'tree');
    writeVersion(tree, 1);
    ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
    const c1 = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', tree]));
    const same = json<{ commit: string; unchanged: boolean }>(['repo', 'commit', '--repo', repo, '-b', 'main', '--skip-if-unchanged', tree]);
    assert.deepEqual([same.commit, same.unchanged], [c1, true]);
    const text = ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', '--skip-if-unchanged', tree]);
    assert.equal(firstChecksum(text), c1);
    assert.match(text, /unchanged/);
    assert.deepEqual(commitObjects(repo), [c1]);
    assert.equal(ingotOk(['repo', 'rev-parse', '--repo', repo, 'main']).trim(), c1);

    // Without the flag the same tree makes a new commit; with a change the flag commits too.
    const c2 = firstChecksum(ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', tree]));
    assert.notEqual(c2, c1);
    fs.writeFileSync(path.join(tree, 'etc/conf'), 'changed\n');
    const c3 = json<{ commit: string; parent: string; unchanged: boolean }>(['repo', 'commit', '--repo', repo, '-b', 'main', '--skip-if-unchanged', tree]);
    assert.equal(c3.unchanged, false);
    assert.equal(c3.parent, c2);
    assert.equal(commitObjects(repo).length, 3);
    // A change in metadata only (a mode) counts as a change.
    fs.chmodSync(path.join(tree, 'etc/conf'), 0o600);
    assert.equal(json<{ unchanged: boolean }>(['repo', 'commit', '--repo', repo, '-b', 'main', '--skip-if-unchanged', tree]).unchanged, false);
  } finally {
    cleanup(work);
  }
});

test('checkout --subpath, --union, --require-hardlinks and shared inodes', async (t) => {
  const work = tmpdir('ingot-cli-co-');
  try {
    const tree = path.join(work, 'tree');
    writeVersion(tree, 3);
    const repos: Record<'archive' | 'bare' | 'bare-user', string> = {
      archive: path.join(work, 'r-archive'),
      bare: path.join(work, 'r-bare'),
      'bare-user': path.join(work, 'r-bare-user'),
    };
    for (const [mode, repo] of Object.entries(repos)) {
      ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
      ingotOk(['repo', 'commit', '--repo', repo, '-b', 'main', tree]);
    }
    const files = json<{ path: string; type: string; checksum: string }[]>(['repo', 'ls', '-R', '--repo', repos.bare, 'main']).filter((e) => e.type === 'file');
    assert.equal(files.length, 5);
    let n = 0;
    const dest = (): string => path.join(work, `co-${n++}`);

    await t.test('--subpath', () => {
      for (const repo of Object.values(repos)) {
        const d = dest();
        ingotOk(['repo', 'checkout', '--repo', repo, '--subpath', '/usr', 'main', d]);
        assert.deepEqual(treeDiff(describeTree(path.join(tree, 'usr'), IGNORE), describeTree(d, IGNORE)), []);
        const f = dest();
        ingotOk(['repo', 'checkout', '--repo', repo, '--subpath', '/usr/bin/hello', 'main', f]);
        assert.equal(fs.readFileSync(f, 'utf8'), fs.readFileSync(path.join(tree, 'usr/bin/hello'), 'utf8'));
        assert.equal(fs.statSync(f).mode & 0o7777, 0o755);
      }
      expectError('PATH_NOT_FOUND', (j) => ['repo', 'checkout', '--repo', repos.archive, '--subpath', '/no/such', 'main', path.join(work, `nf-${j}`)]);
      expectError('PATH_INVALID', (j) => ['repo', 'checkout', '--repo', repos.archive, '--subpath', '/usr/../etc', 'main', path.join(work, `inv-${j}`)]);
      assert.ok(!fs.existsSync(path.join(work, 'nf-false')) && !fs.existsSync(path.join(work, 'inv-false')));
    });

    await t.test('--union', () => {
      for (const repo of Object.values(repos)) {
        const d = dest();
        fs.mkdirSync(path.join(d, 'usr/bin'), { recursive: true });
        fs.writeFileSync(path.join(d, 'usr/bin/hello'), 'stale content\n');
        expectError('CHECKOUT_EXISTS', () => ['repo', 'checkout', '--repo', repo, 'main', d]);
        assert.equal(fs.readFileSync(path.join(d, 'usr/bin/hello'), 'utf8'), 'stale content\n', 'a refused checkout wrote into the directory');
        fs.writeFileSync(path.join(d, 'keep-me'), 'mine\n');
        fs.mkdirSync(path.join(d, 'extra-dir'));
        // A symlink where the commit has a file is replaced, never written through.
        const outside = path.join(work, `outside-${n}`);
        fs.writeFileSync(outside, 'precious\n');
        fs.mkdirSync(path.join(d, 'etc'));
        fs.symlinkSync(outside, path.join(d, 'etc/conf'));
        ingotOk(['repo', 'checkout', '--repo', repo, '--union', 'main', d]);
        assert.equal(fs.readFileSync(outside, 'utf8'), 'precious\n', 'union wrote through a symlink in the destination');
        const got = describeTree(d, IGNORE);
        assert.ok(got.has('/keep-me') && got.has('/extra-dir'), 'union removed files that were not in the commit');
        got.delete('/keep-me');
        got.delete('/extra-dir');
        const want = describeTree(tree, IGNORE);
        // the destination's own root keeps its mode from mkdtemp/mkdir; compare the rest
        got.delete('/');
        want.delete('/');
        assert.deepEqual(treeDiff(want, got), []);
        // A second union over a complete checkout is fine too.
        ingotOk(['repo', 'checkout', '--repo', repo, '--union', 'main', d]);
      }
    });

    const inodesShared = (repo: string, d: string, ext: string): number => {
      let shared = 0;
      for (const f of files) {
        if (fs.statSync(path.join(d, f.path)).ino === fs.statSync(objPath(repo, f.checksum, ext)).ino) shared++;
      }
      return shared;
    };

    await t.test('--require-hardlinks: bare and bare-user -U link; archive and bare-user without -U fail', () => {
      const b = dest();
      type Counts = { files: number; copied: number; hardlinked: number; symlinks: number };
      const rb = json<Counts>(['repo', 'checkout', '--repo', repos.bare, '--require-hardlinks', 'main', b]);
      assert.equal(rb.copied, 0);
      assert.equal(rb.files, files.length + 1);
      assert.equal(rb.hardlinked + rb.symlinks, rb.files);
      assert.equal(inodesShared(repos.bare, b, 'file'), files.length, 'bare checkout files are not the objects\' inodes');
      assert.deepEqual(treeDiff(describeTree(tree, IGNORE), describeTree(b, IGNORE)), []);

      const u = dest();
      const ru = json<Counts>(['repo', 'checkout', '--repo', repos['bare-user'], '--require-hardlinks', '-U', 'main', u]);
      assert.equal(ru.copied, 0);
      assert.equal(ru.hardlinked, files.length);
      assert.equal(ru.hardlinked + ru.symlinks, ru.files);
      assert.equal(inodesShared(repos['bare-user'], u, 'file'), files.length, 'bare-user -U checkout files are not the objects\' inodes');
      assert.deepEqual(treeDiff(describeTree(tree, IGNORE), describeTree(u, IGNORE)), []);

      const a = expectError('HARDLINK_REQUIRED', (j) => ['repo', 'checkout', '--repo', repos.archive, '--require-hardlinks', 'main', path.join(work, `hl-a-${j}`)]);
      assert.match(a.text.stderr, /archive/);
      expectError('HARDLINK_REQUIRED', (j) => ['repo', 'checkout', '--repo', repos['bare-user'], '--require-hardlinks', 'main', path.join(work, `hl-bu-${j}`)]);
    });

    await t.test('default checkouts link from bare, copy from archive and bare-user; --force-copy copies', () => {
      const b = dest();
      ingotOk(['repo', 'checkout', '--repo', repos.bare, 'main', b]);
      assert.equal(inodesShared(repos.bare, b, 'file'), files.length);
      const fc = dest();
      const r = json<{ files: number; copied: number; hardlinked: number; symlinks: number }>(['repo', 'checkout', '--repo', repos.bare, '--force-copy', 'main', fc]);
      assert.equal(r.hardlinked, 0);
      assert.equal(r.copied + r.symlinks, r.files);
      assert.equal(inodesShared(repos.bare, fc, 'file'), 0);
      assert.deepEqual(treeDiff(describeTree(tree, IGNORE), describeTree(fc, IGNORE)), []);
      const bu = dest();
      ingotOk(['repo', 'checkout', '--repo', repos['bare-user'], 'main', bu]);
      assert.equal(inodesShared(repos['bare-user'], bu, 'file'), 0, 'a bare-user checkout without -U must not share the objects\' inodes');
      assert.deepEqual(treeDiff(describeTree(tree, IGNORE), describeTree(bu, IGNORE)), []);
      // The objects the checkouts share inodes with are still intact.
      assertFsckClean(repos.bare, 'bare after checkouts');
      assertFsckClean(repos['bare-user'], 'bare-user after checkouts');
    });
  } finally {
    cleanup(work);
  }
});
