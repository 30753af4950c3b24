/**
 * Manifest media types the registry client reads and writes, and the structural checks it makes
 * on a manifest before trusting the descriptors in it (image-spec manifest.md, image-index.md;
 * Docker's schema 2 equivalents). Schema 1 manifests (signed JWS, no content-addressed config)
 * are refused: nothing current produces them.
 */
import { createHash } from 'node:crypto';
import { IngotError } from '../../core/errors.js';
import type { Descriptor, StoredManifest } from '../image.js';
import { isValidDigest } from './ref.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** Everything a GET of a manifest accepts: registry 2.8 answers 404 for OCI content without the OCI types. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

export const isIndexType = (t: string): boolean => t === OCI_INDEX || t === DOCKER_LIST;
export const isManifestType = (t: string): boolean => t === OCI_MANIFEST || t === DOCKER_MANIFEST;

export interface ParsedManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ParsedIndex {
  mediaType: string;
  manifests: Descriptor[];
}

/** The digest of bytes in the algorithm of `like` (sha256 unless it names sha512). */
export function digestOf(bytes: Buffer, like?: string): string {
  const alg = like?.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
}

function unsupported(where: string, why: string): IngotError {
  return new IngotError('REGISTRY_MANIFEST_UNSUPPORTED', `${where}: ${why}`, {
    hint: 'ingot reads OCI image manifests and indexes and Docker schema 2 manifests and manifest lists',
    data: { where },
  });
}

function checkDescriptor(where: string, d: unknown, field: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object') throw unsupported(where, `${field} is not a descriptor`);
  if (typeof o.mediaType !== 'string' || o.mediaType === '') throw unsupported(where, `${field} has no mediaType`);
  if (typeof o.digest !== 'string' || !isValidDigest(o.digest)) throw unsupported(where, `${field} has an invalid digest ${JSON.stringify(o.digest)}`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw unsupported(where, `${field} has an invalid size ${JSON.stringify(o.size)}`);
  return o as Descriptor;
}

/** Parses JSON and finds the media type: the Content-Type, else the document's own `mediaType`. */
export function manifestKind(where: string, bytes: Buffer, contentType: string | undefined): { mediaType: string; doc: Record<string, unknown> } {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw unsupported(where, `the manifest is not JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw unsupported(where, 'the manifest is not a JSON object');
  const d = doc as Record<string, unknown>;
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let mediaType = typeof d['mediaType'] === 'string' ? (d['mediaType'] as string) : '';
  if (d['schemaVersion'] === 1 || ct.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw unsupported(where, 'Docker schema 1 manifests are not supported');
  }
  if (!mediaType) {
    if (ct && ct !== 'application/json' && ct !== 'application/octet-stream') mediaType = ct;
    else if (Array.isArray(d['manifests'])) mediaType = OCI_INDEX;
    else if (Array.isArray(d['layers'])) mediaType = OCI_MANIFEST;
  }
  if (!isIndexType(mediaType) && !isManifestType(mediaType)) {
    throw unsupported(where, `unknown manifest media type '${mediaType || ct || '(none)'}'`);
  }
  if (d['schemaVersion'] !== 2) throw unsupported(where, `schemaVersion is ${JSON.stringify(d['schemaVersion'])}, not 2`);
  return { mediaType, doc: d };
}

export function parseImageManifest(where: string, m: StoredManifest): ParsedManifest {
  const { mediaType, doc } = manifestKind(where, m.bytes, m.mediaType);
  if (!isManifestType(mediaType)) throw unsupported(where, `expected an image manifest, found '${mediaType}'`);
  const config = checkDescriptor(where, doc['config'], 'config');
  if (!Array.isArray(doc['layers'])) throw unsupported(where, 'layers is not an array');
  const layers = (doc['layers'] as unknown[]).map((l, i) => checkDescriptor(where, l, `layers[${i}]`));
  return { mediaType, config, layers };
}

export function parseIndex(where: string, bytes: Buffer, contentType: string | undefined): ParsedIndex {
  const { mediaType, doc } = manifestKind(where, bytes, contentType);
  if (!isIndexType(mediaType)) throw unsupported(where, `expected an image index, found '${mediaType}'`);
  if (!Array.isArray(doc['manifests'])) throw unsupported(where, 'manifests is not an array');
  const manifests = (doc['manifests'] as unknown[]).map((x, i) => checkDescriptor(where, x, `manifests[${i}]`));
  return { mediaType, manifests };
}

/** Every blob a manifest names (config first, then the layers in order, each digest once). */
export function blobsOf(p: ParsedManifest): Descriptor[] {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const d of [p.config, ...p.layers]) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    out.push(d);
  }
  return out;
}
