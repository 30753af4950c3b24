/**
 * The fleet index answers the same on SQLite and on a real PostgreSQL server, for a fleet of
 * 10,000 generated targets (Debian and RPM inventories with epochs, binNMUs, tildes and source
 * packages), and both answers equal a brute-force oracle that compares every package of every
 * target with dpkg's and rpm's order directly:
 *
 * - `query`: NAME, NAME OP VERSION for every operator, source:NAME;
 * - `affected`: CVEs whose advisories are keyed by Debian source package, by RPM binary name
 *   (updateinfo) and by release (Debian:11 against Debian:12 targets);
 * - re-adding a target replaces it, removing one removes it, and neither leaves package
 *   versions that no target carries; the CLI (`ingot index add/query/affected --db postgres://…`)
 *   gives the same JSON as the library on both databases;
 * - an index of schema 1 (one row per package of each target) is converted when opened and
 *   then answers as an index built anew from the same targets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import { openPostgres, openSqlite, type SqlDb } from '../../src/platform/postgres.js';
import { FleetIndex, type QueryHit } from '../../src/inventory/fleet.js';
import { AdvisoryDb } from '../../src/inventory/advisory-db.js';
import { parseAdvisories } from '../../src/inventory/advisories.js';
import { purlOf } from '../../src/inventory/purl.js';
import { compareDebVersionStrings } from '../../src/codecs/version/deb.js';
import { compareRpmEvrStrings } from '../../src/codecs/version/rpm.js';
import { packageEvr, sortPackages, type Distro, type InstalledPackage, type PackageFamily, type Target } from '../../src/inventory/types.js';
import { cleanup, ingot, prng, tmpdir } from '../helpers.js';
import { testPostgresUrl } from '../pg-helper.js';

const N = 10_000;
let work = '';
let pgUrl = '';
let dbName = '';
let dbNameV1 = '';
let sqlite: FleetIndex;
let postgres: FleetIndex;
let adb: AdvisoryDb;
const fleet: Target[] = [];

const DEB12: Distro = { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: null };
const RHEL9: Distro = { id: 'rhel', versionId: '9.4', codename: null, prettyName: null };

/** Binary name → source name and candidate versions (source version, binary version). */
const DEB_POOL: [string, string, string[]][] = [
  ['bash', 'bash', ['5.2.15-2', '5.2.15-2+b1', '5.2.15-2+b2', '5.2.15-2+deb12u1', '5.1-2']],
  ['libc6', 'glibc', ['2.36-9+deb12u1', '2.36-9+deb12u3', '2.36-9+deb12u4', '2.36-9+deb12u7', '2.36-9']],
  ['libc-bin', 'glibc', ['2.36-9+deb12u1', '2.36-9+deb12u3', '2.36-9+deb12u4', '2.36-9+deb12u7', '2.36-9']],
  ['curl', 'curl', ['7.88.1-10', '7.88.1-10+deb12u4', '7.88.1-10+deb12u5', '7.88.1-10+deb12u12', '8.5.0-2~bpo12+1']],
  ['libcurl4', 'curl', ['7.88.1-10', '7.88.1-10+deb12u4', '7.88.1-10+deb12u5', '7.88.1-10+deb12u12', '8.5.0-2~bpo12+1']],
  ['vim-tiny', 'vim', ['2:9.0.1378-2', '2:9.0.1378-2+deb12u1', '1:9.1-1', '2:9.0.1378-1']],
  ['zlib1g', 'zlib', ['1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1+b1', '1:1.3.dfsg-3']],
  ['openssl', 'openssl', ['3.0.11-1~deb12u2', '3.0.13-1~deb12u1', '3.0.15-1~deb12u1', '3.0.11-1']],
  ['libssl3', 'openssl', ['3.0.11-1~deb12u2', '3.0.13-1~deb12u1', '3.0.15-1~deb12u1', '3.0.11-1']],
  ['tar', 'tar', ['1.34+dfsg-1.2', '1.34+dfsg-1.2+deb12u1', '1.34+dfsg-1']],
];
const RPM_POOL: [string, string, string[]][] = [
  ['openssl-libs', 'openssl', ['1:3.0.7-24.el9', '1:3.0.7-27.el9', '1:3.0.7-27.el9_4', '3.0.9-1.el9']],
  ['sudo', 'sudo', ['1.9.5p2-9.el9', '1.9.5p2-10.el9_3', '1.9.5p2-10.el9']],
  ['bash', 'bash', ['5.1.8-6.el9', '5.1.8-9.el9', '5.1.8-6.el9_1']],
  ['kernel', 'kernel', ['5.14.0-362.el9', '5.14.0-362.18.1.el9_3', '5.14.0-427.13.1.el9_4']],
];

