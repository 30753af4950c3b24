/**
 * ingot pulls from an archive repository that the real ostree made, served by a static HTTP
 * server on loopback: into archive, bare-user and bare repositories, with `ingot repo fsck`
 * and `ostree fsck` clean and `ostree checkout` of the pulled commit identical to a checkout
 * from the server's repository. Also: the remote config as ostree writes and reads it, dry
 * runs (from ostree.sizes) that match what the pull then fetches, pulling only missing
 * objects, --depth and --commit-metadata-only, and `ostree pull` through a remote ingot added.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingotOk, ostree, ostreeOk, tmpdir, treeDiff } from '../helpers.js';
import { FixtureServer } from '../http-fixture.js';
import { assertOstreeFsckClean, assertXattrsSettable, buildKindsTree, describe } from './trees.js';
import { ingotAsync, ingotAsyncOk, repoListing } from './pull-fixtures.js';

const MODES = ['archive', 'bare-user', 'bare'] as const;

interface PullJson {
  refs: { ref: string; commit: string; upToDate: boolean; objectsFetched: number; dryRun: { source: string; objects: number; bytes: number | null } | null }[];
  objects: number;
}

suite('ingot pull from an ostree-made archive repository over HTTP', () => {
  let tmp: string;
  let srv: string;
  let server: FixtureServer;
  let c1: string;
  let c2: string;
  const checkouts = new Map<string, ReturnType<typeof describe>>();

  before(async () => {
    tmp = tmpdir('ingot-pull-');
    assertXattrsSettable(tmp);
    const v1 = path.join(tmp, 'v1');
    buildKindsTree(v1);
    srv = path.join(tmp, 'srv');
    ostreeOk(srv, ['init', '--mode=archive']);
    c1 = ostreeOk(srv, ['commit', '-b', 'main', '--generate-sizes', '--timestamp=@1600000000', '-s', 'one', v1]).trim();
    // v2: a few changes, so that an update needs only some objects.
    fs.writeFileSync(path.join(v1, 'regular.txt'), 'hello, world, v2\n');
    fs.mkdirSync(path.join(v1, 'v2-dir'));
    fs.writeFileSync(path.join(v1, 'v2-dir', 'new.txt'), 'new in v2\n');
    c2 = ostreeOk(srv, ['commit', '-b', 'main', '--generate-sizes', '--timestamp=@1600001000', '-s', 'two', v1]).trim();
    ostreeOk(srv, ['summary', '-u']);
    server = await FixtureServer.start(srv);
    for (const c of [c1, c2]) {
      const dest = path.join(tmp, `expected-${c}`);
      ostreeOk(srv, ['checkout', c, dest]);
      checkouts.set(c, describe(dest));
    }
  });

  after(async () => {
    await server?.close();
    if (tmp) cleanup(tmp);
  });

  const newRepo = (name: string, mode: string): string => {
    const repo = path.join(tmp, name);
    ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
    ingotOk(['remote', 'add', '--repo', repo, 'origin', server.url]);
    return repo;
  };

  const assertSameTree = (repo: string, commit: string, name: string): void => {
    const dest = path.join(tmp, `co-${name}`);
    ostreeOk(repo, ['checkout', commit, dest]);
    assert.deepEqual(treeDiff(describe(dest), checkouts.get(commit)!), [], `${name}: checkout of the pulled commit differs from the server's`);
    cleanup(dest);
  };

  for (const mode of MODES) {
    it(`pulls into a ${mode} repository: fsck clean (ingot and ostree), same tree, dry run matches`, async () => {
      const repo = newRepo(`into-${mode}`, mode);
      const dry = JSON.parse(await ingotAsyncOk(['--json', 'pull', '--repo', repo, '--dry-run', 'origin', 'main'])) as PullJson;
      assert.equal(dry.refs[0]!.commit, c2);
      assert.equal(dry.refs[0]!.dryRun!.source, 'sizes');
      assert.deepEqual(repoListing(repo), [], 'a dry run changes nothing');
      const before = server.log.length;
      const res = JSON.parse(await ingotAsyncOk(['--json', 'pull', '--repo', repo, 'origin', 'main'])) as PullJson;
      const objectRequests = server.log.slice(before).filter((l) => l.path.startsWith('/objects/') && !l.path.endsWith('.commitmeta'));
      assert.equal(res.refs[0]!.commit, c2);
      // The dry run counted exactly the objects the pull then fetched (commit included).
      assert.equal(objectRequests.length, dry.refs[0]!.dryRun!.objects, 'objects fetched = objects the dry run reported');
      assert.equal(new Set(objectRequests.map((l) => l.path)).size, objectRequests.length, 'no object fetched twice');
      assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${c2}\n`);
      assert.deepEqual(fs.readdirSync(path.join(repo, 'state')), [], 'no commitpartial left');
      assert.deepEqual(fs.readdirSync(path.join(repo, 'tmp')).filter((n) => n.startsWith('ingot-pull-')), [], 'no staging left');
      ingotOk(['repo', 'fsck', '--repo', repo]);
      assertOstreeFsckClean(ostree(repo, ['fsck']), `${mode} pulled repository`);
      assertSameTree(repo, c2, mode);
      // A second pull finds the ref up to date and fetches no object.
      const again = JSON.parse(await ingotAsyncOk(['--json', 'pull', '--repo', repo, 'origin', 'main'])) as PullJson;
      assert.equal(again.refs[0]!.upToDate, true);
      assert.equal(again.objects, 0);
    });
  }

  it('an update fetches only the objects the local repository lacks', async () => {
    const repo = newRepo('update', 'bare-user');
    await ingotAsyncOk(['pull', '--repo', repo, 'origin', c1]);
    assert.equal(fs.existsSync(path.join(repo, 'refs/remotes/origin/main')), false, 'pulling a checksum writes no ref');
    const had = new Set(repoListing(repo));
    const dry = JSON.parse(await ingotAsyncOk(['--json', 'pull', '--repo', repo, '--dry-run', 'origin', 'main'])) as PullJson;
    const before = server.log.length;
    await ingotAsyncOk(['pull', '--repo', repo, 'origin', 'main']);
    const fetched = server.log.slice(before).filter((l) => /^\/objects\/.*\.(commit|dirtree|dirmeta|filez)$/.test(l.path));
    assert.ok(fetched.length > 0 && fetched.length < 20, `a small update fetches few objects (got ${fetched.length})`);
    assert.equal(fetched.length, dry.refs[0]!.dryRun!.objects);
    for (const l of fetched) {
      const m = /^\/objects\/(..)\/(.{62})\.(\w+)$/.exec(l.path)!;
      const ext = m[3] === 'filez' ? 'file' : m[3]!;
      assert.ok(!had.has(`objects/${m[1]}/${m[2]}.${ext}`), `${l.path} was already present`);
    }
    assertOstreeFsckClean(ostree(repo, ['fsck']), 'updated repository');
    assertSameTree(repo, c2, 'update');
  });

  it('--depth 1 also pulls the parent commit with its tree', async () => {
    const repo = newRepo('depth', 'archive');
    await ingotAsyncOk(['pull', '--repo', repo, '--depth', '1', 'origin', 'main']);
    const log = ostreeOk(repo, ['log', 'origin:main']);
    assert.match(log, new RegExp(c1));
    assertOstreeFsckClean(ostree(repo, ['fsck']), 'depth repository');
    assertSameTree(repo, c1, 'depth-parent');
  });

  it('--commit-metadata-only fetches the commit only, marked partial, as ostree does', async () => {
    const repo = newRepo('metaonly', 'bare-user');
    const before = server.log.length;
    await ingotAsyncOk(['pull', '--repo', repo, '--commit-metadata-only', 'origin', 'main']);
    const paths = server.log.slice(before).map((l) => l.path);
    assert.ok(!paths.some((p) => /\.(dirtree|dirmeta|filez)$/.test(p)), `no tree object fetched: ${paths.join(' ')}`);
    assert.deepEqual(fs.readdirSync(path.join(repo, 'state')), [`${c2}.commitpartial`]);
    assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${c2}\n`);
    assertOstreeFsckClean(ostree(repo, ['fsck']), 'metadata-only repository');
    // A full pull afterwards completes it.
    await ingotAsyncOk(['pull', '--repo', repo, 'origin', 'main']);
    assert.deepEqual(fs.readdirSync(path.join(repo, 'state')), []);
    assertSameTree(repo, c2, 'metaonly-completed');
  });

  it('remote add writes the section ostree writes; ostree reads it and pulls through it', async () => {
    const ours = newRepo('remote-ours', 'bare-user');
    const theirs = path.join(tmp, 'remote-theirs');
    ostreeOk(theirs, ['init', '--mode=bare-user']);
    ostreeOk(theirs, ['remote', 'add', '--no-gpg-verify', 'origin', server.url]);
    const section = (p: string): string => /\[remote "origin"\]\n[^[]*/.exec(fs.readFileSync(path.join(p, 'config'), 'utf8'))![0].trim();
    assert.equal(section(ours), section(theirs));
    const key = Buffer.alloc(32, 7).toString('base64');
    ingotOk(['remote', 'add', '--repo', ours, '--verification-key', key, 'signed', server.url]);
    assert.equal(ostreeOk(ours, ['config', 'get', 'remote "signed".verification-ed25519-key']).trim(), key);
    assert.equal(ostreeOk(ours, ['config', 'get', 'remote "signed".sign-verify']).trim(), 'true');
    assert.deepEqual(ostreeOk(ours, ['remote', 'list']).trim().split('\n').sort(), ['origin', 'signed']);
    assert.deepEqual(ingotOk(['remote', 'list', '--repo', ours]).trim().split('\n').sort(), ['origin', 'signed']);
    assert.match(ostreeOk(ours, ['remote', 'show-url', 'origin']), new RegExp(server.url.replace(/[.]/g, '\\.')));
    // ostree pulls through the remote ingot wrote (an ostree child process: the server runs here).
    const r = await new Promise<number>((resolve) => {
      import('node:child_process').then(({ spawn }) => spawn('ostree', [`--repo=${ours}`, 'pull', 'origin', 'main'], { stdio: 'ignore' }).on('close', (c) => resolve(c ?? 1)));
    });
    assert.equal(r, 0, 'ostree pull through the ingot-added remote');
    ingotOk(['remote', 'delete', '--repo', ours, 'signed']);
    assert.deepEqual(ostreeOk(ours, ['remote', 'list']).trim().split('\n'), ['origin']);
    const missing = await ingotAsync(['pull', '--repo', ours, 'nosuch', 'main']);
    assert.equal(missing.status, 1, missing.stderr);
    assert.match(missing.stderr, /REMOTE_NOT_FOUND/);
    const dup = await ingotAsync(['remote', 'add', '--repo', ours, 'origin', server.url]);
    assert.match(dup.stderr, /REMOTE_EXISTS/);
  });

  it('an unknown ref is a clear error and changes nothing', async () => {
    const repo = newRepo('noref', 'archive');
    const r = await ingotAsync(['pull', '--repo', repo, 'origin', 'no/such/ref']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /PULL_REF_NOT_FOUND/);
    assert.deepEqual(repoListing(repo), []);
  });

  // Last: it adds a static delta to the served repository.
  it('uses a static delta the server lists (generated by ingot), then fetches only what it lacks', async () => {
    ingotOk(['static-delta', 'generate', '--repo', srv, '--from', c1, '--to', c2]);
    ostreeOk(srv, ['summary', '-u']);
    const repo = newRepo('delta', 'bare-user');
    await ingotAsyncOk(['pull', '--repo', repo, 'origin', c1]);
    // The local ref names the old commit: the FROM-TO delta applies.
    fs.mkdirSync(path.join(repo, 'refs/remotes/origin'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs/remotes/origin/main'), `${c1}\n`);
    const before = server.log.length;
    const res = JSON.parse(await ingotAsyncOk(['--json', 'pull', '--repo', repo, 'origin', 'main'])) as {
      refs: { commit: string; delta: { name: string; objects: number; abandoned?: string } | null }[];
    };
    const d = res.refs[0]!.delta;
    assert.ok(d, 'a delta was chosen');
    assert.equal(d.name, `${c1}-${c2}`);
    assert.equal(d.abandoned, undefined, `delta abandoned: ${d.abandoned}`);
    assert.ok(d.objects > 0, 'objects came from the delta');
    const paths = server.log.slice(before).map((l) => l.path);
    assert.ok(paths.some((p) => p.startsWith('/deltas/') && p.endsWith('/superblock')), 'the superblock was fetched');
    assert.ok(!paths.some((p) => p.endsWith('.filez')), `no content object fetched one by one: ${paths.filter((p) => p.endsWith('.filez')).join(' ')}`);
    ingotOk(['repo', 'fsck', '--repo', repo]);
    assertOstreeFsckClean(ostree(repo, ['fsck']), 'repository updated through a delta');
    assertSameTree(repo, c2, 'delta');
    // --no-deltas fetches the same update as plain objects.
    const plain = newRepo('nodelta', 'bare-user');
    await ingotAsyncOk(['pull', '--repo', plain, 'origin', c1]);
    fs.mkdirSync(path.join(plain, 'refs/remotes/origin'), { recursive: true });
    fs.writeFileSync(path.join(plain, 'refs/remotes/origin/main'), `${c1}\n`);
    const b2 = server.log.length;
    await ingotAsyncOk(['pull', '--repo', plain, '--no-deltas', 'origin', 'main']);
    assert.ok(!server.log.slice(b2).some((l) => l.path.startsWith('/deltas/')), 'no delta fetched with --no-deltas');
    assertSameTree(plain, c2, 'nodelta');
  });
});
