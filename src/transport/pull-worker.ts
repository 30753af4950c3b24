/**
 * Content worker thread body: fetches, verifies and stages whole content objects, so that each
 * thread runs the full path of an object (HTTP, inflate, checksum, write) while the main thread
 * walks the dirtrees (and runs one such slot itself). Protocol (see pull-workers.ts):
 * - in:  `fetch` {batch, dir, mode, checksums}: stage these `.filez` objects into staging `dir`;
 *        `abort`: start nothing new, finish what is in flight, answer `stopped`.
 * - out: `done` {batch} when every object of a batch is staged; `progress` with bytes received
 *        (at most every 200 ms); `failed` {error} after the first error (queued objects are
 *        dropped and in-flight ones finish first) or `stopped`, each naming the batches left
 *        unfinished. Every message carries the fetch statistics since the previous one.
 * Errors travel as plain data (code, message, hint, data).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IngotError } from '../core/errors.js';
import type { RepoMode } from '../repo/repo.js';
import { Fetcher, type FetchStats } from './fetcher.js';
import { objectRelPath } from './pull-plan.js';
import { ContentSink, stageTarget, type StageTarget } from './pull-store.js';

export interface ContentWorkerInit {
  ingotPullContentWorker: true;
  baseUrl: string;
  /** Requests in flight on this thread. */
  concurrency: number;
  retries: number;
  stallMs: number;
}

export type ToWorker = { type: 'fetch'; batch: number; dir: string; mode: RepoMode; checksums: string[] } | { type: 'abort' };

export interface WireError {
  code: string;
  message: string;
  hint?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

export type FromWorker = { stats: FetchStats } & (
  | { type: 'done'; batch: number }
  | { type: 'progress' }
  | { type: 'failed'; batches: number[]; error: WireError }
  | { type: 'stopped'; batches: number[] }
);

/** Content objects (a sparse file can be large) are limited only by this. */
export const CONTENT_MAX = 64 * 1024 * 1024 * 1024;

function wire(e: unknown): WireError {
  return e instanceof IngotError
    ? { code: e.code, message: e.message, hint: e.hint, data: e.data }
    : { code: 'INTERNAL', message: `pull worker: ${(e as Error)?.stack ?? String(e)}`, data: {} };
}

/**
 * Runs the content protocol for one thread: on a worker thread wired to its port, and on the
 * main thread as one more slot (the threads' JIT warm-up and isolate cost CPU that a 2-CPU
 * machine does not have to spare).
 */
export class ContentRunner {
  private readonly fetcher: Fetcher;
  private readonly sent: FetchStats = { requests: 0, retries: 0, bytes: 0 };
  private queue: { batch: number; checksum: string; target: StageTarget; mode: RepoMode }[] = [];
  private head = 0;
  private readonly left = new Map<number, number>();
  private active = 0;
  private stop: { error: WireError | null } | null = null;
  private readonly timer: NodeJS.Timeout;
  /** The staging of the current session: one per directory, so that it makes each prefix folder once. */
  private target: StageTarget | null = null;

  constructor(
    private readonly init: ContentWorkerInit,
    private readonly post: (m: FromWorker) => void,
  ) {
    this.fetcher = new Fetcher(init.baseUrl, { concurrency: init.concurrency, retries: init.retries, stallMs: init.stallMs });
    this.timer = setInterval(() => {
      if (this.fetcher.stats.bytes !== this.sent.bytes) this.post({ type: 'progress', stats: this.delta() });
    }, 200);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.fetcher.close();
  }

  private delta(): FetchStats {
    const s = this.fetcher.stats;
    const d = { requests: s.requests - this.sent.requests, retries: s.retries - this.sent.retries, bytes: s.bytes - this.sent.bytes };
    this.sent.requests = s.requests;
    this.sent.retries = s.retries;
    this.sent.bytes = s.bytes;
    return d;
  }

  private async run(j: { checksum: string; target: StageTarget; mode: RepoMode }): Promise<void> {
    const rel = objectRelPath(j.checksum, 'file');
    await this.fetcher.fetchInto(rel, new ContentSink(j.target, j.mode, j.checksum as never, this.fetcher.url(rel)), { maxSize: CONTENT_MAX });
  }

  private pump(): void {
    // Objects being verified and stored have left the fetcher's slots (Fetcher.fetchInto): as
    // many again as there are requests in flight may wait for the store.
    while (this.stop === null && this.active < 2 * this.init.concurrency && this.head < this.queue.length) {
      const j = this.queue[this.head++]!;
      this.active++;
      this.run(j).then(
        () => {
          this.active--;
          const n = this.left.get(j.batch)! - 1;
          if (n === 0) {
            this.left.delete(j.batch);
            this.post({ type: 'done', batch: j.batch, stats: this.delta() });
          } else this.left.set(j.batch, n);
          this.pump();
        },
        (e: unknown) => {
          this.active--;
          this.stop ??= { error: wire(e) };
          this.stop.error ??= wire(e);
          this.pump();
        },
      );
    }
    if (this.head >= this.queue.length || this.stop !== null) {
      this.queue = this.stop !== null ? [] : this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.stop !== null && this.active === 0) {
      const batches = [...this.left.keys()];
      this.left.clear();
      const msg: FromWorker = this.stop.error ? { type: 'failed', batches, error: this.stop.error, stats: this.delta() } : { type: 'stopped', batches, stats: this.delta() };
      this.stop = null;
      this.post(msg);
    }
  }

  onMessage(m: ToWorker): void {
    if (m.type === 'abort') {
      if (this.left.size === 0 && this.active === 0) {
        this.post({ type: 'stopped', batches: [], stats: this.delta() });
        return;
      }
      this.stop ??= { error: null };
      this.pump();
      return;
    }
    if (this.target?.dir !== m.dir) this.target = stageTarget(m.dir);
    const target = this.target;
    this.left.set(m.batch, m.checksums.length);
    for (const checksum of m.checksums) this.queue.push({ batch: m.batch, checksum, target, mode: m.mode });
    this.pump();
  }
}

const init = workerData as ContentWorkerInit | null;
if (parentPort && init?.ingotPullContentWorker) {
  const port = parentPort;
  const runner = new ContentRunner(init, (m) => port.postMessage(m));
  port.on('message', (m: ToWorker) => runner.onMessage(m));
}
