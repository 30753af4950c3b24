/**
 * Bad input gets a stable code, a message naming the file (and offset or record), exit status
 * from the registry, no stack trace, and leaves the advisory database and the fleet index as
 * they were: corrupt rpmdb files of all three backends, broken dpkg status files, advisory
 * files with invalid JSON, unknown ecosystems or versions the format rejects, bad queries,
 * targets that do not exist.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ERROR_CODES, type ErrorCode } from '../../src/core/codes.js';
import { cleanup, ingot, ingotOk, tmpdir } from '../helpers.js';

let work = '';
let adb = '';
let idx = '';
let good = '';

function fails(args: string[], code: ErrorCode, message?: RegExp): { error: Record<string, unknown> } {
  const r = ingot(['--json', ...args]);
  assert.equal(r.status, ERROR_CODES[code].exit, `${args.join(' ')}: ${r.stderr}`);
  const e = JSON.parse(r.stderr) as { error: Record<string, unknown> };
  assert.equal(e.error['code'], code, r.stderr);
  if (message) assert.match(String(e.error['message']), message);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  const text = ingot(args);
  assert.match(text.stderr, new RegExp(`^error\\[${code}\\]: `));
  return e;
}

function root(name: string, files: Record<string, string | Buffer>): string {
  const r = path.join(work, name);
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(r, p)), { recursive: true });
    fs.writeFileSync(path.join(r, p), c);
  }
  return r;
}

const STATUS = 'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\nSource: bash (5.2.15-2)\nMaintainer: x <x@example.org>\nDescription: shell\n';

/** A valid rpmdb.sqlite with one header (a minimal region-carrying header built by hand). */
function rpmHeaderBlob(): Buffer {
  // Entries: region (63, BIN 16), NAME 1000, VERSION 1001, RELEASE 1002, ARCH 1022, SOURCERPM 1044.
  const strings: [number, string][] = [
    [1000, 'hello'],
    [1001, '2.12'],
    [1002, '1'],
    [1022, 'x86_64'],
    [1044, 'hello-2.12-1.src.rpm'],
  ];
  const il = strings.length + 1;
  let data = Buffer.alloc(0);
  const index: Buffer[] = [];
  for (const [tag, s] of strings) {
    const e = Buffer.alloc(16);
    e.writeUInt32BE(tag, 0);
    e.writeUInt32BE(6, 4);
    e.writeInt32BE(data.length, 8);
    e.writeUInt32BE(1, 12);
    index.push(e);
    data = Buffer.concat([data, Buffer.from(`${s}\0`)]);
  }
  const trailerOff = data.length;
  const trailer = Buffer.alloc(16);
  trailer.writeUInt32BE(63, 0);
  trailer.writeUInt32BE(7, 4);
  trailer.writeInt32BE(-il * 16, 8);
  trailer.writeUInt32BE(16, 12);
  data = Buffer.concat([data, trailer]);
  const region = Buffer.alloc(16);
  region.writeUInt32BE(63, 0);
  region.writeUInt32BE(7, 4);
  region.writeInt32BE(trailerOff, 8);
  region.writeUInt32BE(16, 12);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(il, 0);
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, region, ...index, data]);
}

