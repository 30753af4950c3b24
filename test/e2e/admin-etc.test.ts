/**
 * The /etc three-way merge through `ingot admin upgrade` (pull from a file:// remote, then
 * deploy): locally edited and added entries win, locally deleted ones stay deleted, untouched
 * ones follow the new defaults; `config-diff` lists the local changes; a file-against-directory
 * conflict stops the upgrade (nothing changes) unless --etc-conflict says what to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, tmpdir } from '../helpers.js';
import { Repo } from '../../src/repo/repo.js';
import { OS, REF, checkSysroot, commitTree, deployDir, fsckClean, ingotStatus, makeSysroot, pkg, writeTree } from './admin-fixture.js';

/** Every entry under dir: path -> 'dir' | file content | '-> target', with the mode. */
function listEtc(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(dir, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(path.join(dir, r))}`;
      else out[r] = `${fs.readFileSync(path.join(dir, r), 'utf8')} ${mode}`;
    }
  };
  walk('');
  return out;
}

test('upgrade merges /etc exactly; config-diff lists local changes; conflicts stop or resolve as told', async () => {
  const base = tmpdir('ingot-admin-etc-');
  try {
    const root = path.join(base, 'sysroot');
    const sysrepo = makeSysroot(root);
    const remote = Repo.init(path.join(base, 'remote'), 'archive');
    ingotOk(['remote', 'add', '--repo', sysrepo.path, 'origin', `file://${remote.path}`]);
    const tree = path.join(base, 'tree');
    writeTree(tree, {
      version: '1',
      etc: { hostname: 'host-v1\n', 'edited.conf': 'v1\n', 'deleted.conf': 'v1\n', 'untouched.conf': 'u1\n', 'sub/keep.conf': 'k1\n', 'sub/chmod.conf': 'c1\n' },
    });
    const c1 = await commitTree(remote, tree, REF, '1', [pkg('base', '1.0'), pkg('tool', '1.0'), pkg('old', '1')]);
    ingotOk(['pull', '--repo', sysrepo.path, 'origin', REF]);
    ingotOk(['admin', 'deploy', `origin:${REF}`, '--sysroot', root, '--os', OS]);
    const d1 = deployDir(root, `${c1}.0`);
    // Its /etc is a copy of usr/etc (not hardlinks into the repository).
    assert.notEqual(fs.statSync(path.join(d1, 'etc/hostname')).ino, fs.statSync(path.join(d1, 'usr/etc/hostname')).ino);
    assert.equal(fs.statSync(path.join(d1, 'etc/hostname')).nlink, 1);

    // Local changes.
    fs.writeFileSync(path.join(d1, 'etc/edited.conf'), 'mine\n');
    fs.rmSync(path.join(d1, 'etc/deleted.conf'));
    fs.writeFileSync(path.join(d1, 'etc/local.conf'), 'local\n');
    fs.mkdirSync(path.join(d1, 'etc/localdir/nested'), { recursive: true });
    fs.writeFileSync(path.join(d1, 'etc/localdir/nested/x.conf'), 'x\n');
    fs.chmodSync(path.join(d1, 'etc/sub/chmod.conf'), 0o600);
    const diff = ingotOk(['admin', 'config-diff', '--sysroot', root]);
    assert.equal(diff, 'M    edited.conf\nM    sub/chmod.conf\nD    deleted.conf\nA    local.conf\nA    localdir\n');
    const diffJson = JSON.parse(ingotOk(['admin', 'config-diff', '--sysroot', root, '--json'])) as { changes: { kind: string; path: string }[] };
    assert.equal(diffJson.changes.length, 5);

    // v2 changes every default.
    writeTree(tree, {
      version: '2',
      etc: {
        hostname: 'host-v2\n',
        'edited.conf': 'v2\n',
        'deleted.conf': 'v2\n',
        'untouched.conf': 'u2\n',
        'sub/keep.conf': 'k2\n',
        'sub/chmod.conf': 'c2\n',
        'new.conf': 'n2\n',
      },
    });
    const c2 = await commitTree(remote, tree, REF, '2', [pkg('base', '1.0'), pkg('tool', '1.1'), pkg('new', '2')]);
    // --check: the package changes from the new commit's metadata; no tree is fetched.
    const check = JSON.parse(ingotOk(['admin', 'upgrade', '--check', '--sysroot', root, '--json'])) as {
      changed: boolean;
      deployed: unknown;
      diff: { upgraded: { name: string; from: string; to: string }[]; added: { name: string }[]; removed: { name: string }[] };
    };
    assert.equal(check.changed, true);
    assert.equal(check.deployed, null);
    assert.deepEqual(check.diff.upgraded.map((u) => `${u.name} ${u.from} ${u.to}`), ['tool 1.0 1.1']);
    assert.deepEqual([check.diff.added.map((p) => p.name), check.diff.removed.map((p) => p.name)], [['new'], ['old']]);
    assert.equal(sysrepo.isCommitPartial(c2), true, 'only the commit object was fetched');
    assert.match(ingotOk(['admin', 'upgrade', '--check', '--sysroot', root]), /^Upgraded:\n  tool 1\.0 → 1\.1$/m);
    assert.equal(ingotStatus(root).length, 1, '--check deploys nothing');
    const up = JSON.parse(ingotOk(['admin', 'upgrade', '--sysroot', root, '--json'])) as { changed: boolean; to: string; deployed: { etc: { modified: number; removed: number; added: number } } };
    assert.equal(up.changed, true);
    assert.equal(up.to, c2);
    assert.deepEqual(up.deployed.etc, { modified: 2, removed: 1, added: 2, conflicts: [] });
    const d2 = deployDir(root, `${c2}.0`);
    assert.deepEqual(listEtc(path.join(d2, 'etc')), {
      'edited.conf': 'mine\n 644',
      hostname: 'host-v2\n 644',
      'local.conf': 'local\n 644',
      localdir: 'dir 755',
      'localdir/nested': 'dir 755',
      'localdir/nested/x.conf': 'x\n 644',
      'new.conf': 'n2\n 644',
      sub: 'dir 755',
      'sub/chmod.conf': 'c1\n 600',
      'sub/keep.conf': 'k2\n 644',
      'untouched.conf': 'u2\n 644',
    });
    assert.deepEqual(ingotStatus(root).map((d) => d.name), [`${c2}.0`, `${c1}.0`]);
    assert.equal(ingotStatus(root)[0]!.refspec, `origin:${REF}`);
    // status --diff: each deployment's packages against the default (nothing is booted here).
    const sd = JSON.parse(ingotOk(['admin', 'status', '--diff', '--sysroot', root, '--json'])) as { diffs: Record<string, { downgraded: { name: string; from: string; to: string }[] }> };
    assert.deepEqual(sd.diffs['1']!.downgraded.map((u) => `${u.name} ${u.from} ${u.to}`), ['tool 1.1 1.0']);
    assert.match(ingotOk(['admin', 'status', '--diff', '--sysroot', root]), /Packages of deployment 1 against deployment 0:\n[^]*Downgraded:\n  tool 1\.1 → 1\.0/);
    assert.match(ingotOk(['admin', 'upgrade', '--sysroot', root]), /No upgrade available/);

    // v3: the new tree has a directory where the local side has a file.
    writeTree(tree, { version: '3', etc: { hostname: 'host-v3\n', 'local.conf/': '', 'local.conf/inner': 'i3\n' } });
    const c3 = await commitTree(remote, tree, REF, '3');
    const before = ingotStatus(root);
    const entriesBefore = fs.readdirSync(path.join(root, 'boot/loader/entries')).map((n) => fs.readFileSync(path.join(root, 'boot/loader/entries', n), 'utf8'));
    const r = ingot(['admin', 'upgrade', '--sysroot', root]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error\[ETC_MERGE_CONFLICT\]: .*\/etc\/local\.conf is a file locally but a directory in the new tree/);
    assert.deepEqual(ingotStatus(root), before, 'a failed upgrade changes nothing');
    assert.deepEqual(
      fs.readdirSync(path.join(root, 'boot/loader/entries')).map((n) => fs.readFileSync(path.join(root, 'boot/loader/entries', n), 'utf8')),
      entriesBefore,
    );
    assert.equal(fs.existsSync(deployDir(root, `${c3}.0`)), false, 'the half-made deployment is gone');

    ingotOk(['admin', 'upgrade', '--sysroot', root, '--etc-conflict', 'keep-local']);
    const d3 = deployDir(root, `${c3}.0`);
    assert.equal(fs.readFileSync(path.join(d3, 'etc/local.conf'), 'utf8'), 'local\n');
    assert.equal(fs.readFileSync(path.join(d3, 'etc/hostname'), 'utf8'), 'host-v3\n');
    // Take the new default instead: drop that deployment and upgrade again.
    ingotOk(['admin', 'undeploy', '0', '--sysroot', root]);
    ingotOk(['admin', 'upgrade', '--sysroot', root, '--etc-conflict=take-new']);
    const d3b = deployDir(root, `${c3}.0`);
    assert.equal(fs.readFileSync(path.join(d3b, 'etc/local.conf/inner'), 'utf8'), 'i3\n');
    assert.equal(fs.readFileSync(path.join(d3b, 'etc/edited.conf'), 'utf8'), 'mine\n');
    checkSysroot(root);

    // --pull-only fetches and deploys nothing; --deploy-only then deploys without fetching.
    writeTree(tree, { version: '4', etc: { hostname: 'host-v4\n' } });
    const c4 = await commitTree(remote, tree, REF, '4');
    const pulled = JSON.parse(ingotOk(['admin', 'upgrade', '--pull-only', '--sysroot', root, '--json'])) as { to: string; deployed: unknown };
    assert.deepEqual([pulled.to, pulled.deployed], [c4, null]);
    assert.equal(sysrepo.readRef(REF, 'origin'), c4);
    assert.equal(ingotStatus(root)[0]!.name, `${c3}.0`);
    fs.renameSync(remote.path, remote.path + '.away');
    ingotOk(['admin', 'upgrade', '--deploy-only', '--sysroot', root]);
    fs.renameSync(remote.path + '.away', remote.path);
    assert.equal(ingotStatus(root)[0]!.name, `${c4}.0`);
    checkSysroot(root);
    fsckClean(root);
  } finally {
    cleanup(base);
  }
});
