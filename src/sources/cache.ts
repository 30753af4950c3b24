/**
 * The package cache, keyed by digest: `DIR/<algo>/<first two hex>/<hex>`. A file enters the
 * cache only after its size and digest were checked, through a `.part` file that a later run
 * resumes; so anything found in the cache can be used as it is. Downloads run in parallel with
 * bounded concurrency on keep-alive connections.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';
import { downloadToFile } from '../platform/http.js';
import { mkdirp, rmQuiet } from '../platform/fs.js';
import { progress } from '../platform/progress.js';

export type DigestAlgo = 'sha256' | 'sha512' | 'sha1' | 'md5';

export interface CacheItem {
  /** For messages: the package's NEVRA or name_version_arch. */
  name: string;
  url: string;
  size: number;
  algo: DigestAlgo;
  digest: string;
}

export interface FetchSummary {
  /** Distinct files downloaded now. */
  fetched: number;
  /** Distinct files that were in the cache already. */
  cached: number;
  bytes: number;
  seconds: number;
}

export interface PackageCacheOptions {
  /** Idle timeout per request in ms (default: the HTTP layer's, 30 s). */
  timeoutMs?: number;
  /** Attempts per download for transient failures (default: the HTTP layer's, 4). */
  retries?: number;
}

export class PackageCache {
  /** Downloads under way in this process, by destination: one `.part` has one writer. */
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    readonly dir: string,
    private readonly options: PackageCacheOptions = {},
  ) {}

  pathOf(item: Pick<CacheItem, 'algo' | 'digest'>): string {
    const hex = item.digest.toLowerCase();
    if (!/^[0-9a-f]{32,128}$/.test(hex)) {
      throw new IngotError('INVALID_ARGUMENT', `invalid ${item.algo} digest '${item.digest}'`);
    }
    return path.join(this.dir, item.algo, hex.slice(0, 2), hex);
  }

  has(item: Pick<CacheItem, 'algo' | 'digest' | 'size'>): boolean {
    try {
      return fs.statSync(this.pathOf(item)).size === item.size;
    } catch {
      return false;
    }
  }

  /** Ensures one item is in the cache; returns its path. */
  async fetch(item: CacheItem, onBytes?: (n: number) => void): Promise<string> {
    const dest = this.pathOf(item);
    if (this.has(item)) return dest;
    const running = this.inflight.get(dest);
    if (running) return running;
    const p = this.download(item, dest, onBytes).finally(() => this.inflight.delete(dest));
    this.inflight.set(dest, p);
    return p;
  }

  private async download(item: CacheItem, dest: string, onBytes?: (n: number) => void): Promise<string> {
    mkdirp(path.dirname(dest));
    const part = `${dest}.part`;
    let last = 0;
    const r = await downloadToFile(item.url, part, {
      expectedSize: item.size,
      algo: item.algo,
      ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }),
      ...(this.options.retries !== undefined && { retries: this.options.retries }),
      onProgress: (n) => {
        onBytes?.(n - last);
        last = n;
      },
    });
    if (r.size !== item.size || r.digest !== item.digest.toLowerCase()) {
      rmQuiet(part);
      throw new IngotError(
        'DIGEST_MISMATCH',
        `${item.name}: downloaded ${r.size} bytes with ${item.algo} ${r.digest}, expected ${item.size} bytes with ${item.digest} (${item.url})`,
        {
          hint: 'the mirror serves a different file than its index says (out of sync, or tampered); try again later or another mirror',
          data: { url: item.url, expectedSize: item.size, size: r.size, expected: item.digest, actual: r.digest },
        },
      );
    }
    fs.renameSync(part, dest);
    return dest;
  }

  /** Fetches every item not yet cached, `concurrency` at a time, with a progress bar on a terminal. */
  async fetchAll(items: CacheItem[], opts: { concurrency?: number; label?: string } = {}): Promise<FetchSummary> {
    const t0 = Date.now();
    // One download per file: the same digest listed twice is fetched once.
    const seen = new Set<string>();
    let cached = 0;
    const missing = items.filter((i) => {
      const p = this.pathOf(i);
      if (seen.has(p)) return false;
      seen.add(p);
      if (this.has(i)) {
        cached++;
        return false;
      }
      return true;
    });
    const total = missing.reduce((a, i) => a + i.size, 0);
    const bar = progress(opts.label ?? 'downloading', total);
    let bytes = 0;
    let next = 0;
    const errors: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (next < missing.length && errors.length === 0) {
        const item = missing[next++]!;
        try {
          await this.fetch(item, (n) => {
            bytes += n;
            bar.tick(n);
          });
        } catch (e) {
          errors.push(e);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 6, Math.max(1, missing.length)) }, worker));
    } finally {
      bar.stop();
    }
    if (errors.length) throw errors[0];
    return { fetched: missing.length, cached, bytes, seconds: (Date.now() - t0) / 1000 };
  }
}
