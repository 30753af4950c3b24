/**
 * SBOMs validate against the official schemas (vendored in test/fixtures/schemas, see its
 * README): SPDX 2.3 and CycloneDX 1.6, with ajv. Both families, epochs, binNMU versions,
 * names that need percent-encoding in purls; every target kind; and the `ingot sbom` command
 * on a directory with a dpkg status file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { cyclonedxDocument, spdxDocument } from '../../src/inventory/sbom.js';
import { purlOf } from '../../src/inventory/purl.js';
import { sortPackages, type Distro, type InstalledPackage, type PackageFamily, type Target, type TargetIdentity } from '../../src/inventory/types.js';
import { cleanup, ingot, ROOT, tmpdir } from '../helpers.js';

const SCHEMAS = path.join(ROOT, 'test', 'fixtures', 'schemas');
const load = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(SCHEMAS, f), 'utf8')) as Record<string, unknown>;

function validators(): { spdx: ValidateFunction; cdx: ValidateFunction } {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  // Formats the CycloneDX schema names that ajv-formats does not define (RFC 3987 IRIs, RFC 6531 mail).
  ajv.addFormat('iri-reference', /^\S*$/);
  ajv.addFormat('idn-email', /^\S+@\S+$/);
  ajv.addSchema(load('spdx.schema.json'));
  ajv.addSchema(load('jsf-0.82.schema.json'));
  return { spdx: ajv.compile(load('spdx-2.3.schema.json')), cdx: ajv.compile(load('bom-1.6.schema.json')) };
}

const V = validators();

function assertValid(fn: ValidateFunction, doc: unknown, what: string): void {
  const ok = fn(doc);
  assert.ok(ok, `${what}: ${JSON.stringify(fn.errors?.slice(0, 5), null, 1)}`);
}

const DEBIAN: Distro = { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' };
const RHEL: Distro = { id: 'rhel', versionId: '9.4', codename: null, prettyName: 'Red Hat Enterprise Linux 9.4 (Plow)' };

function pkg(family: PackageFamily, distro: Distro, p: Omit<InstalledPackage, 'purl'>, srpm?: string): InstalledPackage {
  return { ...p, purl: purlOf(family, p, distro, srpm) };
}

function target(kind: TargetIdentity['kind'], id: string, family: PackageFamily, distro: Distro, packages: InstalledPackage[]): Target {
  return { identity: { kind, name: `${kind}-name`, id }, inventory: { family, packages: sortPackages(packages), distro, source: 'dpkg-status', databasePath: null } };
}

const DEB_PKGS = [
  pkg('deb', DEBIAN, { name: 'bash', epoch: 0, version: '5.2.15', release: '2+b2', arch: 'amd64', sourceName: 'bash', sourceVersion: '5.2.15-2' }),
  pkg('deb', DEBIAN, { name: 'libc6', epoch: 0, version: '2.36', release: '9+deb12u4', arch: 'amd64', sourceName: 'glibc', sourceVersion: '2.36-9+deb12u4' }),
  pkg('deb', DEBIAN, { name: 'vim-tiny', epoch: 2, version: '9.0.1378', release: '2', arch: 'amd64', sourceName: 'vim', sourceVersion: '2:9.0.1378-2' }),
  pkg('deb', DEBIAN, { name: 'libstdc++6', epoch: 0, version: '12.2.0', release: '14', arch: 'amd64', sourceName: 'gcc-12', sourceVersion: '12.2.0-14' }),
  pkg('deb', DEBIAN, { name: 'tzdata', epoch: 0, version: '2024a', release: '0+deb12u1', arch: 'all', sourceName: 'tzdata', sourceVersion: '2024a-0+deb12u1' }),
  pkg('deb', DEBIAN, { name: 'libc6', epoch: 0, version: '2.36', release: '9+deb12u4', arch: 'i386', sourceName: 'glibc', sourceVersion: '2.36-9+deb12u4' }),
];
const RPM_PKGS = [
  pkg('rpm', RHEL, { name: 'openssl-libs', epoch: 1, version: '3.0.7', release: '27.el9', arch: 'x86_64', sourceName: 'openssl', sourceVersion: '3.0.7-27.el9' }, 'openssl-3.0.7-27.el9.src.rpm'),
  pkg('rpm', RHEL, { name: 'perl-Errno', epoch: 0, version: '1.30', release: '481.el9', arch: 'x86_64', sourceName: 'perl', sourceVersion: '5.32.1-481.el9' }, 'perl-5.32.1-481.el9.src.rpm'),
  pkg('rpm', RHEL, { name: 'kernel', epoch: 0, version: '5.14.0', release: '427.el9', arch: 'x86_64', sourceName: 'kernel', sourceVersion: '5.14.0-427.el9' }, 'kernel-5.14.0-427.el9.src.rpm'),
  pkg('rpm', RHEL, { name: 'kernel', epoch: 0, version: '5.14.0', release: '362.el9', arch: 'x86_64', sourceName: 'kernel', sourceVersion: '5.14.0-362.el9' }, 'kernel-5.14.0-362.el9.src.rpm'),
];

const OPTS = { toolVersion: '0.1.0', created: new Date(Date.UTC(2026, 10, 26, 12, 0, 0)) };

test('purls follow purl-spec: percent-encoded versions, sorted qualifiers, rpm epochs as a qualifier', () => {
  assert.equal(DEB_PKGS.find((p) => p.name === 'bash')!.purl, 'pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12');
  assert.equal(DEB_PKGS.find((p) => p.name === 'vim-tiny')!.purl, 'pkg:deb/debian/vim-tiny@2%3A9.0.1378-2?arch=amd64&distro=debian-12&upstream=vim');
  assert.equal(DEB_PKGS.find((p) => p.name === 'libstdc++6')!.purl, 'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12');
  assert.equal(RPM_PKGS[0]!.purl, 'pkg:rpm/rhel/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm');
});

for (const [label, t] of [
  ['a Debian commit', target('commit', 'a'.repeat(64), 'deb', DEBIAN, DEB_PKGS)],
  ['an RPM image', target('image', `sha256:${'b'.repeat(64)}`, 'rpm', RHEL, RPM_PKGS)],
  ['a deployment', target('deployment', `${'c'.repeat(64)}.0`, 'deb', DEBIAN, DEB_PKGS)],
  ['a directory without os-release', target('directory', '/srv/root', 'deb', { id: null, versionId: null, codename: null, prettyName: null }, DEB_PKGS)],
  ['an empty image', target('image', `sha256:${'d'.repeat(64)}`, 'rpm', RHEL, [])],
] as const) {
  test(`SPDX 2.3 and CycloneDX 1.6 documents of ${label} validate against the official schemas`, () => {
    const spdx = spdxDocument(t, OPTS);
    assertValid(V.spdx, spdx, 'SPDX');
    const cdx = cyclonedxDocument(t, OPTS);
    assertValid(V.cdx, cdx, 'CycloneDX');
    // Every package is there with its purl, and the root names the target's identity.
    const spdxPkgs = spdx['packages'] as { SPDXID: string; externalRefs?: { referenceLocator: string }[]; versionInfo: string }[];
    assert.equal(spdxPkgs.length, t.inventory.packages.length + 1);
    assert.equal(spdxPkgs[0]!.versionInfo, t.identity.id);
    assert.deepEqual(spdxPkgs.slice(1).map((p) => p.externalRefs![0]!.referenceLocator), t.inventory.packages.map((p) => p.purl));
    const comps = cdx['components'] as { purl: string; 'bom-ref': string }[];
    assert.deepEqual(comps.map((c) => c.purl), t.inventory.packages.map((p) => p.purl));
    assert.equal(new Set(comps.map((c) => c['bom-ref'])).size, comps.length, 'bom-refs are unique');
    assert.equal(((cdx['metadata'] as Record<string, unknown>)['component'] as { version: string }).version, t.identity.id);
    // Deterministic for the same input.
    assert.deepEqual(spdxDocument(t, OPTS), spdx);
    assert.deepEqual(cyclonedxDocument(t, OPTS), cdx);
  });
}

test('a document that breaks the schema is refused (the validator is not vacuous)', () => {
  const t = target('commit', 'a'.repeat(64), 'deb', DEBIAN, DEB_PKGS);
  const spdx = spdxDocument(t, OPTS);
  delete spdx['dataLicense'];
  assert.equal(V.spdx(spdx), false);
  const cdx = cyclonedxDocument(t, OPTS);
  cdx['specVersion'] = 1.6;
  assert.equal(V.cdx(cdx), false);
  const cdx2 = cyclonedxDocument(t, OPTS);
  (cdx2['components'] as Record<string, unknown>[])[0]!['type'] = 'package';
  assert.equal(V.cdx(cdx2), false);
});

test('ingot sbom on a directory writes valid documents of both formats, to stdout and with --output', () => {
  const dir = tmpdir('ingot-sbom-');
  try {
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
    fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr/lib/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
    fs.writeFileSync(
      path.join(root, 'var/lib/dpkg/status'),
      'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nSource: bash (5.2.15-2)\nVersion: 5.2.15-2+b2\nMaintainer: x <x@example.org>\nDescription: GNU Bourne Again SHell\n\nPackage: oldconf\nStatus: deinstall ok config-files\nArchitecture: all\nVersion: 1.0-1\nMaintainer: x <x@example.org>\nDescription: removed\n',
    );
    const spdx = ingot(['sbom', root, '--format', 'spdx-json'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    assert.equal(spdx.status, 0, spdx.stderr);
    const doc = JSON.parse(spdx.stdout) as Record<string, unknown>;
    assertValid(V.spdx, doc, 'ingot sbom spdx');
    assert.equal((doc['creationInfo'] as { created: string }).created, '2023-11-14T22:13:20Z');
    assert.deepEqual((doc['packages'] as { name: string }[]).map((p) => p.name), [root, 'bash'], 'config-files packages are not installed');
    const out = path.join(dir, 'bom.json');
    const cdx = ingot(['sbom', `dir:${root}`, '--format', 'cyclonedx-json', '--output', out]);
    assert.equal(cdx.status, 0, cdx.stderr);
    assertValid(V.cdx, JSON.parse(fs.readFileSync(out, 'utf8')), 'ingot sbom cyclonedx');
    const bad = ingot(['sbom', root, '--format', 'spdx-tag-value']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error\[INVALID_ARGUMENT\]/);
  } finally {
    cleanup(dir);
  }
});
