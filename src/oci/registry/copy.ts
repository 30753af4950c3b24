/**
 * Copying one image from any ImageSource to any ImageSink: the manifest (for an index, the
 * source's chosen platform), then every blob it names that the sink lacks (a few at a time),
 * then the manifest under the tag, then `commit`. A failure calls `abort`, so a layout or an
 * archive gets nothing and a registry tag does not move. The manifest bytes are kept as they
 * are, so the destination has the same manifest digest as the source.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { ImageSink, ImageSource } from '../image.js';
import { blobsOf, parseImageManifest } from './media.js';

export interface CopyOptions {
  /** The tag to write the manifest under (null: by digest only). */
  tag: string | null;
  /** Blobs transferred at once (default 3). */
  concurrency?: number;
  /** Called after each blob: whether it was transferred or the sink already had it. */
  onBlob?: (digest: string, size: number, transferred: boolean) => void;
}

export interface CopyResult {
  digest: string;
  mediaType: string;
  /** Blobs the manifest names, how many were transferred, and how many the sink already had. */
  blobs: number;
  transferred: number;
  present: number;
  bytesTransferred: number;
}

/** A stream that opens the source blob when first read, for ImageSink.putBlob's factory. */
function lazyBlob(src: ImageSource, desc: Parameters<ImageSource['blob']>[0]): () => Readable {
  return () => {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    src.blob(desc).then(
      (s) => {
        s.once('error', (e) => out.destroy(e));
        out.once('close', () => s.destroy());
        s.pipe(out);
      },
      (e: unknown) => out.destroy(e as Error),
    );
    return out;
  };
}

export async function copyImage(src: ImageSource, dst: ImageSink, opts: CopyOptions): Promise<CopyResult> {
  try {
    const manifest = await src.manifest();
    const parsed = parseImageManifest(manifest.digest, manifest);
    const blobs = blobsOf(parsed);
    const result: CopyResult = { digest: manifest.digest, mediaType: manifest.mediaType, blobs: blobs.length, transferred: 0, present: 0, bytesTransferred: 0 };
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < blobs.length && !failed) {
        const d = blobs[next++]!;
        let present: boolean;
        try {
          present = await dst.hasBlob(d);
        } catch (e) {
          failed = true;
          throw e;
        }
        if (present) {
          result.present++;
          opts.onBlob?.(d.digest, d.size, false);
          continue;
        }
        try {
          await dst.putBlob(d, lazyBlob(src, d));
        } catch (e) {
          // The other workers finish their blob and start no new one.
          failed = true;
          throw e;
        }
        result.transferred++;
        result.bytesTransferred += d.size;
        opts.onBlob?.(d.digest, d.size, true);
      }
    };
    const n = Math.max(1, Math.min(opts.concurrency ?? 3, blobs.length));
    const results = await Promise.allSettled(Array.from({ length: n }, worker));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    await dst.putManifest(manifest, opts.tag);
    await dst.commit();
    return result;
  } catch (e) {
    await dst.abort().catch(() => undefined);
    throw e;
  }
}
