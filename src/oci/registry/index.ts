/**
 * The registry transport (`docker://HOST[:PORT]/NAME[:TAG|@DIGEST]`): an ImageSource and an
 * ImageSink over the Distribution API v2. See docs/registry.md for authentication and retries.
 */
import type { ImageSink, ImageSource } from '../image.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { RegistrySink } from './sink.js';
import { RegistrySource } from './source.js';
import { parseRegistryRef, type RegistryRef } from './ref.js';

export { parseRegistryRef, formatRegistryRef, isLoopbackHost, type RegistryRef } from './ref.js';
export { parseCredentials, findCredentials, defaultAuthFiles, type Credentials } from './auth.js';
export type { RegistryOptions, Platform } from './client.js';
export { RegistryClient } from './client.js';
export { RegistrySource, hostPlatform, parsePlatform } from './source.js';
export { RegistrySink, type SinkStats } from './sink.js';
export { copyImage, type CopyOptions, type CopyResult } from './copy.js';
export { MANIFEST_ACCEPT, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST } from './media.js';

/**
 * Opens an image in a registry for reading (a string reference is parsed first). The registry is probed (`/v2/`) and its manifest
 * is fetched on first use; a missing image fails there with REGISTRY_NOT_FOUND.
 */
export async function openRegistrySource(refIn: RegistryRef | string, opts: RegistryOptions = {}): Promise<ImageSource & RegistrySource> {
  const ref = typeof refIn === 'string' ? parseRegistryRef(refIn) : refIn;
  const client = new RegistryClient(ref.host, ref.repository, opts);
  await client.ping();
  return new RegistrySource(client, ref, opts);
}

/**
 * Opens a registry repository for writing: blobs, then the manifest under the tag given to
 * putManifest, or else the reference's tag (a reference by digest pushes by digest).
 * A string reference (`docker://…` or without the prefix) is parsed first.
 */
export async function openRegistrySink(refIn: RegistryRef | string, opts: RegistryOptions = {}): Promise<ImageSink & RegistrySink> {
  const ref = typeof refIn === 'string' ? parseRegistryRef(refIn) : refIn;
  const client = new RegistryClient(ref.host, ref.repository, opts);
  await client.ping();
  return new RegistrySink(client, ref, opts);
}
