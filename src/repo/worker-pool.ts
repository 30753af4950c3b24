/**
 * A pool of commit worker threads, one per core. Jobs are sent in batches to amortise message
 * cost; each worker gets a new batch as soon as it answers, so fast and slow files balance.
 */
import { Worker } from 'node:worker_threads';
import * as os from 'node:os';
import { IngotError } from '../core/errors.js';
import type { ErrorCode } from '../core/codes.js';
import type { WorkerInit, WorkerJob } from './worker.js';

const MAX_BATCHES = 3;

interface Pending {
  id: number;
  job: WorkerJob;
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Worker threads for the CPU- and syscall-heavy per-file work: storing files on commit,
 * materialising them on checkout, verifying them in fsck (see worker.ts for the jobs).
 */
export class WorkerPool {
  private workers: Worker[] = [];
  /** Batches in flight per worker; a worker gets up to MAX_BATCHES so it never waits on us. */
  private load = new Map<Worker, number>();
  private queue: Pending[] = [];
  private inflight = new Map<number, Pending>();
  private nextId = 1;
  private failed: unknown = null;
  private readonly batchSize: number;

  constructor(init: WorkerInit, threads = defaultThreads(), batchSize = 32) {
    this.batchSize = batchSize;
    const url = new URL('./worker.js', import.meta.url);
    for (let i = 0; i < threads; i++) {
      // Small young generations: several isolates with default 16 MB semi-spaces would spend
      // the memory budget on garbage that a minor GC frees anyway.
      const w = new Worker(url, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 96 } });
      w.on('message', (results: { id: number; result?: unknown; error?: { code: string; message: string; hint?: string; data?: Record<string, unknown> } }[]) => {
        for (const r of results) {
          const p = this.inflight.get(r.id);
          if (!p) continue;
          this.inflight.delete(r.id);
          if (r.error) {
            p.reject(new IngotError(r.error.code as ErrorCode, r.error.message, { hint: r.error.hint, data: r.error.data }));
          } else {
            p.resolve(r.result);
          }
        }
        this.load.set(w, this.load.get(w)! - 1);
        this.pump();
        this.wake();
      });
      w.on('error', (e) => {
        this.failed = e;
        for (const p of this.inflight.values()) p.reject(e);
        this.inflight.clear();
        for (const p of this.queue) p.reject(e);
        this.queue = [];
        this.wake();
      });
      this.workers.push(w);
      this.load.set(w, 0);
    }
  }

  /** Jobs submitted and not yet answered. */
  get backlog(): number {
    return this.queue.length + this.inflight.size;
  }

  private waiters: { limit: number; resolve: () => void }[] = [];

  /** Resolves once the backlog is at most `limit` (or a worker failed). */
  waitBelow(limit: number): Promise<void> {
    if (this.backlog <= limit || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ limit, resolve }));
  }

  /** Resolves once every submitted job was answered. */
  idle(): Promise<void> {
    this.pump();
    return this.waitBelow(0);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const b = this.backlog;
    this.waiters = this.waiters.filter((w) => {
      if (b <= w.limit || this.failed) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  submit<R>(job: WorkerJob): Promise<R> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve: resolve as (r: unknown) => void, reject });
      if (this.queue.length >= this.batchSize) this.pump();
    });
  }

  /** Sends queued jobs to idle workers. Call after a burst of submits. */
  pump(): void {
    while (this.queue.length > 0) {
      let w: Worker | null = null;
      for (const c of this.workers) if (this.load.get(c)! < MAX_BATCHES && (!w || this.load.get(c)! < this.load.get(w)!)) w = c;
      if (!w) return;
      this.load.set(w, this.load.get(w)! + 1);
      const jobs = this.queue.splice(0, this.batchSize);
      for (const j of jobs) this.inflight.set(j.id, j);
      w.postMessage(jobs.map((j) => ({ id: j.id, job: j.job })));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}

export function defaultThreads(): number {
  const env = Number(process.env['INGOT_THREADS']);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, os.availableParallelism());
}
