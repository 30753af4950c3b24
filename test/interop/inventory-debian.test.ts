/**
 * Inventories of a composed Debian tree against the real tools, package for package (name,
 * version, architecture, source package and source version): the tree composed by ingot from
 * the real bookworm archive (as compose-debian.test.ts does, with its package cache) read from
 * the commit's metadata, the same tree committed by the real `ostree commit` (no ingot
 * metadata, so the dpkg database in the tree is read), a checkout as a directory, and a
 * deployment made by the real `ostree admin deploy`, all equal `dpkg-query --admindir … -W`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, ostreeOk, runOk, tmpdir, DEBIAN_BOOKWORM_REPOS } from '../helpers.js';
import { dpkgQuery, debRows, list } from './inventory-helpers.js';

const REF = 'debian/bookworm/x86_64/minimal';
const MANIFEST = `ref: ${REF}
${DEBIAN_BOOKWORM_REPOS}include-priority: [required]
packages:
  - bash
  - coreutils
`;

let work = '';
let repo = '';

before(() => {
  work = tmpdir('ingot-inv-truth-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const base = process.env['INGOT_TEST_TMP'] ?? os.tmpdir();
  const cache = path.join(base, 'debian-compose-cache');
  fs.mkdirSync(cache, { recursive: true });
  fs.writeFileSync(path.join(work, 'm.yaml'), MANIFEST);
  const c = ingot(['compose', 'tree', path.join(work, 'm.yaml'), '--repo', repo, '--cachedir', cache], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  assert.equal(c.status, 0, c.stderr);
});

after(() => cleanup(work));

test('composed Debian commit: metadata, the tree committed by ostree, a checkout and dpkg-query agree exactly', () => {
  const co = path.join(work, 'co');
  ostreeOk(repo, ['checkout', REF, co]);
  const truth = dpkgQuery(path.join(co, 'usr/lib/sysimage/dpkg'));
  assert.ok(truth.length > 50, `${truth.length} packages`);
  assert.ok(truth.some((l) => l.startsWith('libc6 ') && l.includes(' glibc ')), 'libc6 comes from source glibc');

  const meta = list(['--repo', repo, REF]);
  assert.equal(meta.source, 'commit-metadata');
  assert.deepEqual(debRows(meta), truth);

  // The same tree committed by the real ostree: no ingot metadata, so the database is read from the tree.
  ostreeOk(repo, ['commit', '-b', 'foreign', `--tree=dir=${co}`, '--no-xattrs', '--subject', 'not by ingot']);
  const foreign = list(['--repo', repo, 'foreign']);
  assert.equal(foreign.source, 'dpkg-status');
  assert.deepEqual(debRows(foreign), truth);
  const d = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', repo, REF, 'foreign'])) as Record<string, unknown[]>;
  for (const k of ['added', 'removed', 'upgraded', 'downgraded', 'changed']) assert.deepEqual(d[k], [], k);

  const dir = list([co]);
  assert.equal(dir.target.kind, 'directory');
  assert.deepEqual(debRows(dir), truth);
});

test('a deployment made by ostree admin deploy lists the same packages (deployment:SYSROOT[:INDEX])', () => {
  // ostree admin deploy needs a kernel: add one to a commit of the composed tree.
  const extra = path.join(work, 'kernel');
  fs.mkdirSync(path.join(extra, 'usr/lib/modules/6.1.0-test'), { recursive: true });
  fs.writeFileSync(path.join(extra, 'usr/lib/modules/6.1.0-test/vmlinuz'), 'not a real kernel\n');
  fs.writeFileSync(path.join(extra, 'usr/lib/modules/6.1.0-test/initramfs.img'), 'not a real initramfs\n');
  ostreeOk(repo, ['commit', '-b', 'bootable', `--tree=ref=${REF}`, `--tree=dir=${extra}`, '--no-xattrs', '--subject', 'with a kernel']);
  const sysroot = path.join(work, 'sysroot');
  fs.mkdirSync(sysroot);
  runOk('ostree', ['admin', 'init-fs', '--modern', sysroot]);
  runOk('ostree', ['admin', 'os-init', '--sysroot', sysroot, 'debian']);
  runOk('ostree', [`--repo=${path.join(sysroot, 'ostree/repo')}`, 'pull-local', repo, 'bootable']);
  runOk('ostree', ['admin', 'deploy', '--sysroot', sysroot, '--os', 'debian', '--karg-none', 'bootable']);
  const commit = ostreeOk(repo, ['rev-parse', 'bootable']).trim();
  const truth = debRows(list(['--repo', repo, REF]));
  for (const t of [`deployment:${sysroot}`, `deployment:${sysroot}:0`, `deployment:${sysroot}:${commit.slice(0, 12)}`]) {
    const l = list([t]);
    assert.equal(l.target.kind, 'deployment');
    assert.equal(l.target.id, `${commit}.0`);
    assert.deepEqual(debRows(l), truth, t);
  }
  const none = ingot(['db', 'list', `deployment:${sysroot}:5`]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^error\[TARGET_NOT_FOUND\]/);
});

