/**
 * OCI and Docker media types, digests and the canonical JSON that ingot writes (image-spec;
 * ../shared/specs/oci-images.md §1). Every manifest, index and config ingot writes is
 * canonical JSON (keys sorted byte-wise, no whitespace), so the same inputs give the same
 * bytes and so the same digests.
 */
import { createHash } from 'node:crypto';
import { IngotError } from '../core/errors.js';
import type { Descriptor } from './image.js';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const MANIFEST_TYPES: readonly string[] = [MT.ociManifest, MT.dockerManifest];
export const INDEX_TYPES: readonly string[] = [MT.ociIndex, MT.dockerList];
export const CONFIG_TYPES: readonly string[] = [MT.ociConfig, MT.dockerConfig];

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** The compression of a layer media type, or null when the type is not a layer ingot reads. */
export function layerCompression(mediaType: string): LayerCompression | null {
  switch (mediaType) {
    case MT.ociLayer:
    case MT.dockerLayer:
      return 'none';
    case MT.ociLayerGzip:
    case MT.dockerLayerGzip:
      return 'gzip';
    case MT.ociLayerZstd:
      return 'zstd';
    default:
      return null;
  }
}

export function layerMediaType(c: LayerCompression): string {
  return c === 'gzip' ? MT.ociLayerGzip : c === 'zstd' ? MT.ociLayerZstd : MT.ociLayer;
}

export function unsupportedMediaType(mediaType: string, what: string, expected: readonly string[]): IngotError {
  return new IngotError('IMAGE_MEDIA_TYPE_UNSUPPORTED', `${what} has media type '${mediaType}', which ingot does not handle`, {
    hint: `expected one of: ${expected.join(', ')}`,
    data: { mediaType, object: what },
  });
}

