/**
 * `ingot db list` and `ingot db diff` end to end: two commits written with the library's
 * writeCommit() carrying crafted inventory metadata, read back through the CLI (text and
 * --json) without a checkout; the real `ostree` reads the same metadata; commits without an
 * inventory and mixed families fail with their codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ostreeOk, tmpdir } from '../helpers.js';
import { ERROR_CODES } from '../../src/core/codes.js';
import { Repo } from '../../src/repo/repo.js';
import { writeCommit } from '../../src/repo/commit.js';
import { encodeInventory, refState, type InventoryPackage } from '../../src/compose/inventory.js';

const REF = 'os/x86_64/stable';

function p(name: string, epoch: number, version: string, release: string, arch = 'amd64', src?: string): InventoryPackage {
  const evr = `${epoch ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}`;
  const digest = `sha256:${Buffer.from(`${name}/${evr}/${arch}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;
  return { name, epoch, version, release, arch, sourceName: src ?? name, sourceVersion: evr, digest };
}

const V1 = [
  p('base-files', 0, '12.4+deb12u4', ''),
  p('bash', 0, '5.2.15', '2+b2'),
  p('libc6', 0, '2.36', '9+deb12u4', 'amd64', 'glibc'),
  p('nano', 0, '7.2', '1'),
  p('vim-common', 2, '9.0.1378', '2', 'all', 'vim'),
];
const V2 = [
  p('base-files', 0, '12.4+deb12u5', ''),
  p('bash', 0, '5.2.15', '2+b2'),
  p('libc6', 0, '2.36', '9+deb12u3', 'amd64', 'glibc'),
  p('vim-common', 2, '9.0.1378', '2', 'all', 'vim'),
  p('vim-tiny', 2, '9.0.1378', '2', 'amd64', 'vim'),
];

interface ListJson {
  commit: string;
  family: string;
  version: string | null;
  inputHash: string | null;
  count: number;
  packages: (InventoryPackage & { evr: string })[];
}

interface DiffJson {
  from: { commit: string; version: string | null };
  to: { commit: string; version: string | null };
  family: string;
  added: (InventoryPackage & { evr: string })[];
  removed: (InventoryPackage & { evr: string })[];
  upgraded: { name: string; arch: string; from: string; to: string }[];
  downgraded: { name: string; arch: string; from: string; to: string }[];
  changed: unknown[];
}

function jsonOk<T>(args: string[]): T {
  const r = ingot(['--json', ...args]);
  assert.equal(r.status, 0, `ingot --json ${args.join(' ')}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test('db list and db diff read the inventory from commit metadata', async () => {
  const dir = tmpdir('ingot-db-');
  try {
    const repoDir = path.join(dir, 'repo');
    const repo = Repo.init(repoDir, 'archive');
    const tree = path.join(dir, 'tree');
    fs.mkdirSync(path.join(tree, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'usr/bin/hello'), 'v1\n');
    const c1 = await writeCommit(repo, tree, {
      branch: REF,
      subject: 'compose 1',
      timestamp: 1_790_000_000n,
      metadataVariants: encodeInventory({ family: 'deb', packages: V1, inputHash: '1'.repeat(64), version: '2026.11.26.0' }),
    });
    fs.writeFileSync(path.join(tree, 'usr/bin/hello'), 'v2\n');
    const c2 = await writeCommit(repo, tree, {
      branch: REF,
      subject: 'compose 2',
      timestamp: 1_790_000_100n,
      metadataVariants: encodeInventory({ family: 'deb', packages: [...V2].reverse(), inputHash: '2'.repeat(64), version: '2026.11.26.1' }),
    });

    // list, by ref and by commit, with and without a filter.
    const list = jsonOk<ListJson>(['db', 'list', REF, '--repo', repoDir]);
    assert.equal(list.commit, c2.commit);
    assert.equal(list.family, 'deb');
    assert.equal(list.version, '2026.11.26.1');
    assert.equal(list.inputHash, '2'.repeat(64));
    assert.equal(list.count, 5);
    assert.deepEqual(list.packages.map((x) => `${x.name} ${x.evr} ${x.arch}`), [
      'base-files 12.4+deb12u5 amd64',
      'bash 5.2.15-2+b2 amd64',
      'libc6 2.36-9+deb12u3 amd64',
      'vim-common 2:9.0.1378-2 all',
      'vim-tiny 2:9.0.1378-2 amd64',
    ]);
    assert.deepEqual(list.packages[2], { ...V2[2]!, evr: '2.36-9+deb12u3' });
    const old = jsonOk<ListJson>(['db', 'list', c1.commit.slice(0, 10), '--repo', repoDir, 'vim*', 'nano']);
    assert.deepEqual(old.packages.map((x) => x.name), ['nano', 'vim-common']);
    const text = ingot(['db', 'list', REF, '--repo', repoDir, 'b*']);
    assert.equal(text.status, 0, text.stderr);
    assert.equal(text.stdout, `commit ${c2.commit}\nVersion: 2026.11.26.1\n2 deb packages matching b*\n  base-files  12.4+deb12u5  amd64\n  bash        5.2.15-2+b2   amd64\n`);

    // diff with two revs and with one (its parent against it).
    const want = {
      from: { commit: c1.commit, version: '2026.11.26.0' },
      to: { commit: c2.commit, version: '2026.11.26.1' },
      family: 'deb',
      upgraded: [{ name: 'base-files', arch: 'amd64', from: '12.4+deb12u4', to: '12.4+deb12u5', fromDigest: V1[0]!.digest, toDigest: V2[0]!.digest }],
      downgraded: [{ name: 'libc6', arch: 'amd64', from: '2.36-9+deb12u4', to: '2.36-9+deb12u3', fromDigest: V1[2]!.digest, toDigest: V2[2]!.digest }],
      changed: [],
      removed: [{ ...V1[3]!, evr: '7.2-1' }],
      added: [{ ...V2[4]!, evr: '2:9.0.1378-2' }],
    };
    const d2 = jsonOk<DiffJson>(['db', 'diff', `${REF}^`, REF, '--repo', repoDir]);
    assert.deepEqual(
      { from: d2.from, to: d2.to, family: d2.family, upgraded: d2.upgraded, downgraded: d2.downgraded, changed: d2.changed, removed: d2.removed, added: d2.added },
      { from: want.from, to: want.to, family: want.family, upgraded: want.upgraded, downgraded: want.downgraded, changed: want.changed, removed: want.removed, added: want.added },
    );
    assert.deepEqual(jsonOk<DiffJson>(['db', 'diff', REF, '--repo', repoDir]), d2);
    const dt = ingot(['db', 'diff', c1.commit, c2.commit, '--repo', repoDir]);
    assert.equal(dt.status, 0, dt.stderr);
    assert.equal(
      dt.stdout,
      [
        `from: ${c1.commit} (2026.11.26.0)`,
        `to:   ${c2.commit} (2026.11.26.1)`,
        'Upgraded:',
        '  base-files 12.4+deb12u4 → 12.4+deb12u5',
        'Downgraded:',
        '  libc6 2.36-9+deb12u4 → 2.36-9+deb12u3',
        'Removed:',
        '  nano 7.2-1 amd64',
        'Added:',
        '  vim-tiny 2:9.0.1378-2 amd64',
        '',
      ].join('\n'),
    );
    const same = ingot(['db', 'diff', REF, REF, '--repo', repoDir]);
    assert.equal(same.status, 0);
    assert.match(same.stdout, /no package changes\n$/);

    // What a later compose reads from the ref: its version and input hash.
    assert.deepEqual(refState(repo, REF), { commit: c2.commit, version: '2026.11.26.1', inputHash: '2'.repeat(64) });
    assert.equal(refState(repo, 'no/such/ref'), null);

    // The real ostree reads the metadata.
    assert.equal(ostreeOk(repoDir, ['show', '--print-metadata-key=ingot.family', REF]).trim(), "'deb'");
    const pk = ostreeOk(repoDir, ['show', '--print-metadata-key=ingot.packages', REF]);
    assert.match(pk, /\('libc6', '0', '2\.36', '9\+deb12u3', 'amd64', 'glibc', '2\.36-9\+deb12u3', 'sha256:[0-9a-f]{64}'\)/);
    assert.match(pk, /\('vim-tiny', '2', '9\.0\.1378', '2', 'amd64', 'vim', '2:9\.0\.1378-2', /);
    assert.match(ostreeOk(repoDir, ['log', REF]), /Version: 2026\.11\.26\.1/);

    // Errors: a commit without an inventory, mixed families, an unknown rev, no --repo.
    fs.writeFileSync(path.join(tree, 'usr/bin/hello'), 'v3\n');
    await writeCommit(repo, tree, { branch: 'plain', subject: 'not composed', timestamp: 1_790_000_200n });
    assert.deepEqual(refState(repo, 'plain'), { commit: repo.readRef('plain'), version: null, inputHash: null });
    const missing = ingot(['--json', 'db', 'list', 'plain', '--repo', repoDir]);
    assert.equal(missing.status, ERROR_CODES.INVENTORY_MISSING.exit);
    assert.equal((JSON.parse(missing.stderr) as { error: { code: string } }).error.code, 'INVENTORY_MISSING');
    const missingText = ingot(['db', 'diff', 'plain', REF, '--repo', repoDir]);
    assert.equal(missingText.status, 1);
    assert.match(missingText.stderr, /^error\[INVENTORY_MISSING\]: commit [0-9a-f]{64} has no package inventory/);
    await writeCommit(repo, tree, { branch: 'rpmish', subject: 'rpm', timestamp: 1_790_000_300n, metadataVariants: encodeInventory({ family: 'rpm', packages: [p('bash', 0, '5.2', '1', 'x86_64')] }) });
    const mixed = ingot(['db', 'diff', REF, 'rpmish', '--repo', repoDir]);
    assert.equal(mixed.status, ERROR_CODES.INVALID_ARGUMENT.exit, mixed.stderr);
    assert.match(mixed.stderr, /^error\[INVALID_ARGUMENT\]: cannot compare a deb inventory with a rpm one/);
    const unknown = ingot(['db', 'list', 'no/such/ref', '--repo', repoDir]);
    assert.equal(unknown.status, ERROR_CODES.REF_NOT_FOUND.exit);
    assert.match(unknown.stderr, /^error\[REF_NOT_FOUND\]/);
    const rootParent = ingot(['db', 'diff', c1.commit, '--repo', repoDir]);
    assert.equal(rootParent.status, ERROR_CODES.REF_NOT_FOUND.exit, 'a root commit has no parent to compare with');
    const noRepo = ingot(['db', 'list', REF], { env: { INGOT_REPO: '' } });
    assert.equal(noRepo.status, 2);
  } finally {
    cleanup(dir);
  }
});
