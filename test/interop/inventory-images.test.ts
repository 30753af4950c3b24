/**
 * Inventories of roots and images that ingot did not make, against the real tools, package for
 * package:
 *
 * - a minbase root made by the real `mmdebstrap` (cached under $INGOT_TEST_TMP): as a
 *   directory, committed by the real `ostree commit`, as an OCI image made by `umoci` with a
 *   second layer in which dpkg purged a package (the top layer's status wins), and as a
 *   docker-archive made by `skopeo copy`: each equals `dpkg-query --admindir … -W`;
 * - RPM: a tree whose rpmdb.sqlite the real `rpm -i --justdb` wrote from the rpmbuild fixtures
 *   equals `rpm -qa`; the same headers in a Berkeley DB hash `Packages` written by the real
 *   libdb (`db5.3_load`, both byte orders) equal what rpm's own read-only BDB backend lists;
 *   and in an ndb `Packages.db` laid out as rpm's lib/backend/ndb/rpmpkg.c writes it (Debian's
 *   rpm is built without ndb, so this file is written by the test from that layout).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { cleanup, ingotOk, ostreeOk, ROOT, run, runOk, tmpdir } from '../helpers.js';
import { dpkgQuery, debRows, list, type ListJson } from './inventory-helpers.js';


let work = '';
let repo = '';
let mmRoot = '';

function rpmQa(root: string, extra: string[] = []): string[] {
  const r = run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', ...extra, '-qa', '--qf', '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM}\\n']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').sort();
}

const rpmRows = (l: ListJson): string[] => l.packages.map((p) => `${p.name} ${p.epoch} ${p.version} ${p.release} ${p.arch} ${p.sourceName}-${p.sourceVersion}.src.rpm`).sort();

before(() => {
  work = tmpdir('ingot-inv-truth-');
  repo = path.join(work, 'repo');
  ingotOk(['repo', 'init', '--repo', repo, '--mode', 'archive']);
  const base = process.env['INGOT_TEST_TMP'] ?? os.tmpdir();
  // A minbase root made by mmdebstrap from the machine's mirror, kept between runs.
  const mmDir = path.join(base, 'inventory-mmdebstrap');
  const tar = path.join(mmDir, 'bookworm-minbase.tar');
  if (!fs.existsSync(tar)) {
    fs.mkdirSync(mmDir, { recursive: true });
    runOk('mmdebstrap', ['--quiet', '--variant=minbase', '--mode=root', '--format=tar', 'bookworm', `${tar}.tmp`]);
    fs.renameSync(`${tar}.tmp`, tar);
  }
  mmRoot = path.join(work, 'mm-root');
  fs.mkdirSync(mmRoot);
  runOk('tar', ['-C', mmRoot, '-xf', tar]);
  // Device nodes (mmdebstrap's /dev) cannot go into an OSTree commit.
  for (const n of fs.readdirSync(path.join(mmRoot, 'dev'))) fs.rmSync(path.join(mmRoot, 'dev', n), { recursive: true, force: true });
});

after(() => cleanup(work));

test('an mmdebstrap root: as a directory, an umoci image (two layers) and a docker-archive, equal to dpkg-query', () => {
  assert.deepEqual(debRows(list([mmRoot])), dpkgQuery(path.join(mmRoot, 'var/lib/dpkg')));

  const layout = path.join(work, 'img');
  const bundle = path.join(work, 'bundle');
  runOk('umoci', ['init', '--layout', layout]);
  runOk('umoci', ['new', '--image', `${layout}:latest`]);
  runOk('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
  runOk('cp', ['-a', `${mmRoot}/.`, path.join(bundle, 'rootfs')]);
  runOk('umoci', ['repack', '--image', `${layout}:latest`, bundle]);
  // A second layer in which dpkg purged a package: only the top layer's status counts.
  const victim = dpkgQuery(path.join(mmRoot, 'var/lib/dpkg')).find((l) => l.startsWith('libsemanage-common '));
  assert.ok(victim, 'minbase has libsemanage-common');
  runOk('dpkg', ['--root', path.join(bundle, 'rootfs'), '--force-all', '--purge', 'libsemanage-common']);
  runOk('umoci', ['repack', '--image', `${layout}:latest`, bundle]);
  const truth = dpkgQuery(path.join(bundle, 'rootfs/var/lib/dpkg'));
  assert.ok(!truth.includes(victim), 'purged');

  const img = list([`oci:${layout}:latest`]);
  assert.equal(img.target.kind, 'image');
  assert.match(img.target.id, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(debRows(img), truth);

  const archive = path.join(work, 'img.tar');
  runOk('skopeo', ['copy', '--quiet', `oci:${layout}:latest`, `docker-archive:${archive}:inv/test:1`]);
  assert.deepEqual(debRows(list([`docker-archive:${archive}`])), truth);

  const d = JSON.parse(ingotOk(['--json', 'db', 'diff', mmRoot, `oci:${layout}:latest`])) as { removed: { name: string }[]; added: unknown[] };
  assert.deepEqual(d.removed.map((p) => p.name), ['libsemanage-common']);
  assert.deepEqual(d.added, []);
  // A commit (the root committed by the real ostree, read from its tree) against the image.
  ostreeOk(repo, ['commit', '-b', 'mm', `--tree=dir=${mmRoot}`, '--no-xattrs', '--subject', 'mmdebstrap root']);
  const cross = JSON.parse(ingotOk(['--json', 'db', 'diff', '--repo', repo, 'mm', `oci:${layout}:latest`])) as { removed: { name: string }[] };
  assert.deepEqual(cross.removed.map((p) => p.name), ['libsemanage-common']);
});

let rpmTree = '';
let rpmTruth: string[] = [];

test('rpmdb.sqlite written by rpm -i --justdb equals rpm -qa', () => {
  const dir = runOk('bash', [path.join(ROOT, 'test', 'fixtures', 'build-rpms.sh')]).trim().split('\n').pop()!;
  rpmTree = path.join(work, 'rpm-tree');
  fs.mkdirSync(rpmTree);
  const files = ['fx-main', 'fx-empty', 'fx-zstd', 'fx-gzip', 'fx-arch'].map((n) => path.join(dir, `${n}.rpm`));
  run('rpm', ['--root', rpmTree, '--dbpath', '/var/lib/rpm', '-i', '--justdb', '--nodeps', '--noscripts', ...files]);
  rpmTruth = rpmQa(rpmTree);
  assert.equal(rpmTruth.length, 5);
  assert.ok(rpmTruth.includes('fx-main 2 1.2.3 4.fx noarch fx-main-1.2.3-4.fx.src.rpm'), 'an epoch');
  const l = list([rpmTree]);
  assert.equal(l.source, 'rpmdb-sqlite');
  assert.deepEqual(rpmRows(l), rpmTruth);
});

function blobs(): { hnum: number; blob: Buffer }[] {
  const db = new Database(path.join(rpmTree, 'var/lib/rpm/rpmdb.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all() as { hnum: number; blob: Buffer }[];
  } finally {
    db.close();
  }
}

for (const order of ['1234', '4321'] as const) {
  test(`a Berkeley DB Packages written by libdb (lorder ${order}) reads as rpm's bdb_ro backend lists it`, () => {
    assert.ok(rpmTree, 'the sqlite test ran first');
    const root = path.join(work, `bdb-${order}`);
    fs.mkdirSync(path.join(root, 'var/lib/rpm'), { recursive: true });
    const key = (n: number): string => {
      const b = Buffer.alloc(4);
      if (order === '1234') b.writeUInt32LE(n);
      else b.writeUInt32BE(n);
      return b.toString('hex');
    };
    const rows = blobs();
    // db_load's bytevalue dump: key and value lines, hex; key 0 is rpm's bookkeeping record.
    let dump = `VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\ndb_lorder=${order}\nHEADER=END\n`;
    dump += ` ${key(0)}\n ${key(rows.length + 1)}\n`;
    for (const r of rows) dump += ` ${key(r.hnum)}\n ${r.blob.toString('hex')}\n`;
    dump += 'DATA=END\n';
    fs.writeFileSync(path.join(work, `dump-${order}.txt`), dump);
    runOk('db5.3_load', ['-f', path.join(work, `dump-${order}.txt`), path.join(root, 'var/lib/rpm/Packages')]);
    const file = fs.readFileSync(path.join(root, 'var/lib/rpm/Packages'));
    assert.ok(file.length > 4096 * 2, 'headers spill onto overflow pages');
    const truth = rpmQa(root, ['--define', '_db_backend bdb_ro']);
    assert.deepEqual(truth, rpmTruth, 'rpm reads the libdb file like the sqlite one');
    const l = list([root]);
    assert.equal(l.source, 'rpmdb-bdb');
    assert.deepEqual(rpmRows(l), truth);
  });
}

/** adler32 as RFC 1950 defines it. */
function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const c of buf) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