export function sha256Digest(data: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Checks a digest's grammar (sha256/sha512 in their exact lowercase hex form). */
export function isDigest(d: unknown): d is string {
  if (typeof d !== 'string' || !DIGEST.test(d)) return false;
  const [alg, enc] = d.split(':') as [string, string];
  if (alg === 'sha256') return /^[0-9a-f]{64}$/.test(enc);
  if (alg === 'sha512') return /^[0-9a-f]{128}$/.test(enc);
  return true;
}

/** The hex part of a sha256 digest; IMAGE_INVALID for any other algorithm. */
export function sha256Hex(d: string, what: string): string {
  if (!isDigest(d) || !d.startsWith('sha256:')) {
    throw new IngotError('IMAGE_INVALID', `${what}: '${d}' is not a sha256 digest`, {
      hint: 'ingot stores and verifies sha256 digests only',
      data: { digest: d },
    });
  }
  return d.slice(7);
}

/** Canonical JSON: object keys sorted byte-wise, no insignificant whitespace. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',') + ']';
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, Record<string, never>>;
    Volumes?: Record<string, Record<string, never>>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; author?: string; comment?: string; empty_layer?: boolean }[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

function invalid(what: string, msg: string): IngotError {
  return new IngotError('IMAGE_INVALID', `${what}: ${msg}`, { hint: 'the image was not written by a conforming tool, or is damaged', data: { object: what } });
}

function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw invalid(what, `not valid JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(what, 'not a JSON object');
  return v as Record<string, unknown>;
}

export function checkDescriptor(d: unknown, what: string): Descriptor {
  if (d === null || typeof d !== 'object') throw invalid(what, 'descriptor is not an object');
  const o = d as Record<string, unknown>;
  if (typeof o['mediaType'] !== 'string') throw invalid(what, 'descriptor has no mediaType');
  if (!isDigest(o['digest'])) throw invalid(what, `descriptor digest '${String(o['digest'])}' is not a valid digest`);
  if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || (o['size'] as number) < 0) throw invalid(what, 'descriptor size is not a non-negative integer');
  if (o['annotations'] !== undefined) {
    const a = o['annotations'];
    if (a === null || typeof a !== 'object' || Object.values(a as object).some((x) => typeof x !== 'string')) throw invalid(what, 'annotations must map strings to strings');
  }
  return o as unknown as Descriptor;
}

/** Parses and checks a manifest; layer and config media types must be ones ingot reads. */
export function parseManifest(bytes: Uint8Array, mediaType: string, what = 'manifest'): ImageManifest {
  const o = parseJsonObject(bytes, what);
  if (o['schemaVersion'] !== 2) throw invalid(what, `schemaVersion is ${JSON.stringify(o['schemaVersion'])}, expected 2`);
  const mt = typeof o['mediaType'] === 'string' ? (o['mediaType'] as string) : mediaType;
  if (!MANIFEST_TYPES.includes(mt)) throw unsupportedMediaType(mt, what, MANIFEST_TYPES);
  const config = checkDescriptor(o['config'], `${what} config`);
  if (!CONFIG_TYPES.includes(config.mediaType)) throw unsupportedMediaType(config.mediaType, `${what} config`, CONFIG_TYPES);
  if (!Array.isArray(o['layers'])) throw invalid(what, 'layers is not an array');
  const layers = (o['layers'] as unknown[]).map((l, i) => {
    const d = checkDescriptor(l, `${what} layer ${i}`);
    if (layerCompression(d.mediaType) === null) {
      throw unsupportedMediaType(d.mediaType, `${what} layer ${i} (${d.digest})`, [MT.ociLayer, MT.ociLayerGzip, MT.ociLayerZstd, MT.dockerLayer, MT.dockerLayerGzip]);
    }
    return d;
  });
  return { ...(o as object), schemaVersion: 2, mediaType: mt, config, layers } as ImageManifest;
}

export function parseIndex(bytes: Uint8Array, mediaType: string, what = 'index'): ImageIndex {
  const o = parseJsonObject(bytes, what);
  if (o['schemaVersion'] !== 2) throw invalid(what, `schemaVersion is ${JSON.stringify(o['schemaVersion'])}, expected 2`);
  const mt = typeof o['mediaType'] === 'string' ? (o['mediaType'] as string) : mediaType;
  if (!INDEX_TYPES.includes(mt)) throw unsupportedMediaType(mt, what, INDEX_TYPES);
  if (!Array.isArray(o['manifests'])) throw invalid(what, 'manifests is not an array');
  const manifests = (o['manifests'] as unknown[]).map((m, i) => checkDescriptor(m, `${what} entry ${i}`));
  return { ...(o as object), schemaVersion: 2, mediaType: mt, manifests } as ImageIndex;
}

export function parseConfig(bytes: Uint8Array, what = 'image config'): ImageConfig {
  const o = parseJsonObject(bytes, what);
  const rootfs = o['rootfs'] as { type?: unknown; diff_ids?: unknown } | undefined;
  if (!rootfs || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every((d) => isDigest(d))) {
    throw invalid(what, "rootfs must be {type: 'layers', diff_ids: [digests]}");
  }
  if (typeof o['architecture'] !== 'string' || typeof o['os'] !== 'string') throw invalid(what, 'architecture and os must be strings');
  return o as unknown as ImageConfig;
}

/** Debian/RPM architecture names to OCI (GOARCH) names. */
export function ociArch(arch: string): { architecture: string; variant?: string } {
  const map: Record<string, { architecture: string; variant?: string }> = {
    amd64: { architecture: 'amd64' },
    x86_64: { architecture: 'amd64' },
    arm64: { architecture: 'arm64', variant: 'v8' },
    aarch64: { architecture: 'arm64', variant: 'v8' },
    armhf: { architecture: 'arm', variant: 'v7' },
    armv7hl: { architecture: 'arm', variant: 'v7' },
    i386: { architecture: '386' },
    i686: { architecture: '386' },
    ppc64el: { architecture: 'ppc64le' },
    ppc64le: { architecture: 'ppc64le' },
    s390x: { architecture: 's390x' },
    riscv64: { architecture: 'riscv64' },
  };
  return map[arch] ?? { architecture: arch };
}
