/**
 * SBOMs of a target's inventory: SPDX 2.3 JSON and CycloneDX 1.6 JSON.
 *
 * Both describe the target itself as the root (an `operating-system` or `container` component
 * in CycloneDX, a package that CONTAINS the others in SPDX) carrying its identity: the commit
 * checksum, the deployment's checksum.serial or the image's manifest digest. Every installed
 * package is a component / package with its purl, version as its family writes it, and the
 * source package as a property (CycloneDX) or `sourceInfo` (SPDX).
 *
 * The documents are deterministic for a given inventory and creation time: the SPDX namespace
 * and the CycloneDX serial number are derived from a hash of the target and its packages.
 */
import { createHash } from 'node:crypto';
import { packageEvr, type Target } from './types.js';

export type SbomFormat = 'spdx-json' | 'cyclonedx-json';
export const SBOM_FORMATS: readonly SbomFormat[] = ['spdx-json', 'cyclonedx-json'];

export interface SbomOptions {
  /** Creation time (default: SOURCE_DATE_EPOCH, else now). */
  created?: Date;
  toolVersion: string;
}

function createdAt(opts: SbomOptions): string {
  if (opts.created) return opts.created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sde = process.env['SOURCE_DATE_EPOCH'];
  const d = sde && /^\d+$/.test(sde) ? new Date(Number(sde) * 1000) : new Date();
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function digestOf(t: Target): string {
  const h = createHash('sha256');
  h.update(`${t.identity.kind}\0${t.identity.id}\0`);
  for (const p of t.inventory.packages) h.update(`${p.purl}\0`);
  return h.digest('hex');
}

function rootName(t: Target): string {
  return t.identity.kind === 'directory' ? t.identity.id : t.identity.name;
}

const spdxId = (s: string): string => s.replace(/[^A-Za-z0-9.-]/g, '-');

export function spdxDocument(t: Target, opts: SbomOptions): Record<string, unknown> {
  const digest = digestOf(t);
  const inv = t.inventory;
  const rootId = 'SPDXRef-Target';
  const packages: Record<string, unknown>[] = [
    {
      name: rootName(t),
      SPDXID: rootId,
      versionInfo: t.identity.id,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: t.identity.kind === 'image' ? 'CONTAINER' : 'OPERATING_SYSTEM',
      comment: `ingot target: ${t.identity.kind} ${t.identity.id}${inv.distro.prettyName ? ` (${inv.distro.prettyName})` : ''}`,
      ...(t.identity.kind === 'image' && /^sha256:[0-9a-f]{64}$/.test(t.identity.id)
        ? { checksums: [{ algorithm: 'SHA256', checksumValue: t.identity.id.slice(7) }] }
        : t.identity.kind === 'commit' && /^[0-9a-f]{64}$/.test(t.identity.id)
          ? { checksums: [{ algorithm: 'SHA256', checksumValue: t.identity.id }] }
          : {}),
    },
  ];
  const relationships: Record<string, unknown>[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId }];
  inv.packages.forEach((p, i) => {
    const id = `SPDXRef-Package-${i + 1}-${spdxId(p.name)}`;
    packages.push({
      name: p.name,
      SPDXID: id,
      versionInfo: packageEvr(p),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      sourceInfo: `built from ${inv.family === 'deb' ? 'Debian source package' : 'source RPM'} ${p.sourceName} ${p.sourceVersion}`,
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    });
    relationships.push({ spdxElementId: rootId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${t.identity.kind} ${rootName(t)}`,
    documentNamespace: `urn:ingot:spdx:${digest}`,
    creationInfo: { created: createdAt(opts), creators: [`Tool: ingot-${opts.toolVersion}`] },
    documentDescribes: [rootId],
    packages,
    relationships,
  };
}

/** A UUID (version 5 layout) from the hash, so that the serial number is stable. */
function uuidFrom(hex: string): string {
  const b = Buffer.from(hex.slice(0, 32), 'hex');
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function cyclonedxDocument(t: Target, opts: SbomOptions): Record<string, unknown> {
  const inv = t.inventory;
  const digest = digestOf(t);
  const rootRef = `target:${t.identity.kind}:${t.identity.id}`;
  const props = (kv: [string, string][]) => kv.filter(([, v]) => v !== '').map(([name, value]) => ({ name, value }));
  const root: Record<string, unknown> = {
    type: t.identity.kind === 'image' ? 'container' : 'operating-system',
    'bom-ref': rootRef,
    name: rootName(t),
    version: t.identity.id,
    properties: props([
      ['ingot:target:kind', t.identity.kind],
      ['ingot:target:id', t.identity.id],
      ['ingot:package-family', inv.family],
      ['ingot:distro:id', inv.distro.id ?? ''],
      ['ingot:distro:version-id', inv.distro.versionId ?? ''],
    ]),
  };
  if (t.identity.kind === 'image' && /^sha256:[0-9a-f]{64}$/.test(t.identity.id)) root['hashes'] = [{ alg: 'SHA-256', content: t.identity.id.slice(7) }];
  const refs = new Set<string>();
  const components = inv.packages.map((p) => {
    let ref = p.purl;
    for (let n = 2; refs.has(ref); n++) ref = `${p.purl}#${n}`;
    refs.add(ref);
    return {
      type: 'library',
      'bom-ref': ref,
      name: p.name,
      version: packageEvr(p),
      purl: p.purl,
      properties: props([
        ['ingot:package:arch', p.arch],
        ['ingot:package:epoch', p.epoch ? String(p.epoch) : ''],
        ['ingot:package:source-name', p.sourceName],
        ['ingot:package:source-version', p.sourceVersion],
      ]),
    };
  });
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${uuidFrom(digest)}`,
    version: 1,
    metadata: {
      timestamp: createdAt(opts),
      tools: { components: [{ type: 'application', name: 'ingot', version: opts.toolVersion }] },
      component: root,
    },
    components,
    dependencies: [{ ref: rootRef, dependsOn: components.map((c) => c['bom-ref']) }],
  };
}

export function sbomDocument(t: Target, format: SbomFormat, opts: SbomOptions): Record<string, unknown> {
  return format === 'spdx-json' ? spdxDocument(t, opts) : cyclonedxDocument(t, opts);
}
