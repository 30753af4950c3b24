/**
 * One entry point for every image reference: `openImageSource` / `openImageSink` dispatch on
 * the transport. Layouts and archives are here; `docker://` goes to the registry client
 * (src/oci/registry/index.ts: `openRegistrySource(ref, opts)`, `openRegistrySink(ref, opts)`),
 * loaded on demand so that local commands never load the HTTP client.
 */
import { IngotError } from '../core/errors.js';
import type { ImageSink, ImageSource } from './image.js';
import { DockerArchiveSink, OciArchiveSink, openDockerArchiveSource, openOciArchiveSource } from './archive.js';
import { dirFiles, LayoutSink, LayoutSource } from './layout.js';
import { formatImageRef, parseImageRef, type ImageRef } from './reference.js';

/** Options passed through to the registry client (credentials, TLS, retries). */
export type RegistryOptions = Record<string, unknown>;

type RegistryModule = Partial<Pick<typeof import('./registry/index.js'), 'openRegistrySource' | 'openRegistrySink'>>;

async function registry(): Promise<RegistryModule> {
  return import('./registry/index.js');
}

function noRegistry(ref: ImageRef): IngotError {
  return new IngotError('IMAGE_TRANSPORT_UNAVAILABLE', `${formatImageRef(ref)}: this ingot build has no registry client`, {
    hint: 'write to oci:DIR[:TAG] and copy it with skopeo, or use a build with docker:// support',
  });
}

export function toRef(ref: string | ImageRef): ImageRef {
  return typeof ref === 'string' ? parseImageRef(ref) : ref;
}

export async function openImageSource(refIn: string | ImageRef, opts: RegistryOptions = {}): Promise<ImageSource> {
  const ref = toRef(refIn);
  switch (ref.transport) {
    case 'oci':
      return new LayoutSource(dirFiles(ref.path, formatImageRef({ ...ref, tag: null })), ref.tag);
    case 'oci-archive':
      return openOciArchiveSource(ref.path, ref.tag);
    case 'docker-archive':
      return openDockerArchiveSource(ref.path, ref.tag);
    case 'docker': {
      const m = await registry();
      if (!m.openRegistrySource) throw noRegistry(ref);
      return m.openRegistrySource(formatImageRef(ref), opts as never);
    }
  }
}

export async function openImageSink(refIn: string | ImageRef, opts: RegistryOptions = {}): Promise<ImageSink> {
  const ref = toRef(refIn);
  switch (ref.transport) {
    case 'oci':
      return new LayoutSink(ref.path, formatImageRef({ ...ref, tag: null }), { defaultTag: ref.tag ?? 'latest' });
    case 'oci-archive':
      return new OciArchiveSink(ref.path, ref.tag);
    case 'docker-archive':
      return new DockerArchiveSink(ref.path, ref.tag);
    case 'docker': {
      const m = await registry();
      if (!m.openRegistrySink) throw noRegistry(ref);
      return m.openRegistrySink(formatImageRef(ref), opts as never);
    }
  }
}
