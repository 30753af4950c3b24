/**
 * A pull killed with SIGKILL at a random moment (10–300 ms after it started), 50 times in a
 * loop, each time into a fresh repository: the next pull always finishes with the right commit,
 * the repository is fsck-clean, and the resumed pull fetches no object that the killed one had
 * already staged (the staging survives the kill and is verified, not fetched again).
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INGOT, cleanup, ostree, ostreeOk, prng, tmpdir } from '../helpers.js';
import { FixtureServer } from '../http-fixture.js';
import { assertOstreeFsckClean, randomBytes } from '../interop/trees.js';
import { pullStagings, stagedObjects } from '../interop/pull-fixtures.js';
import { pull } from '../../src/transport/pull.js';
import { Repo } from '../../src/repo/repo.js';
import { fsck } from '../../src/repo/fsck.js';
import { addRemote } from '../../src/repo/remotes.js';

const RUNS = 50;

suite('ingot pull killed at random points', () => {
  let tmp: string;
  let server: FixtureServer;
  let commit: string;

  before(async () => {
    tmp = tmpdir('ingot-pull-kill-');
    const tree = path.join(tmp, 'tree');
    const rand = prng(9);
    for (let d = 0; d < 8; d++) {
      fs.mkdirSync(path.join(tree, `d${d}`), { recursive: true });
      for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(tree, `d${d}`, `f${i}`), randomBytes(rand, 100 + Math.floor(rand() * 20000)));
    }
    // Over the 8 MiB that ingot inflates in one call: this one streams.
    fs.writeFileSync(path.join(tree, 'big.bin'), randomBytes(rand, (8 << 20) + (512 << 10)));
    const srv = path.join(tmp, 'srv');
    ostreeOk(srv, ['init', '--mode=archive']);
    commit = ostreeOk(srv, ['commit', '-b', 'main', '--generate-sizes', '-s', 'kill me', tree]).trim();
    ostreeOk(srv, ['summary', '-u']);
    server = await FixtureServer.start(srv);
  });

  after(async () => {
    await server?.close();
    if (tmp) cleanup(tmp);
  });

  it(`finishes on the next run after each of ${RUNS} kills, fetching nothing twice`, async () => {
    const rand = prng(2026);
    let killedMidway = 0;
    for (let i = 0; i < RUNS; i++) {
      const repo = path.join(tmp, `r${i}`);
      const mode = (['bare-user', 'archive', 'bare'] as const)[i % 3];
      addRemote(Repo.init(repo, mode), 'origin', server.url);
      const delay = 10 + Math.floor(rand() * 290);
      const startLog = server.log.length;
      // The delay counts from the pull's first request (starting node takes longer than the
      // pull itself on a loaded machine), so the kills land inside the pull.
      const status = await new Promise<number | string>((resolve) => {
        const p = spawn(process.execPath, [INGOT, 'pull', '--repo', repo, 'origin', 'main'], { stdio: 'ignore', env: { ...process.env, INGOT_NO_PROGRESS: '1' } });
        let t: NodeJS.Timeout | null = null;
        let done = false;
        server.waitFor((log) => log.length > startLog, 60000).then(
          () => {
            if (!done) t = setTimeout(() => p.kill('SIGKILL'), delay);
          },
          () => undefined,
        );
        p.on('close', (code, signal) => {
          done = true;
          if (t) clearTimeout(t);
          resolve(signal ?? code ?? -1);
        });
      });
      // What the killed pull left staged must not be fetched again.
      const staged = stagedObjects(repo);
      if (status === 'SIGKILL') killedMidway++;
      const resumeFrom = server.log.length;
      try {
        await pull(Repo.open(repo), 'origin', ['main']);
      } catch (e) {
        assert.fail(`run ${i} (${mode}, killed ${delay} ms after its first request): the next pull failed: ${(e as Error).message}`);
      }
      assert.equal(fs.readFileSync(path.join(repo, 'refs/remotes/origin/main'), 'utf8'), `${commit}\n`, `run ${i}: ref`);
      for (const l of server.log.slice(resumeFrom)) {
        const m = /^\/objects\/(..)\/(.{62})\.(filez|dirtree|dirmeta|commit)$/.exec(l.path);
        if (!m) continue;
        const ext = m[3] === 'filez' ? (mode === 'archive' ? 'filez' : 'file') : m[3];
        assert.ok(!staged.has(`${m[1]}${m[2]}.${ext}`), `run ${i}: ${l.path} was staged by the killed pull and fetched again`);
      }
      const res = await fsck(Repo.open(repo));
      assert.deepEqual(res.problems, [], `run ${i}: fsck`);
      assert.equal(res.partialCommits, 0, `run ${i}: no partial commit left`);
      assert.deepEqual(pullStagings(repo), [], `run ${i}: staging removed`);
      if (i % 10 === 0) assertOstreeFsckClean(ostree(repo, ['fsck']), `run ${i}`);
      cleanup(repo);
    }
    // The kills must land while pulls were under way, not only before they began.
    assert.ok(killedMidway >= RUNS / 2, `only ${killedMidway} of ${RUNS} pulls were killed (the others finished first)`);
  });
});
