/**
 * Bad input to `ingot admin`: a commit without a kernel, a directory that is no sysroot, a
 * missing stateroot, an origin naming an unknown remote, corrupted deployment lists, and a
 * full disk (failpoints). Each fails with its code, names what is wrong, and leaves the
 * current deployments, their files and the boot entries as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, describeTree, ingot, ingotOk, tmpdir } from '../helpers.js';
import { OS, REF, checkSysroot, commitTree, deployDir, fsckClean, ingotStatus, makeSysroot, writeTree } from './admin-fixture.js';

/** Everything under boot/ and ostree/boot.* (entries, links, kernels) and the deployment dirs' trees. */
function snapshot(root: string): string {
  const parts: string[] = [];
  for (const top of ['boot', 'ostree']) {
    const walk = (rel: string): void => {
      const p = path.join(root, rel);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) parts.push(`${rel} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        if (rel === 'ostree/repo' || rel === 'ostree/deploy') return;
        parts.push(`${rel}/`);
        for (const n of fs.readdirSync(p).sort()) walk(`${rel}/${n}`);
      } else parts.push(`${rel} ${fs.readFileSync(p, 'utf8')}`);
    };
    walk(top);
  }
  const dep = path.join(root, 'ostree/deploy', OS, 'deploy');
  for (const n of fs.readdirSync(dep).sort()) {
    if (n.endsWith('.origin')) parts.push(`${n} ${fs.readFileSync(path.join(dep, n), 'utf8')}`);
    else parts.push(`${n}: ${JSON.stringify([...describeTree(path.join(dep, n))].filter(([k]) => k !== '/'))}`);
  }
  return parts.join('\n');
}

function fails(args: string[], code: string, status: number, message: RegExp, env: NodeJS.ProcessEnv = {}): void {
  const r = ingot(args, { env });
  assert.equal(r.status, status, `ingot ${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error\\[${code}\\]: `));
  assert.match(r.stderr, message);
  if (code !== 'FAILPOINT') assert.match(r.stderr, /hint: /); // (a test-only error)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('bad input fails with codes and leaves the sysroot untouched', async () => {
  const base = tmpdir('ingot-admin-bad-');
  try {
    // Not a sysroot.
    const empty = path.join(base, 'empty');
    fs.mkdirSync(empty);
    fails(['admin', 'status', '--sysroot', empty], 'SYSROOT_NOT_INITIALIZED', 1, /is not an initialised sysroot/);
    fails(['admin', 'deploy', REF, '--sysroot', empty], 'SYSROOT_NOT_INITIALIZED', 1, /ostree\/repo has no config/);

    const root = path.join(base, 'sysroot');
    const repo = makeSysroot(root);
    const tree = path.join(base, 'tree');
    writeTree(tree, { version: '1', etc: { hostname: 'h1\n' } });
    const c1 = await commitTree(repo, tree, REF, '1');
    ingotOk(['admin', 'deploy', REF, '--sysroot', root, '--os', OS]);
    let snap = snapshot(root);

    // A commit without a kernel.
    writeTree(tree, { version: 'nokernel', kernel: null });
    const nk = await commitTree(repo, tree, 'testos/nokernel', 'nokernel');
    fails(['admin', 'deploy', 'testos/nokernel', '--sysroot', root], 'KERNEL_NOT_FOUND', 1, new RegExp(`commit ${nk} has no kernel`));
    assert.equal(snapshot(root), snap);

    // A missing stateroot, and an invalid one.
    fails(['admin', 'deploy', REF, '--sysroot', root, '--os', 'nosuch'], 'STATEROOT_NOT_FOUND', 1, /stateroot 'nosuch' does not exist/);
    fails(['admin', 'deploy', REF, '--sysroot', root, '--os', '../x'], 'INVALID_ARGUMENT', 2, /not a valid stateroot/);
    // Unknown ref.
    fails(['admin', 'deploy', 'no/such/ref', '--sysroot', root], 'REF_NOT_FOUND', 1, /no\/such\/ref/);
    assert.equal(snapshot(root), snap);

    // An origin that names a remote the repository does not define.
    const origin = deployDir(root, `${c1}.0`) + '.origin';
    const saved = fs.readFileSync(origin, 'utf8');
    fs.writeFileSync(origin, '[origin]\nrefspec=nosuch:testos/x86_64/stable\n');
    snap = snapshot(root);
    fails(['admin', 'upgrade', '--sysroot', root], 'ORIGIN_INVALID', 1, /names remote 'nosuch'/);
    fs.writeFileSync(origin, '[origin]\n');
    fails(['admin', 'upgrade', '--sysroot', root], 'ORIGIN_INVALID', 1, /has no \[origin\] refspec/);
    fs.writeFileSync(origin, saved);
    snap = snapshot(root);

    // A full disk at several steps of a deploy and of a rollback setup.
    writeTree(tree, { version: '2', etc: { hostname: 'h2\n' } });
    const c2 = await commitTree(repo, tree, REF, '2');
    for (const fp of ['deploy-after-checkout', 'deploy-etc-copied', 'deploy-origin-written', 'swap-entry', 'swap-bootlinks', 'swap-before-loader']) {
      fails(['admin', 'deploy', REF, '--sysroot', root], 'IO_ERROR', 1, /ENOSPC/, { INGOT_FAILPOINT: `${fp}=enospc` });
      assert.deepEqual(ingotStatus(root).map((d) => d.name), [`${c1}.0`], fp);
      assert.equal(fs.existsSync(deployDir(root, `${c2}.0`)), false, `${fp}: the new deployment is removed`);
      const loaderNow = fs.readlinkSync(path.join(root, 'boot/loader'));
      assert.equal(snapshot(root).split('\n').filter((l) => l.startsWith(`boot/${loaderNow}`)).join('\n'), snap.split('\n').filter((l) => l.startsWith(`boot/${loaderNow}`)).join('\n'), fp);
      checkSysroot(root);
    }
    ingotOk(['admin', 'deploy', REF, '--sysroot', root]);
    assert.deepEqual(checkSysroot(root), [`${c2}.0`, `${c1}.0`]);
    snap = snapshot(root);
    fails(['admin', 'rollback', '--sysroot', root], 'IO_ERROR', 1, /ENOSPC/, { INGOT_FAILPOINT: 'swap-entry=enospc' });
    assert.deepEqual(checkSysroot(root), [`${c2}.0`, `${c1}.0`]);
    fails(['admin', 'rollback', '--sysroot', root], 'FAILPOINT', 1, /failpoint/, { INGOT_FAILPOINT: 'swap-before-loader=error' });
    assert.deepEqual(checkSysroot(root), [`${c2}.0`, `${c1}.0`]);
    ingotOk(['admin', 'cleanup', '--sysroot', root]);
    assert.equal(snapshot(root), snap);

    // Corrupted deployment lists: an entry naming a missing link, a loader link to nowhere,
    // an entry without ostree=, a deployment directory that is gone.
    const loader = fs.readlinkSync(path.join(root, 'boot/loader'));
    const entry = path.join(root, 'boot', loader, 'entries', `ostree-2-${OS}.conf`);
    const good = fs.readFileSync(entry, 'utf8');
    fs.writeFileSync(entry, good.replace(/(ostree=\S+\/)0\b/, '$19'));
    fails(['admin', 'status', '--sysroot', root], 'SYSROOT_CORRUPT', 3, /does not exist/);
    fails(['admin', 'deploy', REF, '--sysroot', root], 'SYSROOT_CORRUPT', 3, new RegExp(entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    fs.writeFileSync(entry, good.replace(/ostree=\S+/, ''));
    fails(['admin', 'rollback', '--sysroot', root], 'SYSROOT_CORRUPT', 3, /no ostree= kernel argument/);
    fs.writeFileSync(entry, good);
    fs.renameSync(path.join(root, 'boot/loader'), path.join(root, 'boot/loader.saved'));
    fs.symlinkSync('loader.7', path.join(root, 'boot/loader'));
    fails(['admin', 'cleanup', '--sysroot', root], 'SYSROOT_CORRUPT', 3, /points at 'loader\.7'/);
    fs.rmSync(path.join(root, 'boot/loader'));
    fs.renameSync(path.join(root, 'boot/loader.saved'), path.join(root, 'boot/loader'));
    assert.equal(snapshot(root), snap);
    // Nothing was changed by the failures: the list reads as before, the repository is whole.
    assert.deepEqual(checkSysroot(root), [`${c2}.0`, `${c1}.0`]);
    fsckClean(root);
  } finally {
    cleanup(base);
  }
});
