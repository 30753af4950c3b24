/** `image inspect`: what an image is, read through any transport (as `skopeo inspect` shows it). */
import type { Descriptor } from './image.js';
import { INDEX_TYPES, parseConfig, parseManifest } from './media.js';
import { openImageSource, type RegistryOptions } from './transports.js';

export interface ImageInspection {
  image: string;
  digest: string;
  mediaType: string;
  configDigest: string;
  created: string | null;
  architecture: string;
  os: string;
  labels: Record<string, string>;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  layers: (Descriptor & { diffId: string })[];
  /** The commit's packages, when ingot built the image (`ingot.packages`). */
  packages: number | null;
}

export async function inspectImage(image: string, opts: { registry?: RegistryOptions } = {}): Promise<ImageInspection> {
  const src = await openImageSource(image, opts.registry ?? {});
  try {
    const m = await src.manifest();
    void INDEX_TYPES;
    const man = parseManifest(m.bytes, m.mediaType, `${image} manifest`);
    const cfg = parseConfig(await src.blobBytes(man.config), `${image} config`);
    const labels = cfg.config?.Labels ?? {};
    let packages: number | null = null;
    try {
      const rows = JSON.parse(labels['ingot.packages'] ?? 'null') as unknown;
      if (Array.isArray(rows)) packages = rows.length;
    } catch {
      packages = null;
    }
    return {
      image,
      digest: m.digest,
      mediaType: m.mediaType,
      configDigest: man.config.digest,
      created: cfg.created ?? null,
      architecture: cfg.architecture,
      os: cfg.os,
      labels,
      env: cfg.config?.Env ?? [],
      entrypoint: cfg.config?.Entrypoint ?? null,
      cmd: cfg.config?.Cmd ?? null,
      layers: man.layers.map((l, i) => ({ ...l, diffId: cfg.rootfs.diff_ids[i] ?? '' })),
      packages,
    };
  } finally {
    await src.close();
  }
}
