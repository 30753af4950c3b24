/**
 * Layout interop with the real `ostree admin` (2022.7): what ingot deploys, ostree lists the
 * same way (deployments, order, checksums, versions, pins, origins), and what ostree deploys,
 * ingot reads and extends so that ostree lists the result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingotOk, runOk, tmpdir } from '../helpers.js';
import { OS, REF, checkSysroot, commitTree, deployDir, fsckClean, ingotStatus, makeSysroot, ostreeStatus, writeTree } from '../e2e/admin-fixture.js';
import { Repo } from '../../src/repo/repo.js';

test('ingot deploys twice; ostree admin status lists the same deployments, order, checksums and pins', async () => {
  const base = tmpdir('ingot-admin-');
  try {
    const root = path.join(base, 'sysroot');
    const repo = makeSysroot(root);
    writeTree(path.join(base, 't1'), { version: '1.0', etc: { hostname: 'one\n', 'app/app.conf': 'a=1\n' } });
    const c1 = await commitTree(repo, path.join(base, 't1'), REF, '1.0');
    ingotOk(['admin', 'deploy', REF, '--sysroot', root, '--os', OS, '--karg', 'root=LABEL=root', '--karg', 'quiet']);
    writeTree(path.join(base, 't2'), { version: '2.0', etc: { hostname: 'two\n', 'app/app.conf': 'a=2\n' }, kernel: 'fake kernel 2\n' });
    const c2 = await commitTree(repo, path.join(base, 't2'), REF, '2.0');
    ingotOk(['admin', 'deploy', REF, '--sysroot', root]);
    ingotOk(['admin', 'pin', '1', '--sysroot', root]);

    const mine = ingotStatus(root);
    const theirs = ostreeStatus(root);
    assert.deepEqual(theirs, mine);
    assert.deepEqual(
      mine.map((d) => [d.name, d.version, d.pinned, d.refspec]),
      [
        [`${c2}.0`, '2.0', false, REF],
        [`${c1}.0`, '1.0', true, REF],
      ],
    );
    assert.deepEqual(checkSysroot(root), [`${c2}.0`, `${c1}.0`]);
    // The entries carry the inherited kernel arguments, ostree= in place, as ostree writes them.
    const entries = fs.readdirSync(path.join(root, 'boot/loader/entries')).sort();
    assert.deepEqual(entries, [`ostree-1-${OS}.conf`, `ostree-2-${OS}.conf`]);
    const top = fs.readFileSync(path.join(root, 'boot/loader/entries', `ostree-2-${OS}.conf`), 'utf8');
    assert.match(top, /^title Ingot Test OS 2\.0 \(ostree:0\)\nversion 2\noptions root=LABEL=root quiet ostree=\/ostree\/boot\.0\/testos\/[0-9a-f]{64}\/0\nlinux \/ostree\/testos-[0-9a-f]{64}\/vmlinuz-6\.1\.0-test\ninitrd \/ostree\/testos-[0-9a-f]{64}\/initramfs-6\.1\.0-test\.img\n$/);
    // Deployment refs keep both commits.
    assert.deepEqual(
      [...repo.listRefs()].filter(([n]) => n.startsWith('ostree/')).sort(),
      [
        ['ostree/0/1/0', c2],
        ['ostree/0/1/1', c1],
      ],
    );
    // ostree agrees on the /etc changes (none yet) and on what it would clean: nothing.
    assert.equal(runOk('ostree', ['admin', 'config-diff', '--sysroot', root, '--os', OS]), '');
    runOk('ostree', ['admin', 'cleanup', '--sysroot', root]);
    assert.deepEqual(ingotStatus(root), mine);
    fsckClean(root);
  } finally {
    cleanup(base);
  }
});

test('ostree deploys; ingot reads it, merges its /etc and adds a deployment that ostree lists', async () => {
  const base = tmpdir('ingot-admin-');
  try {
    const root = path.join(base, 'sysroot');
    fs.mkdirSync(root);
    runOk('ostree', ['admin', 'init-fs', root]);
    runOk('ostree', ['admin', 'os-init', OS, '--sysroot', root]);
    const repo = Repo.open(path.join(root, 'ostree/repo'));
    writeTree(path.join(base, 't1'), { version: '1.0', etc: { hostname: 'one\n', 'motd': 'hello\n' } });
    const c1 = await commitTree(repo, path.join(base, 't1'), REF, '1.0');
    runOk('ostree', ['admin', 'deploy', `--sysroot=${root}`, `--os=${OS}`, '--karg=console=ttyS0', REF]);
    assert.deepEqual(ingotStatus(root), ostreeStatus(root));
    assert.deepEqual(ingotStatus(root).map((d) => d.name), [`${c1}.0`]);

    // A local change in ostree's deployment, seen by both config-diffs alike.
    fs.writeFileSync(path.join(deployDir(root, `${c1}.0`), 'etc/hostname'), 'mine\n');
    fs.rmSync(path.join(deployDir(root, `${c1}.0`), 'etc/motd'));
    assert.equal(ingotOk(['admin', 'config-diff', '--sysroot', root]), runOk('ostree', ['admin', 'config-diff', '--sysroot', root, '--os', OS]));

    writeTree(path.join(base, 't2'), { version: '2.0', etc: { hostname: 'two\n', motd: 'hello 2\n', issue: 'new\n' } });
    const c2 = await commitTree(repo, path.join(base, 't2'), REF, '2.0');
    ingotOk(['admin', 'deploy', REF, '--sysroot', root]);
    const theirs = ostreeStatus(root);
    assert.deepEqual(theirs.map((d) => d.name), [`${c2}.0`, `${c1}.0`]);
    assert.deepEqual(ingotStatus(root), theirs);
    checkSysroot(root);
    const d2 = deployDir(root, `${c2}.0`);
    assert.equal(fs.readFileSync(path.join(d2, 'etc/hostname'), 'utf8'), 'mine\n');
    assert.equal(fs.existsSync(path.join(d2, 'etc/motd')), false);
    assert.equal(fs.readFileSync(path.join(d2, 'etc/issue'), 'utf8'), 'new\n');
    // Kernel arguments inherited from ostree's entry, ostree= replaced in place (ostree 2022.7 writes the same).
    const entry = fs.readFileSync(path.join(root, 'boot/loader/entries', `ostree-2-${OS}.conf`), 'utf8');
    assert.match(entry, /^options console=ttyS0 ostree=\/ostree\/boot\.0\/testos\/[0-9a-f]{64}\/0$/m);

    // And ostree can carry on from ingot's state: it deploys a third, ingot lists it.
    runOk('ostree', ['admin', 'deploy', `--sysroot=${root}`, `--os=${OS}`, '--retain', REF]);
    assert.deepEqual(ingotStatus(root), ostreeStatus(root));
    assert.equal(ingotStatus(root).length, 3);
    checkSysroot(root);
    fsckClean(root);
  } finally {
    cleanup(base);
  }
});
