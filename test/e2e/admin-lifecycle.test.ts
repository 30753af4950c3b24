/**
 * Rollback, pin, undeploy, cleanup and kernel arguments: rollback swaps the default and back
 * through the bootversion swap; pinned deployments survive the retention of later deploys;
 * undeploy and cleanup remove the deployment directories, kernels and repository objects that
 * nothing references any more (ostree and ingot fsck clean, ostree lists the same).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, tmpdir } from '../helpers.js';
import { OS, REF, checkSysroot, commitTree, deployDir, fsckClean, ingotStatus, makeSysroot, ostreeStatus, writeTree } from './admin-fixture.js';

test('rollback, pin, undeploy, cleanup and kargs', async () => {
  const base = tmpdir('ingot-admin-life-');
  try {
    const root = path.join(base, 'sysroot');
    const repo = makeSysroot(root);
    const tree = path.join(base, 'tree');
    const commits: string[] = [];
    for (let i = 1; i <= 3; i++) {
      // v2 brings another kernel: its own boot directory.
      writeTree(tree, { version: `${i}.0`, etc: { hostname: `h${i}\n` }, kernel: i === 2 ? 'kernel two\n' : 'kernel one\n', files: { [`usr/share/v${i}`]: `only in ${i}\n` } });
      commits.push(await commitTree(repo, tree, REF, `${i}.0`));
      ingotOk(['admin', 'deploy', REF, '--sysroot', root, '--os', OS]);
      if (i === 1) ingotOk(['admin', 'pin', '0', '--sysroot', root]);
    }
    const [c1, c2, c3] = commits as [string, string, string];
    // Retention: the new one, the merge one (v2), and pinned v1.
    assert.deepEqual(ingotStatus(root).map((d) => [d.name, d.pinned]), [
      [`${c3}.0`, false],
      [`${c2}.0`, false],
      [`${c1}.0`, true],
    ]);
    assert.deepEqual(ostreeStatus(root), ingotStatus(root));

    // Rollback makes v2 the default, a second rollback swaps back.
    const loader0 = fs.readlinkSync(path.join(root, 'boot/loader'));
    ingotOk(['admin', 'rollback', '--sysroot', root]);
    assert.deepEqual(checkSysroot(root), [`${c2}.0`, `${c3}.0`, `${c1}.0`]);
    assert.notEqual(fs.readlinkSync(path.join(root, 'boot/loader')), loader0);
    ingotOk(['admin', 'rollback', '--sysroot', root]);
    assert.deepEqual(checkSysroot(root), [`${c3}.0`, `${c2}.0`, `${c1}.0`]);

    // Kernel arguments: append, replace, delete; a change writes new entries.
    ingotOk(['admin', 'kargs', '--sysroot', root, '--append', 'console=ttyS0', '--append', 'quiet']);
    ingotOk(['admin', 'kargs', '--sysroot', root, '--replace', 'console=tty1']);
    assert.equal(ingotOk(['admin', 'kargs', '--sysroot', root]).trim(), 'console=tty1 quiet');
    ingotOk(['admin', 'kargs', '--sysroot', root, '--delete', 'quiet']);
    const entry = fs.readFileSync(path.join(root, 'boot/loader/entries', `ostree-3-${OS}.conf`), 'utf8');
    // ostree= keeps its place; edits go where ostree's OstreeKernelArgs puts them.
    assert.match(entry, /^options ostree=\/ostree\/boot\.[01]\/testos\/[0-9a-f]{64}\/0 console=tty1$/m);
    const bad = ingot(['admin', 'kargs', '--sysroot', root, '--delete', 'nosuch']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /INVALID_ARGUMENT/);

    // A fourth deploy drops nothing pinned: v4, v3 (merge), v1 (pinned); v2 goes with its kernel.
    writeTree(tree, { version: '4.0', etc: { hostname: 'h4\n' }, kernel: 'kernel one\n' });
    const c4 = await commitTree(repo, tree, REF, '4.0');
    ingotOk(['admin', 'deploy', REF, '--sysroot', root]);
    assert.deepEqual(checkSysroot(root), [`${c4}.0`, `${c3}.0`, `${c1}.0`]);
    assert.equal(fs.existsSync(deployDir(root, `${c2}.0`)), false);
    assert.equal(fs.readdirSync(path.join(root, 'boot/ostree')).length, 1, 'the v2 kernel is gone');
    // v2's own file object is pruned: nothing references it (no ref: testos ref moved on).
    assert.equal(repo.hasObject(c2, 'commit'), false);
    fsckClean(root);

    // Unpin v1 and undeploy it: its directory and objects go.
    ingotOk(['admin', 'pin', '--unpin', '2', '--sysroot', root]);
    assert.equal(ingotStatus(root)[2]!.pinned, false);
    ingotOk(['admin', 'undeploy', '2', '--sysroot', root]);
    assert.deepEqual(checkSysroot(root), [`${c4}.0`, `${c3}.0`]);
    assert.equal(fs.existsSync(deployDir(root, `${c1}.0`)), false);
    assert.equal(fs.existsSync(deployDir(root, `${c1}.0`) + '.origin'), false);
    assert.equal(repo.hasObject(c1, 'commit'), false);
    const undeployBad = ingot(['admin', 'undeploy', '7', '--sysroot', root]);
    assert.equal(undeployBad.status, 1);
    assert.match(undeployBad.stderr, /DEPLOYMENT_NOT_FOUND/);

    // cleanup removes what a crashed deploy left (a deployment nothing names, a stray kernel).
    const stray = deployDir(root, `${c2}.0`);
    fs.mkdirSync(path.join(stray, 'usr'), { recursive: true });
    fs.mkdirSync(path.join(root, 'boot/ostree', `${OS}-${'0'.repeat(64)}`));
    fs.mkdirSync(path.join(root, 'boot/loader.' + (1 - Number(fs.readlinkSync(path.join(root, 'boot/loader')).slice(-1))), 'entries'), { recursive: true });
    const cl = JSON.parse(ingotOk(['admin', 'cleanup', '--sysroot', root, '--json'])) as { deploymentsRemoved: string[]; bootDirsRemoved: string[] };
    assert.deepEqual(cl.deploymentsRemoved, [`${OS}/${c2}.0`]);
    assert.equal(cl.bootDirsRemoved.length, 1);
    assert.deepEqual(fs.readdirSync(path.join(root, 'boot')).sort(), ['boot', 'loader', fs.readlinkSync(path.join(root, 'boot/loader')), 'ostree'].sort());
    assert.deepEqual(ostreeStatus(root), ingotStatus(root));

    // --not-as-default --retain: the new deployment goes after the merge one, nothing is dropped.
    ingotOk(['admin', 'deploy', REF, '--sysroot', root, '--not-as-default', '--retain']);
    assert.deepEqual(checkSysroot(root), [`${c4}.0`, `${c4}.1`, `${c3}.0`]);
    assert.deepEqual(ostreeStatus(root), ingotStatus(root));
    fsckClean(root);
  } finally {
    cleanup(base);
  }
});
