/**
 * The main-thread side of the content slots (pull-worker.ts): the main thread's own runner and
 * a few worker threads, each fetching, verifying and staging whole content objects on its own
 * keep-alive connections, fed with batches of checksums while the main thread walks the
 * dirtrees.
 *
 * Contract:
 * - `session(dir, mode, hooks)` starts one walk's worth of content; `add` queues a checksum,
 *   `finish` resolves once every queued object is staged, or rejects with the first error
 *   after the workers stopped (nothing is left writing into the staging).
 * - Objects are sent in batches (one message per batch, not per object); a worker holds at
 *   most a few batches beyond its requests in flight, so that the threads stay balanced.
 * - `hooks.staged` gets the checksums of each finished batch (the caller's bookkeeping),
 *   `hooks.bytes` the bytes received as they arrive (progress).
 */
import { Worker } from 'node:worker_threads';
import { IngotError } from '../core/errors.js';
import type { ErrorCode } from '../core/codes.js';
import type { RepoMode } from '../repo/repo.js';
import type { FetchStats } from './fetcher.js';
import { ContentRunner, type ContentWorkerInit, type FromWorker, type ToWorker, type WireError } from './pull-worker.js';

/** Objects per message to a worker. */
const BATCH = 16;

export interface ContentWorkerOptions {
  baseUrl: string;
  /** Content requests in flight over all threads. */
  concurrency: number;
  retries: number;
  stallMs: number;
}

export interface SessionHooks {
  staged(checksums: string[]): void;
  bytes(n: number): void;
}

interface Slot {
  /** A worker thread, or the runner on the main thread. */
  worker: Worker | null;
  inline: ContentRunner | null;
  /** Objects sent and not finished. */
  outstanding: number;
}

function fromWire(e: WireError): IngotError {
  return new IngotError(e.code as ErrorCode, e.message, { hint: e.hint, data: e.data ?? {} });
}

export class ContentWorkers {
  readonly stats: FetchStats = { requests: 0, retries: 0, bytes: 0 };
  private readonly slots: Slot[] = [];
  private readonly perWorker: number;
  private current: ContentSession | null = null;
  private seq = 1;

  /**
   * `threads` content slots: the main thread's own runner and `threads - 1` worker threads
   * (`threads` 1: the main thread alone).
   */
  constructor(threads: number, opts: ContentWorkerOptions) {
    const url = new URL('./pull-worker.js', import.meta.url);
    this.perWorker = Math.max(1, Math.ceil(opts.concurrency / threads));
    const init: ContentWorkerInit = { ingotPullContentWorker: true, baseUrl: opts.baseUrl, concurrency: this.perWorker, retries: opts.retries, stallMs: opts.stallMs };
    const own: Slot = { worker: null, inline: null, outstanding: 0 };
    // Its answers are delivered asynchronously, as a thread's would be.
    own.inline = new ContentRunner(init, (m) => queueMicrotask(() => this.onMessage(own, m)));
    this.slots.push(own);
    for (let i = 1; i < threads; i++) {
      const worker = new Worker(url, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 } });
      const slot: Slot = { worker, inline: null, outstanding: 0 };
      worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
      worker.on('error', (e) => this.current?.workerGone(slot, new IngotError('INTERNAL', `pull worker: ${e?.stack ?? String(e)}`)));
      worker.on('exit', (code) => this.current?.workerGone(slot, new IngotError('INTERNAL', `a pull worker exited (status ${code})`)));
      this.slots.push(slot);
    }
  }

  session(dir: string, mode: RepoMode, hooks: SessionHooks): ContentSession {
    this.current = new ContentSession(this, dir, mode, hooks);
    return this.current;
  }

  /** @internal */
  send(slot: Slot, m: ToWorker): void {
    if (slot.inline) {
      const r = slot.inline;
      queueMicrotask(() => r.onMessage(m));
    } else slot.worker!.postMessage(m);
  }

  /** @internal */
  nextBatch(): number {
    return this.seq++;
  }

  /** @internal */
  get workerSlots(): readonly Slot[] {
    return this.slots;
  }

  /** @internal: how many objects a worker may hold (in flight plus queued). */
  get capacity(): number {
    return this.perWorker * 3;
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    this.stats.requests += m.stats.requests;
    this.stats.retries += m.stats.retries;
    this.stats.bytes += m.stats.bytes;
    this.current?.onMessage(slot, m);
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    this.current = null;
    for (const s of slots) s.inline?.close();
    await Promise.all(slots.map((s) => s.worker?.terminate()));
  }
}