test('an ndb Packages.db in rpmpkg.c layout reads the same packages', () => {
  assert.ok(rpmTree, 'the sqlite test ran first');
  const rows = blobs();
  const PAGE = 4096;
  const slotPages = 1;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(PAGE);
  header.write('RpmP', 0, 'latin1');
  header.writeUInt32LE(0, 4);
  header.writeUInt32LE(rows.length + 1, 8);
  header.writeUInt32LE(slotPages, 12);
  header.writeUInt32LE(rows.length + 1, 16);
  for (let o = 32; o < PAGE; o += 16) header.write('Slot', o, 'latin1');
  let blk = (slotPages * PAGE) / 16;
  rows.forEach((r, i) => {
    const len = r.blob.length;
    const cnt = Math.ceil((16 + len + 12) / 16);
    const b = Buffer.alloc(cnt * 16);
    b.write('BlbS', 0, 'latin1');
    b.writeUInt32LE(r.hnum, 4);
    b.writeUInt32LE(1700000000, 8);
    b.writeUInt32LE(len, 12);
    r.blob.copy(b, 16);
    b.writeUInt32LE(adler32(b.subarray(0, b.length - 12)), b.length - 12);
    b.writeUInt32LE(len, b.length - 8);
    b.write('BlbE', b.length - 4, 'latin1');
    const slot = 32 + i * 16;
    header.writeUInt32LE(r.hnum, slot + 4);
    header.writeUInt32LE(blk, slot + 8);
    header.writeUInt32LE(cnt, slot + 12);
    blk += cnt;
    parts.push(b);
  });
  const root = path.join(work, 'ndb');
  fs.mkdirSync(path.join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/lib/sysimage/rpm/Packages.db'), Buffer.concat([header, ...parts]));
  const l = list([root]);
  assert.equal(l.source, 'rpmdb-ndb');
  assert.deepEqual(rpmRows(l), rpmTruth);
});
