/**
 * The one shape every image location has, whichever transport holds it (an `oci:` layout, an
 * `oci-archive:` or `docker-archive:` file, a `docker://` registry): a source reads a manifest
 * and blobs, a sink writes them. Builders write to a sink, the registry client and the layout
 * code implement both, and readers (import, inventory) read from a source, so that every command
 * takes every image reference the same way.
 */
import type { Readable } from 'node:stream';

/** An OCI content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  /** `sha256:` + 64 lowercase hex digits. */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { architecture: string; os: string; variant?: string };
}

/** A manifest exactly as stored: its digest is the sha256 of `bytes`. */
export interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface ImageSource {
  /** The image's manifest (for an index, the one for `platform` or the only one). */
  manifest(): Promise<StoredManifest>;
  /** A blob's bytes as a stream; the stream errors with DIGEST_MISMATCH if they do not match. */
  blob(desc: Descriptor): Promise<Readable>;
  /** A small blob (config, manifest) read whole and verified. */
  blobBytes(desc: Descriptor): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ImageSink {
  /** True when the destination already has this blob (it is then not written again). */
  hasBlob(desc: Descriptor): Promise<boolean>;
  /** Writes one blob, verifying its digest and size while it streams. */
  putBlob(desc: Descriptor, data: () => Readable): Promise<void>;
  /** Writes the manifest under `tag` (if any); called after every blob it names is written. */
  putManifest(manifest: StoredManifest, tag: string | null): Promise<void>;
  /** Makes everything written visible at once (layouts and archives); a no-op for registries. */
  commit(): Promise<void>;
  /** Discards what was written when the operation failed. */
  abort(): Promise<void>;
}
