/**
 * The pull's two write failpoints: `pull-stage-object` (an object was just staged, under its
 * final staged name) and `pull-publish-object` (staged objects are being renamed into
 * objects/, a prefix folder or an object at a time). A pull killed (SIGKILL) at each of them leaves the repository consistent, and the
 * next pull finishes with the right tree, fetching no object that the killed one had staged or
 * published; `ostree fsck` is clean.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INGOT, cleanup, ingotOk, ostree, ostreeOk, prng, runOk, tmpdir } from '../helpers.js';
import { FixtureServer } from '../http-fixture.js';
import { assertOstreeFsckClean, randomBytes } from '../interop/trees.js';
import { ingotAsyncOk, pullStagings, stagedObjects } from '../interop/pull-fixtures.js';

/** `CHECKSUM.EXT` of every object in objects/ of `repo`. */
function publishedObjects(repo: string): Set<string> {
  const out = new Set<string>();
  const dir = path.join(repo, 'objects');
  for (const pre of fs.readdirSync(dir)) for (const n of fs.readdirSync(path.join(dir, pre))) out.add(pre + n);
  return out;
}

/** Runs `ingot pull` with INGOT_FAILPOINT set; resolves with the signal or exit status. */
function pullWithFailpoint(repo: string, failpoint: string, env: NodeJS.ProcessEnv): Promise<string | number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [INGOT, 'pull', '--repo', repo, 'origin', 'main'], {
      stdio: 'ignore',
      env: { ...process.env, INGOT_NO_PROGRESS: '1', INGOT_FAILPOINT: failpoint, ...env },
    });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve(signal ?? code ?? -1));
  });
}

suite('ingot pull killed at its write failpoints', () => {
  let tmp: string;
  let tree: string;
  let server: FixtureServer;
  let commit: string;

  before(async () => {
    tmp = tmpdir('ingot-pull-failpoints-');
    tree = path.join(tmp, 'tree');
    const rand = prng(17);
    for (let d = 0; d < 4; d++) {
      fs.mkdirSync(path.join(tree, `d${d}`, 'sub'), { recursive: true });
      for (let i = 0; i < 15; i++) fs.writeFileSync(path.join(tree, `d${d}`, `f${i}`), randomBytes(rand, 50 + Math.floor(rand() * 5000)));
      fs.writeFileSync(path.join(tree, `d${d}`, 'sub', 'note'), `directory ${d}\n`);
      fs.symlinkSync(`../f${d}`, path.join(tree, `d${d}`, 'sub', 'link'));
    }
    const srv = path.join(tmp, 'srv');
    ostreeOk(srv, ['init', '--mode=archive']);
    commit = ostreeOk(srv, ['commit', '-b', 'main', '--generate-sizes', '-s', 'failpoints', tree]).trim();
    ostreeOk(srv, ['summary', '-u']);
    server = await FixtureServer.start(srv);
  });

  after(async () => {
    await server?.close();
    if (tmp) cleanup(tmp);
  });

  // Archive pulls run with a content worker thread besides the main thread (INGOT_THREADS=2),
  // bare-user pulls on the main thread alone (the default).
  for (const [failpoint, mode] of [
    ['pull-stage-object@12', 'bare-user'],
    ['pull-stage-object@12', 'archive'],
    ['pull-publish-object@25', 'bare-user'],
    ['pull-publish-object@25', 'archive'],
  ] as const) {
    const name = failpoint.split('@')[0]!;
    const env = mode === 'archive' ? { INGOT_THREADS: '2' } : {};
    it(`${name} (${mode}${mode === 'archive' ? ', a worker thread' : ''}): the next pull finishes, fetching nothing twice`, async () => {
      const repo = path.join(tmp, `${name}-${mode}`);
      ingotOk(['repo', 'init', '--repo', repo, '--mode', mode]);
      ingotOk(['remote', 'add', '--repo', repo, 'origin', server.url]);

      const status = await pullWithFailpoint(repo, failpoint, env);
      assert.equal(status, 'SIGKILL', `the pull was killed at ${failpoint}`);
      assert.equal(fs.existsSync(path.join(repo, 'refs/remotes/origin/main')), false, 'no ref after the kill');
      assert.ok(fs.existsSync(path.join(repo, 'state', `${commit}.commitpartial`)), 'the commit is marked partial');
      const staged = stagedObjects(repo);
      const published = publishedObjects(repo);
      if (name === 'pull-stage-object') {
        assert.ok(staged.size >= 11, `objects were staged before the kill (${staged.size})`);
        assert.equal(published.size, 0, 'nothing published before the staging was complete');
      } else {
        // 24 renames happened: of whole prefix folders (objects/ lacked them) or single objects.
        assert.ok(published.size >= 24, `the kill landed in the middle of the publish (${published.size} published)`);
        assert.ok(staged.size > 0, 'the rest is still staged');
        assert.ok(![...published].some((o) => o.endsWith('.commit')), 'the commit is published last');
      }
      // What the killed pull kept is valid for ostree (its fsck skips the partial commit).
      assertOstreeFsckClean(ostree(repo, ['fsck']), `${failpoint}: after the kill`);

      const from = server.log.length;
      // (Asynchronously: the fixture server answers from this process.)
      await ingotAsyncOk(['pull', '--repo', repo, 'origin', 'main'], env);
      assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${commit}\n`);
      const kept = new Set([...staged, ...published]);
      let refetched = 0;
      let fetched = 0;
      for (const l of server.log.slice(from)) {
        const m = /^\/objects\/(..)\/(.{62})\.(filez|dirtree|dirmeta|commit)$/.exec(l.path);
        if (!m) continue;
        fetched++;
        const ext = m[3] === 'filez' ? (mode === 'archive' ? 'filez' : 'file') : m[3];
        if (kept.has(`${m[1]}${m[2]}.${ext}`)) refetched++;
      }
      assert.equal(refetched, 0, 'no object that the killed pull staged or published was fetched again');
      const total = new Set([...publishedObjects(repo)].filter((o) => !o.endsWith('.commitmeta'))).size;
      assert.equal(fetched, total - kept.size, 'the resumed pull fetched exactly the objects the killed one lacked');
      assert.deepEqual(pullStagings(repo), [], 'staging removed');
      assert.equal(fs.existsSync(path.join(repo, 'state', `${commit}.commitpartial`)), false, 'no partial commit left');
      ingotOk(['repo', 'fsck', '--repo', repo]);
      assertOstreeFsckClean(ostree(repo, ['fsck']), `${failpoint}: after the resumed pull`);
      // The right tree: ostree checks it out, identical to what was committed.
      if (mode === 'bare-user') {
        const out = path.join(tmp, `co-${name}`);
        ostreeOk(repo, ['checkout', '-U', commit, out]);
        runOk('diff', ['-r', '--no-dereference', tree, out]);
        cleanup(out);
      }
      cleanup(repo);
    });
  }
});
