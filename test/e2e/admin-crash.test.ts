/**
 * Crash safety of the sysroot: `ingot admin deploy`, `upgrade` (pull from a file:// remote,
 * then deploy), `rollback` and `cleanup` are SIGKILLed at every named failpoint and at random
 * moments, 200+ times in one loop. After each kill: boot/loader names a complete loader.N whose
 * every entry resolves to an existing, complete deployment (with origin, /etc and kernel in
 * /boot); `ostree admin status` lists exactly those entries and `ingot admin status` reads the
 * same list; `ostree fsck` (and, at intervals and at the end, `ingot repo fsck`) is clean; and
 * running the command again completes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INGOT, cleanup, ingotOk, prng, tmpdir } from '../helpers.js';
import { Repo } from '../../src/repo/repo.js';
import { writeCommit } from '../../src/repo/commit.js';
import { fsck } from '../../src/repo/fsck.js';
import { loadSysroot, openSysrootRepo } from '../../src/sysroot/layout.js';
import { originFor as originOf } from '../../src/sysroot/deploy.js';
import { sysrootStatus } from '../../src/sysroot/status.js';
import { deploy } from '../../src/sysroot/deploy.js';
import { cleanup as cleanupCmd, rollback } from '../../src/sysroot/ops.js';
import { upgrade } from '../../src/cli/commands/admin/upgrade.js';
import { OS, REF, checkSysroot, commitTree, fsckClean, ingotStatus, makeSysroot, writeTree } from './admin-fixture.js';

type Op = 'deploy' | 'upgrade' | 'rollback' | 'cleanup';

const SWAP = ['swap-kernel', 'swap-entry', 'swap-bootlinks', 'swap-after-bootlink', 'swap-before-sync', 'swap-before-loader', 'swap-after-loader', 'refs-write'];
const CLEAN = ['cleanup-bootversions', 'cleanup-deployment', 'cleanup-bootfs', 'cleanup-prune'];
const DEPLOY = [
  'deploy-before-checkout',
  'deploy-after-checkout',
  'deploy-etc-copied',
  'etc-merge-removed',
  'deploy-etc-merged',
  'deploy-origin-written',
  'deploy-before-write',
  ...SWAP,
  'deploy-after-write',
  ...CLEAN,
];
const FAILPOINTS: Record<Op, string[]> = {
  deploy: DEPLOY,
  // The deploy steps are covered by deploy's list; an upgrade adds the pull's.
  upgrade: ['pull-after-commit', 'publish-object', 'pull-before-publish', 'pull-before-ref', 'ref-write', 'deploy-after-checkout', 'swap-before-loader', 'swap-after-loader', 'cleanup-prune'],
  rollback: ['rollback-before-write', ...SWAP, 'rollback-after-write', 'cleanup-bootversions'],
  cleanup: CLEAN.concat(['refs-write']),
};
const RANDOM_KILLS = 156; // with the 45 failpoint runs: 201 iterations

function runKilled(args: string[], env: NodeJS.ProcessEnv, killAfterMs: number | null): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [INGOT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === null ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

test('SIGKILL at every failpoint and at random moments during deploy, upgrade, rollback and cleanup', { timeout: 900_000 }, async () => {
  const base = tmpdir('ingot-admin-crash-');
  try {
    const root = path.join(base, 'sysroot');
    const sysrepo = makeSysroot(root);
    const remote = Repo.init(path.join(base, 'remote'), 'archive');
    ingotOk(['remote', 'add', '--repo', sysrepo.path, 'origin', `file://${remote.path}`]);
    const tree = path.join(base, 'tree');
    let version = 0;
    const newRemoteCommit = async (): Promise<string> => {
      version++;
      writeTree(tree, {
        version: String(version),
        etc: { hostname: `host ${version}\n`, 'fixed.conf': 'same\n', [`sub/v${version % 3}.conf`]: `${version}\n` },
        kernel: `kernel ${version % 2}\n`,
        files: { 'usr/share/data': `data ${version}\n`.repeat(50) },
      });
      return commitTree(remote, tree, REF, String(version));
    };
    await newRemoteCommit();
    ingotOk(['pull', '--repo', sysrepo.path, 'origin', REF]);
    ingotOk(['admin', 'deploy', `origin:${REF}`, '--sysroot', root, '--os', OS]);
    // A local /etc change that every later deployment must carry.
    const first = checkSysroot(root)[0]!;
    fs.writeFileSync(path.join(root, 'ostree/deploy', OS, 'deploy', first, 'etc/local.conf'), 'mine\n');
    await newRemoteCommit();
    ingotOk(['admin', 'upgrade', '--sysroot', root]);

    // How long each command takes here, start to end: random kills land within that span.
    const dur: Record<Op, number> = { deploy: 0, upgrade: 0, rollback: 0, cleanup: 0 };
    const timed = async (op: Op, args: string[]): Promise<void> => {
      const t0 = performance.now();
      const r = await runKilled(args, {}, null);
      assert.equal(r.code, 0, r.stderr);
      dur[op] = performance.now() - t0;
    };
    await timed('deploy', ['admin', 'deploy', `origin:${REF}`, '--sysroot', root]);
    await timed('rollback', ['admin', 'rollback', '--sysroot', root]);
    await timed('rollback', ['admin', 'rollback', '--sysroot', root]);
    await timed('cleanup', ['admin', 'cleanup', '--sysroot', root]);
    await newRemoteCommit();
    await timed('upgrade', ['admin', 'upgrade', '--sysroot', root]);

    const plan: { op: Op; failpoint: string | null }[] = [];
    for (const op of ['deploy', 'upgrade', 'rollback', 'cleanup'] as Op[]) for (const fp of FAILPOINTS[op]) plan.push({ op, failpoint: fp });
    // Upgrades (a pull and a deploy) cost most: one in six.
    const ops: Op[] = ['upgrade', 'deploy', 'rollback', 'cleanup', 'rollback', 'deploy'];
    for (let i = 0; i < RANDOM_KILLS; i++) plan.push({ op: ops[i % ops.length]!, failpoint: null });
    const rand = prng(6);
    const counts = { killed: 0, completed: 0, failpointsFired: 0 };
    let iteration = 0;
    let before = checkSysroot(root);
    const started = performance.now();

    for (const step of plan) {
      iteration++;
      // Prepare what the command has to do.
      let expectDefault: ((after: string[]) => void) | null = null;
      if (step.op === 'upgrade') {
        const c = await newRemoteCommit();
        expectDefault = (after) => assert.equal(after[0]!.split('.')[0], c, 'the upgrade deployed the new commit');
      } else if (step.op === 'deploy') {
        expectDefault = (after) => assert.equal(after[0]!.split('.')[0], before[0]!.split('.')[0]);
      } else if (step.op === 'cleanup') {
        // Garbage for cleanup: an orphan commit in the repository, a stray kernel directory,
        // a deployment directory that no entry names.
        writeTree(path.join(base, 'junk'), { version: `junk${iteration}`, files: { 'usr/share/junk': `junk ${iteration}\n` } });
        await writeCommit(sysrepo, path.join(base, 'junk'), { subject: 'junk', timestamp: 1600000000n });
        fs.mkdirSync(path.join(root, 'boot/ostree', `${OS}-${'f'.repeat(64)}`), { recursive: true });
        fs.mkdirSync(path.join(root, 'ostree/deploy', OS, 'deploy', `${'e'.repeat(64)}.0`, 'usr'), { recursive: true });
      }
      const args: Record<Op, string[]> = {
        deploy: ['admin', 'deploy', `origin:${REF}`, '--sysroot', root],
        upgrade: ['admin', 'upgrade', '--sysroot', root],
        rollback: ['admin', 'rollback', '--sysroot', root],
        cleanup: ['admin', 'cleanup', '--sysroot', root],
      };
      const env = step.failpoint ? { INGOT_FAILPOINT: step.failpoint } : {};
      const delay = step.failpoint ? null : Math.floor(dur[step.op] * (0.25 + 0.8 * rand()));
      const r = await runKilled(args[step.op], env, delay);
      const what = `#${iteration} ${step.op} ${step.failpoint ?? `kill after ${delay} ms`}`;
      if (iteration % 25 === 0) console.log(`# ${what}: ${Math.round(performance.now() - started)} ms so far, ${JSON.stringify(counts)}`);
      if (r.signal === 'SIGKILL') {
        counts.killed++;
        if (step.failpoint) counts.failpointsFired++;
      } else {
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        counts.completed++;
      }

      // The invariants after the kill.
      let mid: string[];
      try {
        mid = checkSysroot(root);
        const s = loadSysroot(root);
        assert.deepEqual(
          sysrootStatus(s, openSysrootRepo(root)).deployments.map((d) => d.name),
          mid,
          'ingot reads the same list',
        );
        if (iteration % 20 === 0) assert.deepEqual(ingotStatus(root).map((d) => d.name), mid);
        fsckClean(root, true);
        if (iteration % 25 === 0) {
          const f = await fsck(Repo.open(sysrepo.path));
          assert.deepEqual(f.problems, []);
        }
      } catch (e) {
        (e as Error).message = `${what}: ${(e as Error).message}`;
        throw e;
      }

      // Running the command again completes it: through the CLI at intervals, else through the
      // library function the command is a thin wrapper of (a process start costs more than the work).
      if (r.signal === 'SIGKILL') {
        const rerun: Op = step.op === 'rollback' && mid[0] !== before[0] ? 'cleanup' : step.op; // swapped already: cleanup remains
        if (iteration % 15 === 0) ingotOk(args[rerun]);
        else if (rerun === 'deploy') await deploy(root, `origin:${REF}`, { stateroot: OS, origin: originOf(`origin:${REF}`) });
        else if (rerun === 'upgrade') await upgrade({ sysroot: root });
        else if (rerun === 'rollback') await rollback(root);
        else await cleanupCmd(root);
      }
      const after = checkSysroot(root);
      if (step.op === 'rollback') assert.deepEqual(after.slice(0, 2), [before[1], before[0]], `${what}: rollback swapped the default`);
      expectDefault?.(after);
      if (step.op === 'cleanup') {
        assert.equal(fs.existsSync(path.join(root, 'boot/ostree', `${OS}-${'f'.repeat(64)}`)), false, what);
        assert.equal(fs.existsSync(path.join(root, 'ostree/deploy', OS, 'deploy', `${'e'.repeat(64)}.0`)), false, what);
      }
      // Nothing is left that no entry names, once a command completed.
      const dirs = fs.readdirSync(path.join(root, 'ostree/deploy', OS, 'deploy')).filter((n) => !n.endsWith('.origin'));
      assert.deepEqual(dirs.sort(), [...after].sort(), `${what}: leftover deployment directories`);
      // The local /etc change survives every deploy.
      assert.equal(fs.readFileSync(path.join(root, 'ostree/deploy', OS, 'deploy', after[0]!, 'etc/local.conf'), 'utf8'), 'mine\n', what);
      before = after;
    }
    assert.ok(plan.length >= 200, `${plan.length} iterations`);
    assert.ok(counts.killed >= 100, `killed ${counts.killed} times (${JSON.stringify(counts)})`);
    assert.ok(counts.failpointsFired >= 35, `failpoints fired ${counts.failpointsFired} times`);
    fsckClean(root);
  } finally {
    cleanup(base);
  }
});