function sqliteDb(file: string, blobs: Buffer[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
  for (const b of blobs) db.prepare('INSERT INTO Packages (blob) VALUES (?)').run(b);
  db.close();
}

before(() => {
  work = tmpdir('ingot-inv-bad-');
  adb = path.join(work, 'adv.sqlite');
  idx = path.join(work, 'index.sqlite');
  good = root('good', { 'var/lib/dpkg/status': STATUS, 'etc/os-release': 'ID=debian\nVERSION_ID=12\n' });
  fs.writeFileSync(path.join(work, 'good.osv.json'), JSON.stringify({ id: 'DSA-5514-1', aliases: ['CVE-2023-4911'], affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u3' }] }] }] }));
  ingotOk(['advisories', 'sync', '--advisory-db', adb, path.join(work, 'good.osv.json')]);
  ingotOk(['index', 'add', '--db', idx, good]);
});

after(() => cleanup(work));

test('the valid header builder reads (the corrupt cases below differ only by their damage)', () => {
  const r = path.join(work, 'rpm-ok');
  sqliteDb(path.join(r, 'var/lib/rpm/rpmdb.sqlite'), [rpmHeaderBlob()]);
  const l = JSON.parse(ingotOk(['--json', 'db', 'list', r])) as { packages: { name: string; evr: string }[] };
  assert.deepEqual(l.packages.map((p) => `${p.name} ${p.evr}`), ['hello 2.12-1']);
});

test('corrupt rpmdb: not SQLite, a truncated header, a damaged Berkeley DB, a damaged ndb', () => {
  const notSqlite = root('rpm-garbage', { 'usr/lib/sysimage/rpm/rpmdb.sqlite': Buffer.from('this is not a database at all, just text that goes on and on '.repeat(100)) });
  fails(['db', 'list', notSqlite], 'PKGDB_CORRUPT', /usr\/lib\/sysimage\/rpm\/rpmdb\.sqlite: not an SQLite database|cannot read the Packages table/);

  const r = path.join(work, 'rpm-truncated');
  sqliteDb(path.join(r, 'var/lib/rpm/rpmdb.sqlite'), [rpmHeaderBlob(), rpmHeaderBlob().subarray(0, 40)]);
  const e = fails(['db', 'list', r], 'PKGDB_CORRUPT', /package 2: /);
  assert.equal(e.error['package'], '2');

  const noTable = path.join(work, 'rpm-notable');
  fs.mkdirSync(path.join(noTable, 'var/lib/rpm'), { recursive: true });
  new Database(path.join(noTable, 'var/lib/rpm/rpmdb.sqlite')).exec('CREATE TABLE x (y)');
  fails(['db', 'list', noTable], 'PKGDB_CORRUPT', /Packages table/);

  const bdbMagic = Buffer.alloc(8192);
  fails(['db', 'list', root('bdb-magic', { 'var/lib/rpm/Packages': bdbMagic })], 'PKGDB_CORRUPT', /not a Berkeley DB hash database/);
  // A hash metadata page that declares more pages than the file holds.
  const meta = Buffer.alloc(4096);
  meta.writeUInt32LE(0x061561, 12);
  meta.writeUInt32LE(9, 16);
  meta.writeUInt32LE(4096, 20);
  meta.writeUInt32LE(40, 32);
  fails(['db', 'list', root('bdb-short', { 'var/lib/rpm/Packages': meta })], 'PKGDB_CORRUPT', /truncated/);

  const ndb = Buffer.alloc(4096 + 64);
  ndb.write('RpmP', 0, 'latin1');
  ndb.writeUInt32LE(1, 12);
  for (let o = 32; o < 4096; o += 16) ndb.write('Slot', o, 'latin1');
  ndb.writeUInt32LE(1, 36);
  ndb.writeUInt32LE(256, 40);
  ndb.writeUInt32LE(4, 44);
  ndb.write('BlbS', 4096, 'latin1');
  ndb.writeUInt32LE(1, 4100);
  ndb.writeUInt32LE(20, 4108);
  fails(['db', 'list', root('ndb-bad', { 'usr/lib/sysimage/rpm/Packages.db': ndb })], 'PKGDB_CORRUPT', /package 1: /);
});

test('broken dpkg status: no Package, a bad Status, an invalid version, not deb822', () => {
  fails(['db', 'list', root('dpkg-nopkg', { 'var/lib/dpkg/status': 'Status: install ok installed\nVersion: 1.0\n' })], 'PKGDB_CORRUPT', /var\/lib\/dpkg\/status: stanza 1: a stanza without Package/);
  fails(['db', 'list', root('dpkg-status', { 'var/lib/dpkg/status': STATUS.replace('install ok installed', 'install ok sleeping') })], 'PKGDB_CORRUPT', /bad Status/);
  fails(['db', 'list', root('dpkg-version', { 'var/lib/dpkg/status': STATUS.replace('5.2.15-2+b2', '5.2.15-') })], 'PKGDB_CORRUPT', /invalid version '5\.2\.15-'/);
  fails(['db', 'list', root('dpkg-syntax', { 'var/lib/dpkg/status': 'Package bash\nno colon here\n' })], 'PKGDB_CORRUPT');
});

test('targets that do not exist or hold no database', () => {
  fails(['db', 'list', path.join(work, 'nope')], 'TARGET_NOT_FOUND');
  fails(['db', 'list', 'dir:' + root('empty', { 'etc/hostname': 'x\n' })], 'PKGDB_NOT_FOUND');
  const noRepo = ingot(['db', 'list', 'some/ref'], { env: { INGOT_REPO: '' } });
  assert.equal(noRepo.status, 2);
  assert.match(noRepo.stderr, /^error\[TARGET_INVALID\]/);
  fails(['db', 'list', `deployment:${work}`], 'TARGET_NOT_FOUND', /not an OSTree sysroot/);
});

test('bad advisory files change nothing in the advisory database', () => {
  const before = ingotOk(['--json', 'advisories', 'list', '--advisory-db', adb]);
  const cases: [string, string, ErrorCode, RegExp][] = [
    ['broken.json', '{"id": "DSA-1", "affected": [', 'ADVISORY_INVALID', /broken\.json: not valid JSON/],
    ['pypi.json', JSON.stringify({ id: 'PYSEC-2024-1', affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, ranges: [] }] }), 'ADVISORY_ECOSYSTEM_UNKNOWN', /ecosystem 'PyPI'/],
    ['version.json', JSON.stringify({ id: 'DSA-2', affected: [{ package: { ecosystem: 'Debian:12', name: 'bash' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '5.2.15-' }] }] }] }), 'ADVISORY_INVALID', /'5\.2\.15-' is not a valid Debian version/],
    ['events.json', JSON.stringify({ id: 'DSA-3', affected: [{ package: { ecosystem: 'Debian:12', name: 'bash' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0', fixed: '1.0' }] }] }] }), 'ADVISORY_INVALID', /exactly one of/],
    ['tracker.json', JSON.stringify({ bash: { 'CVE-2022-3715': { releases: { bookworm: { status: 'resolved' } } } } }), 'ADVISORY_INVALID', /resolved without a fixed_version/],
    ['updateinfo.xml', '<updates><update type="security"><id>X</id><pkglist><collection><package name="a"/></collection></pkglist></update></updates>', 'ADVISORY_INVALID', /needs name, version and release/],
    ['notxml.xml', '<updates><update>', 'ADVISORY_INVALID', /not well-formed XML/],
    ['other.json', JSON.stringify({ hello: 'world' }), 'ADVISORY_INVALID', /neither OSV/],
  ];
  for (const [name, content, code, re] of cases) {
    fs.writeFileSync(path.join(work, name), content);
    // A good (changed) source given first is not applied either: all are parsed before any is applied.
    fs.writeFileSync(path.join(work, 'good2.osv.json'), JSON.stringify({ id: 'DSA-7777-1', affected: [] }));
    fails(['advisories', 'sync', '--advisory-db', adb, path.join(work, 'good2.osv.json'), path.join(work, name)], code, re);
  }
  assert.equal(ingotOk(['--json', 'advisories', 'list', '--advisory-db', adb]), before);
  fails(['scan', '--advisory-db', path.join(work, 'missing.sqlite'), good], 'ADVISORY_DB_INVALID', /no advisory database/);
  fs.writeFileSync(path.join(work, 'plain.sqlite'), '');
  new Database(path.join(work, 'plain.sqlite')).exec('CREATE TABLE t (x)');
  fails(['advisories', 'list', '--advisory-db', path.join(work, 'plain.sqlite')], 'ADVISORY_DB_INVALID', /not an ingot advisory database/);
});

test('a bad target among good ones, bad queries and versions: the index is unchanged', () => {
  const before = ingotOk(['--json', 'index', 'list', '--db', idx]);
  const corrupt = root('dpkg-corrupt-2', { 'var/lib/dpkg/status': STATUS.replace('Version: 5.2.15-2+b2', 'Version: :1') });
  const other = root('good-2', { 'var/lib/dpkg/status': STATUS.replace('bash', 'dash') });
  fails(['index', 'add', '--db', idx, other, corrupt], 'PKGDB_CORRUPT');
  fails(['index', 'add', '--db', idx, other, path.join(work, 'nope')], 'TARGET_NOT_FOUND');
  assert.equal(ingotOk(['--json', 'index', 'list', '--db', idx]), before);
  fails(['index', 'query', '--db', idx, 'bash <'], 'INDEX_QUERY_INVALID', /cannot parse the query 'bash <'/);
  fails(['index', 'query', '--db', idx, 'bash ~= 1'], 'INDEX_QUERY_INVALID');
  fails(['index', 'query', '--db', idx, 'bash < 5.2.15-'], 'VERSION_INVALID');
  fails(['index', 'query', '--db', 'postgres://nobody@127.0.0.1:1/none', 'bash'], 'INDEX_DB_INVALID');
  assert.equal(ingotOk(['--json', 'index', 'list', '--db', idx]), before);
});