function split(evr: string): { epoch: number; version: string; release: string } {
  const m = /^(?:(\d+):)?(.+?)(?:-([^-]+))?$/.exec(evr)!;
  return { epoch: Number(m[1] ?? 0), version: m[2]!, release: m[3] ?? '' };
}

function generate(): void {
  const rnd = prng(20261126);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  for (let i = 0; i < N; i++) {
    const family: PackageFamily = i % 5 === 4 ? 'rpm' : 'deb';
    const distro = family === 'rpm' ? RHEL9 : i % 7 === 0 ? { ...DEB12, versionId: '11', codename: 'bullseye' } : DEB12;
    const pool = family === 'rpm' ? RPM_POOL : DEB_POOL;
    const packages: InstalledPackage[] = [];
    for (const [name, src, versions] of pool) {
      if (rnd() < 0.2) continue;
      const evr = pick(versions);
      const binNmu = family === 'deb' && rnd() < 0.1 ? '+b1' : '';
      const v = split(evr + binNmu);
      const p = { name, ...v, arch: family === 'rpm' ? (name === 'kernel' && rnd() < 0.5 ? 'aarch64' : 'x86_64') : 'amd64', sourceName: src, sourceVersion: family === 'deb' ? evr : `${v.version}-${v.release}` };
      packages.push({ ...p, purl: purlOf(family, p, distro) });
    }
    // A few padding packages per target that no query names, so that lookups must use the index.
    for (let k = 0; k < 8; k++) {
      const p = { name: `pad${k}-${i % 50}`, epoch: 0, version: `1.${k}`, release: '1', arch: 'all', sourceName: `pad${k}`, sourceVersion: `1.${k}-1` };
      packages.push({ ...p, purl: purlOf(family, p, distro) });
    }
    fleet.push({
      identity: { kind: i % 3 === 0 ? 'image' : i % 3 === 1 ? 'commit' : 'deployment', name: `target-${i}`, id: `${i.toString(16).padStart(64, '0')}${i % 3 === 2 ? '.0' : ''}` },
      inventory: { family, packages: sortPackages(packages), distro, source: 'dpkg-status', databasePath: null },
    });
  }
}