export class ContentSession {
  /** The first error (a worker's, or the walk's through `abort`). */
  error: unknown = null;
  private pending: string[] = [];
  private readonly batches = new Map<number, { slot: Slot; checksums: string[] }>();
  private ending = false;
  private stopping = new Set<Slot>();
  private done: { resolve: () => void; reject: (e: unknown) => void } | null = null;

  constructor(
    private readonly owner: ContentWorkers,
    private readonly dir: string,
    private readonly mode: RepoMode,
    private readonly hooks: SessionHooks,
  ) {}

  /** Queues content object `checksum` (its staged name is decided by the mode). */
  add(checksum: string): void {
    if (this.error !== null) return;
    this.pending.push(checksum);
    if (this.pending.length >= BATCH) this.dispatch();
  }

  /** Sends queued objects to workers with room; partial batches only to a worker that would idle. */
  dispatch(): void {
    if (this.error !== null) return;
    const cap = this.owner.capacity;
    for (;;) {
      if (this.pending.length === 0) return;
      let best: Slot | null = null;
      for (const s of this.owner.workerSlots) if (best === null || s.outstanding < best.outstanding) best = s;
      if (best === null || best.outstanding >= cap) return;
      const starving = best.outstanding < BATCH;
      if (this.pending.length < BATCH && !starving && !this.ending) return;
      const checksums = this.pending.splice(Math.max(0, this.pending.length - BATCH));
      const batch = this.owner.nextBatch();
      this.batches.set(batch, { slot: best, checksums });
      best.outstanding += checksums.length;
      this.owner.send(best, { type: 'fetch', batch, dir: this.dir, mode: this.mode, checksums });
    }
  }

  /** Resolves when everything queued is staged; rejects with the first error once all workers stopped. */
  finish(): Promise<void> {
    this.ending = true;
    this.dispatch();
    return new Promise((resolve, reject) => {
      this.done = { resolve, reject };
      this.settle();
    });
  }

  /** Stops the workers after a failure elsewhere (the walk's): queued objects are dropped. */
  abort(e: unknown): void {
    this.fail(e);
  }

  /** @internal */
  onMessage(slot: Slot, m: FromWorker): void {
    if (m.stats.bytes > 0) this.hooks.bytes(m.stats.bytes);
    switch (m.type) {
      case 'progress':
        return;
      case 'done': {
        const b = this.batches.get(m.batch);
        if (!b) return;
        this.batches.delete(m.batch);
        slot.outstanding -= b.checksums.length;
        this.hooks.staged(b.checksums);
        this.dispatch();
        break;
      }
      case 'failed':
      case 'stopped':
        for (const n of m.batches) {
          const b = this.batches.get(n);
          if (!b) continue;
          this.batches.delete(n);
          slot.outstanding -= b.checksums.length;
        }
        this.stopping.delete(slot);
        if (m.type === 'failed') this.fail(fromWire(m.error));
        break;
    }
    this.settle();
  }

  /** @internal: a worker died; what it held is lost. */
  workerGone(slot: Slot, e: IngotError): void {
    for (const [n, b] of this.batches) {
      if (b.slot !== slot) continue;
      this.batches.delete(n);
      slot.outstanding -= b.checksums.length;
    }
    this.stopping.delete(slot);
    this.fail(e);
    this.settle();
  }

  private fail(e: unknown): void {
    if (this.error !== null) return;
    this.error = e;
    this.pending = [];
    // Every worker still holding objects stops and answers `stopped` (or `failed`).
    for (const s of this.owner.workerSlots) {
      if (s.outstanding > 0 && !this.stopping.has(s)) {
        this.stopping.add(s);
        this.owner.send(s, { type: 'abort' });
      }
    }
  }

  private settle(): void {
    if (!this.done) return;
    if (this.error !== null) {
      if (this.batches.size === 0 && this.stopping.size === 0) this.done.reject(this.error);
      return;
    }
    if (this.pending.length === 0 && this.batches.size === 0) this.done.resolve();
  }
}
