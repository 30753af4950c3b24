/**
 * Known answers: advisories written for this test (real CVE ids, real Debian and RHEL
 * versions) against trees whose package databases are written as dpkg and rpm write them
 * (dpkg status stanzas checked with dpkg-query; an rpmdb written by the real `rpm -i --justdb`
 * from packages built by rpmbuild). `ingot scan` must flag exactly the packages whose installed
 * version is below the fixed version, and not:
 *
 * - a binNMU of a fixed source (`5.2.15-2+b2` of source `5.2.15-2`), a binary named
 *   differently from its source (libc6 of glibc) compared by its own version;
 * - a backported fix (curl 7.88.1-10+deb12u4 carries the fix upstream made in 8.4.0);
 * - a package marked not affected (`fixed_version "0"`) or unimportant in this release;
 * - a package of another release (Debian:13 records against a Debian 12 tree, and bullseye
 *   entries only for a Debian 11 tree);
 * - a removed package (dpkg `config-files` state);
 * - RPM: epochs (1:3.0.7-24 against a fix at 0:3.0.8), source-RPM advisories compared
 *   without epoch (perl-Errno of perl-5.32.1-481.el9 against 4:5.32.1-481.el9), updateinfo
 *   architecture limits and bug fix updates, RHEL 8 records against a RHEL 9 tree.
 *
 * Then incremental sync (unchanged sources skipped, changed ones applied exactly), and
 * `--fail-on` thresholds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, ingot, ingotOk, run, runOk, tmpdir } from '../helpers.js';
import { FixtureServer } from '../http-fixture.js';
import { spawn } from 'node:child_process';
import { INGOT } from '../helpers.js';

let work = '';
let adb = '';

const OS_RELEASE = (v: string, code: string): string => `PRETTY_NAME="Debian GNU/Linux ${v} (${code})"\nNAME="Debian GNU/Linux"\nVERSION_ID="${v}"\nVERSION_CODENAME=${code}\nID=debian\n`;

type Pkg = [name: string, version: string, source?: string, status?: string];

function stanza([name, version, source, status]: Pkg): string {
  return [
    `Package: ${name}`,
    `Status: ${status ?? 'install ok installed'}`,
    'Priority: optional',
    'Maintainer: Test <test@example.org>',
    'Architecture: amd64',
    ...(source ? [`Source: ${source}`] : []),
    `Version: ${version}`,
    `Description: ${name}`,
    '',
  ].join('\n');
}

function debTree(name: string, osRelease: string, pkgs: Pkg[]): string {
  const root = path.join(work, name);
  fs.mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/lib/os-release'), osRelease);
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), pkgs.map(stanza).join('\n'));
  // dpkg reads the file as written.
  const q = runOk('dpkg-query', ['--admindir', path.join(root, 'var/lib/dpkg'), '-W', '-f', '${Package} ${Version} ${source:Package} ${source:Version}\n']);
  assert.equal(q.trim().split('\n').length, pkgs.length);
  return root;
}

const BOOKWORM_VULNERABLE: Pkg[] = [
  ['libc6', '2.36-9+deb12u1', 'glibc'],
  ['libc-bin', '2.36-9+deb12u1', 'glibc'],
  ['curl', '7.88.1-10+deb12u4'],
  ['libcurl4', '7.88.1-10+deb12u4', 'curl'],
  ['libcurl3-gnutls', '7.88.1-10+deb12u1', 'curl', 'deinstall ok config-files'],
  ['bash', '5.2.15-2+b2', 'bash (5.2.15-2)'],
  ['zlib1g', '1:1.2.13.dfsg-1', 'zlib'],
  ['openssl', '3.0.11-1~deb12u2'],
  ['libssl3', '3.0.11-1~deb12u2', 'openssl'],
  ['tar', '1.34+dfsg-1.2'],
  ['sudo', '1.9.13p3-1+deb12u1'],
  ['less', '590-2'],
];

const BOOKWORM_FIXED: Pkg[] = [
  ['libc6', '2.36-9+deb12u3+b1', 'glibc (2.36-9+deb12u3)'],
  ['curl', '7.88.1-10+deb12u5'],
  ['libcurl4', '7.88.1-10+deb12u5', 'curl'],
  ['bash', '5.2.15-2+b2', 'bash (5.2.15-2)'],
  ['openssl', '3.0.13-1~deb12u1'],
  ['tar', '1.34+dfsg-1.2'],
  ['less', '590-2.1~deb12u1'],
];

const OSV_DEBIAN = [
  {
    id: 'DSA-5514-1',
    modified: '2023-10-03T00:00:00Z',
    aliases: ['CVE-2023-4911'],
    summary: 'glibc security update',
    affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u3' }] }] }],
  },
  {
    id: 'DSA-5523-1',
    modified: '2023-10-11T00:00:00Z',
    aliases: ['CVE-2023-38545', 'CVE-2023-38546'],
    summary: 'curl security update',
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    affected: [{ package: { ecosystem: 'Debian:12', name: 'curl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '7.88.1-10+deb12u4' }] }] }],
  },
  {
    id: 'DEBIAN-CVE-2025-32462',
    modified: '2025-07-01T00:00:00Z',
    aliases: ['CVE-2025-32462'],
    affected: [{ package: { ecosystem: 'Debian:13', name: 'sudo' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.9.16p2-3' }] }] }],
  },
];

const TRACKER = {
  curl: { 'CVE-2023-46218': { description: 'cookie mixed case PSL bypass', releases: { bookworm: { status: 'resolved', fixed_version: '7.88.1-10+deb12u5', urgency: 'medium', repositories: { bookworm: '7.88.1-10+deb12u5' } } } } },
  bash: { 'CVE-2022-3715': { description: 'heap buffer overflow in valid_parameter_transform', releases: { bookworm: { status: 'resolved', fixed_version: '5.2.15-2', urgency: 'low' } } } },
  zlib: { 'CVE-2023-45853': { description: 'MiniZip integer overflow', releases: { bookworm: { status: 'open', urgency: 'unimportant', repositories: { bookworm: '1:1.2.13.dfsg-1' } } } } },
  openssl: {
    'CVE-2023-5363': { releases: { bookworm: { status: 'resolved', fixed_version: '3.0.11-1~deb12u2', urgency: 'not yet assigned' } } },
    'CVE-2024-0727': { releases: { bookworm: { status: 'resolved', fixed_version: '3.0.13-1~deb12u1', urgency: 'low' } } },
  },
  tar: { 'CVE-2022-48303': { releases: { bookworm: { status: 'resolved', fixed_version: '0', urgency: 'unimportant' }, bullseye: { status: 'open', urgency: 'low' } } } },
  less: { 'CVE-2024-32487': { releases: { bookworm: { status: 'resolved', fixed_version: '590-2.1~deb12u1', urgency: 'medium' }, trixie: { status: 'resolved', fixed_version: '608-2', urgency: 'medium' } } } },
};

interface ScanJson {
  targets: { target: { kind: string; id: string }; distro: string | null; findings: { package: string; advisory: string; cves: string[]; fixed: string | null; severity: string; installed: string; matchedBy: string }[] }[];
}

function scan(targets: string[], extra: string[] = []): { json: ScanJson; status: number } {
  const r = ingot(['--json', 'scan', '--advisory-db', adb, ...extra, ...targets]);
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return { json: JSON.parse(r.stdout) as ScanJson, status: r.status };
}

const pairs = (t: ScanJson['targets'][number]): string[] => t.findings.map((f) => `${f.package} ${f.advisory}`).sort();

before(() => {
  work = tmpdir('ingot-scan-');
  adb = path.join(work, 'advisories.sqlite');
  fs.writeFileSync(path.join(work, 'debian.osv.json'), JSON.stringify(OSV_DEBIAN, null, 1));
  fs.writeFileSync(path.join(work, 'tracker.json'), JSON.stringify(TRACKER));
  const r = JSON.parse(ingotOk(['--json', 'advisories', 'sync', '--advisory-db', adb, path.join(work, 'debian.osv.json'), path.join(work, 'tracker.json')])) as { sources: { format: string; added: number }[] };
  assert.deepEqual(r.sources.map((s) => [s.format, s.added]), [['osv', 3], ['debian-tracker', 7]]);
});

after(() => cleanup(work));

test('Debian 12: exactly the packages below their fixed version (by source), nothing else', () => {
  const root = debTree('bookworm', OS_RELEASE('12', 'bookworm'), BOOKWORM_VULNERABLE);
  const { json, status } = scan([root]);
  assert.equal(status, 0, 'no --fail-on: exit 0');
  const t = json.targets[0]!;
  assert.equal(t.distro, 'debian:12');
  assert.deepEqual(pairs(t), [
    'curl DEBIAN-CVE-2023-46218',
    'less DEBIAN-CVE-2024-32487',
    'libc-bin DSA-5514-1',
    'libc6 DSA-5514-1',
    'libcurl4 DEBIAN-CVE-2023-46218',
    'libssl3 DEBIAN-CVE-2024-0727',
    'openssl DEBIAN-CVE-2024-0727',
  ]);
  const libc = t.findings.find((f) => f.package === 'libc6')!;
  assert.deepEqual([libc.cves, libc.fixed, libc.installed, libc.matchedBy], [['CVE-2023-4911'], '2.36-9+deb12u3', '2.36-9+deb12u1', 'source']);
  assert.equal(t.findings.find((f) => f.package === 'curl')!.severity, 'medium');
  // The text output names the package, the installed version, the CVE and the fix.
  const text = ingotOk(['scan', '--advisory-db', adb, root]);
  assert.match(text, /libc6\s+2\.36-9\+deb12u1\s+DSA-5514-1 \(CVE-2023-4911\)\s+fixed: 2\.36-9\+deb12u3/);
});

test('Debian 12 with the fixes (a binNMU of the fixed source included): no finding', () => {
  const root = debTree('bookworm-fixed', OS_RELEASE('12', 'bookworm'), BOOKWORM_FIXED);
  const { json, status } = scan([root], ['--fail-on', 'any']);
  assert.deepEqual(json.targets[0]!.findings, []);
  assert.equal(status, 0);
});

test('the same packages on Debian 11 match only the bullseye entries', () => {
  const root = debTree('bullseye', OS_RELEASE('11', 'bullseye'), BOOKWORM_VULNERABLE);
  const t = scan([root]).json.targets[0]!;
  assert.equal(t.distro, 'debian:11');
  assert.deepEqual(pairs(t), ['tar DEBIAN-CVE-2022-48303']);
  assert.equal(t.findings[0]!.fixed, null, 'open: no fix yet');
  // --distro overrides os-release.
  assert.deepEqual(pairs(scan([root], ['--distro', 'debian:12']).json.targets[0]!).length, 7);
});

test('--fail-on: exit 1 at or above the threshold, 0 below', () => {
  const root = path.join(work, 'bookworm');
  assert.equal(scan([root], ['--fail-on', 'high']).status, 0, 'the worst finding is medium');
  assert.equal(scan([root], ['--fail-on', 'medium']).status, 1);
  assert.equal(scan([root], ['--fail-on', 'any']).status, 1);
  const bad = ingot(['scan', '--advisory-db', adb, '--fail-on', 'severe', root]);
  assert.equal(bad.status, 2);
});

test('incremental sync: an unchanged source is skipped, a changed one applies exactly its changes', () => {
  const again = JSON.parse(ingotOk(['--json', 'advisories', 'sync', '--advisory-db', adb, path.join(work, 'debian.osv.json'), path.join(work, 'tracker.json')])) as { sources: { skipped: boolean }[] };
  assert.deepEqual(again.sources.map((s) => s.skipped), [true, true]);
  // glibc's fix moves (a regression fix), sudo's record is withdrawn from the file, one is new.
  const changed = structuredClone(OSV_DEBIAN) as (typeof OSV_DEBIAN[number] & Record<string, unknown>)[];
  changed[0]!.affected[0]!.ranges[0]!.events[1] = { fixed: '2.36-9+deb12u4' };
  changed.splice(2, 1);
  changed.push({ id: 'DSA-5000-1', modified: '2024-01-01T00:00:00Z', aliases: ['CVE-2024-2961'], affected: [{ package: { ecosystem: 'Debian:12', name: 'glibc' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u7' }] }] }] });
  fs.writeFileSync(path.join(work, 'debian.osv.json'), JSON.stringify(changed));
  const r = JSON.parse(ingotOk(['--json', 'advisories', 'sync', '--advisory-db', adb, path.join(work, 'debian.osv.json')])) as { sources: { added: number; updated: number; removed: number; unchanged: number }[] };
  assert.deepEqual(r.sources[0], { ...r.sources[0], added: 1, updated: 1, removed: 1, unchanged: 1 });
  const t = scan([path.join(work, 'bookworm-fixed')]).json.targets[0]!;
  assert.deepEqual(pairs(t), ['libc6 DSA-5000-1', 'libc6 DSA-5514-1'], 'the fixed tree (deb12u3) is now below both');
  const list = JSON.parse(ingotOk(['--json', 'advisories', 'list', '--advisory-db', adb, '--cve', 'CVE-2025-32462'])) as { listed: unknown[] };
  assert.deepEqual(list.listed, []);
});

// ---------------------------------------------------------------------------------------------
// RPM

const SPECS: Record<string, string> = {
  openssl: `Name: openssl\nEpoch: 1\nVersion: 3.0.7\nRelease: 24.el9\nSummary: t\nLicense: ASL 2.0\n%description\nt\n%package libs\nSummary: t\n%description libs\nt\n%files\n%files libs\n`,
  perl: `Name: perl\nEpoch: 4\nVersion: 5.32.1\nRelease: 481.el9\nSummary: t\nLicense: GPL\n%description\nt\n%package -n perl-Errno\nEpoch: 0\nVersion: 1.30\nSummary: t\n%description -n perl-Errno\nt\n%files\n%files -n perl-Errno\n`,
  sudo: `Name: sudo\nVersion: 1.9.5p2\nRelease: 9.el9\nSummary: t\nLicense: ISC\n%description\nt\n%files\n`,
  kernel: `Name: kernel\nVersion: 5.14.0\nRelease: 362.el9\nSummary: t\nLicense: GPL\n%description\nt\n%files\n`,
  tzdata: `Name: tzdata\nVersion: 2023c\nRelease: 1.el9\nSummary: t\nLicense: Public Domain\nBuildArch: noarch\n%description\nt\n%files\n`,
};

const UPDATEINFO = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="secalert@redhat.com" status="final" type="security" version="1">
    <id>RHSA-2024:2447</id><title>Moderate: openssl security and bug fix update</title>
    <issued date="2024-04-30 00:00:00"/><severity>Moderate</severity>
    <references>
      <reference href="https://vendor.example.invalid/errata/RHSA-2024:2447" id="RHSA-2024:2447" type="self"/>
      <reference href="https://vendor.example.invalid/security/cve/CVE-2023-5678" id="CVE-2023-5678" type="cve"/>
      <reference href="https://vendor.example.invalid/security/cve/CVE-2023-3446" id="CVE-2023-3446" type="cve"/>
    </references>
    <pkglist><collection short="rhel-9-baseos">
      <package name="openssl" epoch="1" version="3.0.7" release="27.el9" arch="x86_64"><filename>openssl-3.0.7-27.el9.x86_64.rpm</filename></package>
      <package name="openssl-libs" epoch="1" version="3.0.7" release="27.el9" arch="x86_64"><filename>openssl-libs-3.0.7-27.el9.x86_64.rpm</filename></package>
      <package name="openssl" epoch="1" version="3.0.7" release="27.el9" arch="src"><filename>openssl-3.0.7-27.el9.src.rpm</filename></package>
    </collection></pkglist>
  </update>
  <update type="security"><id>RHSA-2023:0100</id><severity>Important</severity>
    <references><reference id="CVE-2023-0286" type="cve" href="x"/></references>
    <pkglist><collection><package name="openssl-libs" epoch="0" version="3.0.8" release="1.el9" arch="x86_64"/></collection></pkglist></update>
  <update type="security"><id>RHSA-2023:7749</id><severity>Important</severity>
    <references><reference id="CVE-2023-28486" type="cve" href="x"/><reference id="CVE-2023-42465" type="cve" href="x"/></references>
    <pkglist><collection><package name="sudo" epoch="0" version="1.9.5p2" release="10.el9_3" arch="x86_64"/></collection></pkglist></update>
  <update type="security"><id>RHSA-2024:0346</id><severity>Important</severity>
    <references><reference id="CVE-2023-6546" type="cve" href="x"/></references>
    <pkglist><collection><package name="kernel" epoch="0" version="5.14.0" release="362.18.1.el9_3" arch="aarch64"/></collection></pkglist></update>
  <update type="bugfix"><id>RHBA-2023:6565</id><severity>None</severity>
    <pkglist><collection><package name="tzdata" epoch="0" version="2023d" release="1.el9" arch="noarch"/></collection></pkglist></update>
</updates>
`;

const OSV_REDHAT = [
  { id: 'RHSA-2024:0001', aliases: ['CVE-2023-47038'], affected: [{ package: { ecosystem: 'Red Hat:enterprise_linux:9::appstream', name: 'perl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4:5.32.1-481.el9' }] }] }] },
  { id: 'RHSA-2024:0002', aliases: ['CVE-2023-47100'], affected: [{ package: { ecosystem: 'Red Hat:enterprise_linux:9::appstream', name: 'perl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '4:5.32.1-482.el9' }] }] }] },
  { id: 'RHSA-2023:9999', aliases: ['CVE-2023-22809'], affected: [{ package: { ecosystem: 'Red Hat:enterprise_linux:8::baseos', name: 'sudo' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.9.5p2-11.el8' }] }] }] },
];

test('RHEL 9 (rpmdb by rpm): epochs, source RPMs without epoch, updateinfo arch and types, other releases', () => {
  const top = path.join(work, 'rpmbuild');
  for (const [n, spec] of Object.entries(SPECS)) {
    fs.mkdirSync(path.join(top, 'SPECS'), { recursive: true });
    fs.writeFileSync(path.join(top, 'SPECS', `${n}.spec`), spec);
    runOk('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, '--define', '_build_id_links none', '--define', 'debug_package %{nil}', '--target', 'x86_64', path.join(top, 'SPECS', `${n}.spec`)]);
  }
  const rpms = ['x86_64/openssl-3.0.7-24.el9', 'x86_64/openssl-libs-3.0.7-24.el9', 'x86_64/perl-Errno-1.30-481.el9', 'x86_64/sudo-1.9.5p2-9.el9', 'x86_64/kernel-5.14.0-362.el9', 'noarch/tzdata-2023c-1.el9'].map((f) => path.join(top, 'RPMS', `${f}.${f.split('/')[0]}.rpm`));
  const root = path.join(work, 'rhel9');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), 'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.2"\nID="rhel"\nPRETTY_NAME="Red Hat Enterprise Linux 9.2 (Plow)"\n');
  run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-i', '--justdb', '--nodeps', '--noscripts', '--ignorearch', ...rpms]);
  assert.match(runOk('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '-q', '--qf', '%{EPOCHNUM}:%{VERSION}-%{RELEASE} %{SOURCERPM}', 'perl-Errno']), /^0:1\.30-481\.el9 perl-5\.32\.1-481\.el9\.src\.rpm$/);

  fs.writeFileSync(path.join(work, 'updateinfo.xml'), UPDATEINFO);
  fs.writeFileSync(path.join(work, 'redhat.osv.json'), JSON.stringify(OSV_REDHAT));
  const s = JSON.parse(ingotOk(['--json', 'advisories', 'sync', '--advisory-db', adb, '--distro', 'rhel:9', path.join(work, 'updateinfo.xml'), path.join(work, 'redhat.osv.json')])) as { sources: { format: string; advisories: number }[] };
  assert.deepEqual(s.sources.map((x) => [x.format, x.advisories]), [['updateinfo', 4], ['osv', 3]], 'the bug fix update is not an advisory');

  const t = scan([root]).json.targets[0]!;
  assert.equal(t.distro, 'rhel:9');
  assert.deepEqual(pairs(t), ['openssl RHSA-2024:2447', 'openssl-libs RHSA-2024:2447', 'perl-Errno RHSA-2024:0002', 'sudo RHSA-2023:7749']);
  const ossl = t.findings.find((f) => f.package === 'openssl-libs')!;
  assert.deepEqual([ossl.installed, ossl.fixed, ossl.severity, ossl.cves], ['1:3.0.7-24.el9', '1:3.0.7-27.el9', 'medium', ['CVE-2023-3446', 'CVE-2023-5678']]);
  assert.equal(t.findings.find((f) => f.package === 'perl-Errno')!.matchedBy, 'source');
  assert.equal(t.findings.find((f) => f.package === 'sudo')!.severity, 'high');
});

/** `ingot ARGS` without blocking the event loop (the HTTP fixture serves from this process). */
function ingotAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [INGOT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

test('sources from URLs (a loopback HTTP server): loaded, then skipped while unchanged; a 404 is NOT_FOUND_REMOTE', async () => {
  const served = path.join(work, 'served');
  fs.mkdirSync(served, { recursive: true });
  fs.writeFileSync(path.join(served, 'tracker.json'), JSON.stringify(TRACKER));
  const srv = await FixtureServer.start(served);
  try {
    const db = path.join(work, 'url.sqlite');
    const url = `${srv.url}/tracker.json`;
    const r1 = await ingotAsync(['--json', 'advisories', 'sync', '--advisory-db', db, url]);
    assert.equal(r1.status, 0, r1.stderr);
    const a = JSON.parse(r1.stdout) as { sources: { source: string; skipped: boolean; added: number }[] };
    assert.deepEqual(a.sources.map((x) => [x.source, x.skipped, x.added]), [[url, false, 7]]);
    const r2 = await ingotAsync(['--json', 'advisories', 'sync', '--advisory-db', db, url]);
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal((JSON.parse(r2.stdout) as { sources: { skipped: boolean }[] }).sources[0]!.skipped, true);
    const missing = await ingotAsync(['advisories', 'sync', '--advisory-db', db, `${srv.url}/nope.json`]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error\[NOT_FOUND_REMOTE\]/);
  } finally {
    await srv.close();
  }
});