const OSV = [
  { id: 'DSA-5514-1', aliases: ['CVE-2023-4911'], affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u3' }] }] }] },
  { id: 'DSA-5523-1', aliases: ['CVE-2023-38545'], affected: [{ package: { ecosystem: 'Debian:12', name: 'curl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '7.88.1-10+deb12u4' }] }] }] },
  { id: 'DLA-3682-1', aliases: ['CVE-2023-46218'], affected: [{ package: { ecosystem: 'Debian:11', name: 'curl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '7.88.1-10+deb12u5' }] }] }] },
  { id: 'DSA-9999-1', aliases: ['CVE-2024-0727'], affected: [{ package: { ecosystem: 'Debian', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '3.0.11-1~deb12u2' }, { fixed: '3.0.13-1~deb12u1' }] }] }] },
];
const UPDATEINFO = `<?xml version="1.0"?>
<updates>
  <update type="security"><id>RHSA-2024:2447</id><severity>Moderate</severity>
    <references><reference type="cve" id="CVE-2023-5678" href="x"/></references>
    <pkglist><collection><package name="openssl-libs" epoch="1" version="3.0.7" release="27.el9" arch="x86_64"/></collection></pkglist></update>
  <update type="security"><id>RHSA-2024:0346</id><severity>Important</severity>
    <references><reference type="cve" id="CVE-2023-6546" href="x"/></references>
    <pkglist><collection><package name="kernel" epoch="0" version="5.14.0" release="362.18.1.el9_3" arch="x86_64"/></collection></pkglist></update>
</updates>
`;

/** The oracle: every package of every target, compared directly. */
function oracleQuery(name: string, op: string | null, v: string | null, bySource = false): string[] {
  const out: string[] = [];
  for (const t of fleet) {
    for (const p of t.inventory.packages) {
      if ((bySource ? p.sourceName : p.name) !== name) continue;
      if (op && v) {
        const mine = bySource ? p.sourceVersion : packageEvr(p);
        const c = t.inventory.family === 'deb' ? compareDebVersionStrings(mine, v) : compareRpmEvrStrings(mine, v);
        const ok = { '<': c < 0, '<=': c <= 0, '=': c === 0, '>=': c >= 0, '>': c > 0, '!=': c !== 0 }[op];
        if (!ok) continue;
      }
      out.push(`${t.identity.id} ${p.name} ${packageEvr(p)} ${p.arch}`);
    }
  }
  return out.sort();
}

const hitKeys = (hits: QueryHit[]): string[] => hits.map((h) => `${h.target.id} ${h.package} ${h.version} ${h.arch}`).sort();

before(async () => {
  work = tmpdir('ingot-index-');
  generate();
  const advisories = path.join(work, 'adv.sqlite');
  adb = AdvisoryDb.open(advisories, { create: true });
  const o = parseAdvisories(Buffer.from(JSON.stringify(OSV)), 'osv.json');
  adb.apply('osv.json', o.format, 'x', o.advisories);
  const u = parseAdvisories(Buffer.from(UPDATEINFO), 'updateinfo.xml', { distro: 'rhel:9' });
  adb.apply('updateinfo.xml', u.format, 'y', u.advisories);
  sqlite = await FleetIndex.open(openSqlite(path.join(work, 'index.sqlite')));
  // A fresh database on the test server, so that runs never see each other's rows.
  pgUrl = testPostgresUrl();
  dbName = `ingot_test_${process.pid}_${Date.now() % 100000}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u2 = new URL(pgUrl);
  u2.pathname = `/${dbName}`;
  pgUrl = u2.toString();
  postgres = await FleetIndex.open(await openPostgres(pgUrl));
});

after(async () => {
  await sqlite?.close();
  await postgres?.close();
  adb?.close();
  if (dbName) {
    const admin = new pg.Client({ connectionString: testPostgresUrl() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    if (dbNameV1) await admin.query(`DROP DATABASE IF EXISTS ${dbNameV1}`);
    await admin.end();
  }
  cleanup(work);
});

test('10,000 targets go into both databases; both list them identically', async () => {
  for (const idx of [sqlite, postgres]) {
    const r = await idx.add(fleet);
    assert.equal(r.added, N);
    assert.equal(r.replaced, 0);
  }
  const a = await sqlite.targets();
  const b = await postgres.targets();
  assert.equal(a.length, N);
  assert.deepEqual(b, a);
});

const QUERIES: [string, string, string | null, string | null, boolean?][] = [
  ['bash', 'bash', null, null],
  ['bash < 5.2.15-2+deb12u1', 'bash', '<', '5.2.15-2+deb12u1'],
  ['bash << 5.2.15-2+b2', 'bash', '<', '5.2.15-2+b2'],
  ['libc6 >= 2.36-9+deb12u3', 'libc6', '>=', '2.36-9+deb12u3'],
  ['vim-tiny > 1:9.1-1', 'vim-tiny', '>', '1:9.1-1'],
  ['vim-tiny = 2:9.0.1378-2+b1', 'vim-tiny', '=', '2:9.0.1378-2+b1'],
  ['zlib1g != 1:1.2.13.dfsg-1', 'zlib1g', '!=', '1:1.2.13.dfsg-1'],
  ['curl <= 8.5.0-2~bpo12+1', 'curl', '<=', '8.5.0-2~bpo12+1'],
  ['openssl-libs < 1:3.0.7-27.el9', 'openssl-libs', '<', '1:3.0.7-27.el9'],
  ['sudo < 1.9.5p2-10.el9_3', 'sudo', '<', '1.9.5p2-10.el9_3'],
  ['source:glibc < 2.36-9+deb12u4', 'glibc', '<', '2.36-9+deb12u4', true],
  ['nosuchpackage', 'nosuchpackage', null, null],
];

for (const [expr, name, op, v, bySource] of QUERIES) {
  test(`query '${expr}': SQLite = PostgreSQL = the oracle`, async () => {
    const want = oracleQuery(name, op, v, bySource);
    const a = await sqlite.query(expr);
    const b = await postgres.query(expr);
    assert.deepEqual(hitKeys(a), want);
    assert.deepEqual(b, a);
  });
}

/** The oracle for the advisories above, written out rule by rule. */
function oracleAffected(cve: string): string[] {
  const out: string[] = [];
  for (const t of fleet) {
    const deb12 = t.inventory.family === 'deb' && t.inventory.distro.versionId === '12';
    const deb11 = t.inventory.family === 'deb' && t.inventory.distro.versionId === '11';
    for (const p of t.inventory.packages) {
      let hit = false;
      const ds = (x: string): number => compareDebVersionStrings(p.sourceVersion, x);
      if (cve === 'CVE-2023-4911') hit = deb12 && p.sourceName === 'glibc' && ds('2.36-9+deb12u3') < 0;
      if (cve === 'CVE-2023-38545') hit = deb12 && p.sourceName === 'curl' && ds('7.88.1-10+deb12u4') < 0;
      if (cve === 'CVE-2023-46218') hit = deb11 && p.sourceName === 'curl' && ds('7.88.1-10+deb12u5') < 0;
      if (cve === 'CVE-2024-0727') hit = t.inventory.family === 'deb' && p.sourceName === 'openssl' && ds('3.0.11-1~deb12u2') >= 0 && ds('3.0.13-1~deb12u1') < 0;
      if (cve === 'CVE-2023-5678') hit = t.inventory.family === 'rpm' && p.name === 'openssl-libs' && p.arch === 'x86_64' && compareRpmEvrStrings(packageEvr(p), '1:3.0.7-27.el9') < 0;
      if (cve === 'CVE-2023-6546') hit = t.inventory.family === 'rpm' && p.name === 'kernel' && p.arch === 'x86_64' && compareRpmEvrStrings(packageEvr(p), '5.14.0-362.18.1.el9_3') < 0;
      if (hit) out.push(`${t.identity.id} ${p.name} ${packageEvr(p)} ${p.arch}`);
    }
  }
  return out.sort();
}

for (const cve of ['CVE-2023-4911', 'CVE-2023-38545', 'CVE-2023-46218', 'CVE-2024-0727', 'CVE-2023-5678', 'CVE-2023-6546', 'CVE-2000-0001']) {
  test(`affected ${cve}: SQLite = PostgreSQL = the oracle`, async () => {
    const want = oracleAffected(cve);
    if (cve !== 'CVE-2000-0001') assert.ok(want.length > 100, `${cve} hits ${want.length}`);
    const a = await sqlite.affected(adb, cve);
    const b = await postgres.affected(adb, cve);
    assert.deepEqual(hitKeys(a), want);
    assert.deepEqual(b, a);
  });
}

test('answers come in JavaScript string order on both, whatever the collation, across many matching versions', async () => {
  // 450 directory targets, each with its own version of one package (450 matching versions:
  // more than one IN list), with ids whose UTF-8 byte order (SQLite's) and UTF-16 order
  // (JavaScript's) disagree: U+1F600 sorts above U+FFFD in UTF-8, below it in UTF-16.
  const extra: Target[] = [];
  for (let i = 0; i < 450; i++) {
    const p = { name: 'manyver', epoch: 0, version: `1.${i}`, release: '1', arch: 'amd64', sourceName: 'manyver', sourceVersion: `1.${i}-1` };
    const id = `/fleet/${i % 2 ? '\u{1F600}' : '\uFFFD'}${String(i % 7)}/${i}`;
    extra.push({ identity: { kind: 'directory', name: id, id }, inventory: { family: 'deb', packages: [{ ...p, purl: purlOf('deb', p, DEB12) }], distro: DEB12, source: 'dpkg-status', databasePath: null } });
  }
  const key = (h: QueryHit): string => `${h.target.kind}\0${h.target.id}\0${h.package}\0${h.arch}\0${h.version}`;
  for (const idx of [sqlite, postgres]) await idx.add(extra);
  for (const [expr, min] of [['manyver', -1], ['manyver >= 1.200-1', 200]] as const) {
    const want = extra
      .filter((_, i) => i >= min)
      .map((t) => `directory\0${t.identity.id}\0manyver\0amd64\0${packageEvr(t.inventory.packages[0]!)}`)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const a = await sqlite.query(expr);
    assert.deepEqual(a.map(key), want, expr);
    assert.deepEqual(await postgres.query(expr), a, expr);
  }
  for (const idx of [sqlite, postgres]) assert.equal(await idx.remove(extra.map((t) => t.identity.id)), extra.length);
});

test('re-adding a target replaces it on both; the CLI answers the same on both databases', async () => {
  const t = fleet[3]!;
  const changed: Target = { ...t, inventory: { ...t.inventory, packages: t.inventory.packages.filter((p) => p.name !== 'bash') } };
  for (const idx of [sqlite, postgres]) {
    const r = await idx.add([changed]);
    assert.deepEqual([r.added, r.replaced], [0, 1]);
    assert.ok(!(await idx.query('bash')).some((h) => h.target.id === t.identity.id));
  }
  // The CLI on a directory target, against both databases.
  const root = path.join(work, 'root');
  fs.mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), 'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u1\nMaintainer: x <x@example.org>\nDescription: GNU C Library\n');
  const env = { INGOT_ADVISORY_DB: adb.file };
  const answers: string[] = [];
  for (const db of [path.join(work, 'index.sqlite'), pgUrl]) {
    const add = ingot(['--json', 'index', 'add', '--db', db, root]);
    assert.equal(add.status, 0, add.stderr);
    const q = ingot(['--json', 'index', 'query', '--db', db, 'libc6 < 2.36-9+deb12u3'], { env });
    assert.equal(q.status, 0, q.stderr);
    const aff = ingot(['--json', 'index', 'affected', '--db', db, 'CVE-2023-4911'], { env });
    assert.equal(aff.status, 0, aff.stderr);
    assert.ok((JSON.parse(aff.stdout) as { hits: { target: { id: string } }[] }).hits.some((h) => h.target.id === root));
    answers.push(q.stdout + aff.stdout);
  }
  assert.equal(answers[1], answers[0]);
});

/** Package versions that no target carries (none may be left after a replace or a remove). */
async function unusedVersions(db: SqlDb): Promise<number> {
  const r = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ingot_package_versions v WHERE NOT EXISTS (SELECT 1 FROM ingot_target_packages l WHERE l.pkg = v.id)`);
  return Number(r[0]!.n);
}

const countVersions = async (db: SqlDb): Promise<number> => Number((await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ingot_package_versions`))[0]!.n);

test('replacing and removing targets on both leaves no package version that no target carries', async () => {
  const base = fleet[0]!;
  const only = { name: 'only-here', epoch: 0, version: '1.0', release: '1', arch: 'amd64', sourceName: 'only-here', sourceVersion: '1.0-1' };
  const lone: Target = { identity: { kind: 'image', name: 'lone', id: 'f'.repeat(64) }, inventory: { ...base.inventory, packages: [...base.inventory.packages, { ...only, purl: purlOf('deb', only, DEB12) }] } };
  const t = fleet[5]!;
  const before = await sqlite.targets();
  for (const idx of [sqlite, postgres]) {
    assert.equal(await unusedVersions(idx.db), 0, 'after the replace above');
    const n0 = await countVersions(idx.db);
    await idx.add([lone]);
    assert.equal(await countVersions(idx.db), n0 + 1);
    assert.equal((await idx.query('only-here')).length, 1);
    // Replaced by an inventory without it: the version goes.
    await idx.add([{ ...lone, inventory: base.inventory }]);
    assert.equal(await countVersions(idx.db), n0);
    await idx.add([lone]);
    assert.equal(await idx.remove(['lone']), 1);
    assert.equal(await countVersions(idx.db), n0);
    assert.equal((await idx.query('only-here')).length, 0);
    assert.equal(await idx.remove([t.identity.name]), 1);
    assert.equal(await unusedVersions(idx.db), 0, 'after the removes');
    assert.ok(!(await idx.query('bash')).some((h) => h.target.id === t.identity.id));
  }
  const a = await sqlite.targets();
  assert.equal(a.length, before.length - 1);
  assert.deepEqual(await postgres.targets(), a);
});

test('an index of schema 1 is converted when opened and answers as one built anew (SQLite and PostgreSQL)', async () => {
  // The first 600 targets, and one whose distribution is unknown (NULL in ingot_targets).
  const some: Target[] = [...fleet.slice(0, 600), { ...fleet[1]!, identity: { kind: 'directory', name: '/nodistro', id: '/nodistro' }, inventory: { ...fleet[1]!.inventory, distro: { id: null, versionId: null, codename: null, prettyName: null } } }];
  const u = new URL(pgUrl);
  dbNameV1 = `${dbName}_v1`;
  const admin = new pg.Client({ connectionString: testPostgresUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbNameV1}`);
  await admin.end();
  u.pathname = `/${dbNameV1}`;
  const answers: unknown[] = [];
  for (const db of [openSqlite(path.join(work, 'v1.sqlite')), await openPostgres(u.toString())]) {
    // Schema 1 as ingot wrote it: one row per package of each target.
    const idCol = db.kind === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
    await db.exec(`CREATE TABLE ingot_index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    await db.exec(`CREATE TABLE ingot_targets (id ${idCol}, ident TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT NOT NULL, target_id TEXT NOT NULL, family TEXT NOT NULL, distro TEXT, packages INTEGER NOT NULL)`);
    await db.exec(`CREATE TABLE ingot_packages (target BIGINT NOT NULL REFERENCES ingot_targets(id) ON DELETE CASCADE, name TEXT NOT NULL, epoch INTEGER NOT NULL, version TEXT NOT NULL, release TEXT NOT NULL, arch TEXT NOT NULL, source_name TEXT NOT NULL, source_version TEXT NOT NULL, purl TEXT NOT NULL)`);
    await db.query(`INSERT INTO ingot_index_meta (key, value) VALUES (?, ?)`, ['schema', '1']);
    await db.transaction(async (tx) => {
      for (const t of some) {
        const d = t.inventory.distro.id ? `${t.inventory.distro.id}:${t.inventory.distro.versionId!.split('.')[0]}` : null;
        const r = await tx.query<{ id: number | string }>(`INSERT INTO ingot_targets (ident, kind, name, target_id, family, distro, packages) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, [`${t.identity.kind}:${t.identity.id}`, t.identity.kind, t.identity.name, t.identity.id, t.inventory.family, d, t.inventory.packages.length]);
        const ps = t.inventory.packages;
        const params: unknown[] = [];
        for (const p of ps) params.push(Number(r[0]!.id), p.name, p.epoch, p.version, p.release, p.arch, p.sourceName, p.sourceVersion, p.purl);
        await tx.query(`INSERT INTO ingot_packages VALUES ${ps.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`, params);
      }
    });
    const migrated = await FleetIndex.open(db);
    // Built anew by this ingot from the same targets (SQLite = PostgreSQL is shown above).
    const fresh = await FleetIndex.open(openSqlite(path.join(work, `fresh-${db.kind}.sqlite`)));
    await fresh.add(some);
    try {
      assert.deepEqual((await db.query<{ value: string }>(`SELECT value FROM ingot_index_meta WHERE key = ?`, ['schema']))[0]!.value, '2');
      await assert.rejects(db.query(`SELECT count(*) FROM ingot_packages`));
      const mine: unknown[] = [await migrated.targets()];
      assert.deepEqual(mine[0], await fresh.targets());
      for (const q of ['bash', 'bash < 5.2.15-2+deb12u1', 'source:glibc < 2.36-9+deb12u4', 'kernel >= 5.14.0-362.18.1.el9_3']) {
        const a = await migrated.query(q);
        assert.ok(a.length > 0, q);
        assert.deepEqual(a, await fresh.query(q), q);
        mine.push(a);
      }
      assert.ok((await migrated.query('bash')).some((h) => h.target.id === '/nodistro'));
      for (const cve of ['CVE-2023-4911', 'CVE-2024-0727', 'CVE-2023-5678']) {
        const a = await migrated.affected(adb, cve);
        assert.ok(a.length > 0, cve);
        assert.deepEqual(a, await fresh.affected(adb, cve), cve);
        mine.push(a);
      }
      answers.push(mine);
    } finally {
      await migrated.close();
      await fresh.close();
    }
  }
  assert.deepEqual(answers[1], answers[0]);
});
