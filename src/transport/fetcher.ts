/**
 * Fetching the files of a remote OSTree repository: many requests in flight on keep-alive
 * connections (a fixed number of slots), every body fed to a sink that verifies it while it
 * streams, and bounded retries with backoff where retrying is right.
 *
 * Contract:
 * - Transient failures are retried (at most `retries` attempts per file, backoff 200 ms
 *   doubling): HTTP 5xx, 408 and 429, a connection reset or refused, a stall (no byte for
 *   the stall timeout), a body shorter than its Content-Length, and a malformed HTTP response.
 *   A retry of a partly received body asks for the rest with `Range: bytes=N-` and continues
 *   the same sink; a server that answers 200 instead restarts the sink from byte 0.
 * - A body the sink refuses (PULL_OBJECT_CORRUPT: wrong checksum, corrupt compression) is
 *   fetched once more from byte 0 (a proxy or a mirror half-way through a sync can serve a bad
 *   copy), then the error stands.
 * - Not retried: 404 (NOT_FOUND_REMOTE, or `null` for optional files), other 4xx, and an HTML
 *   page where a repository file was expected (NETWORK_ERROR naming the URL).
 * - Nothing here writes to the repository: sinks decide what becomes a staged object.
 */
import { IngotError } from '../core/errors.js';
import { HttpClient, httpErrorCode, normalizedHttpError, type HttpResponse } from '../platform/http-client.js';

export interface StreamSink {
  /** Bytes accepted so far: the offset a resumed request continues from. */
  readonly offset: number;
  /** Accepts the next bytes of the body; a returned promise applies backpressure. */
  write(chunk: Buffer): void | Promise<void>;
  /** The body is complete: verify (throw PULL_OBJECT_CORRUPT) and keep it. */
  end(): void | Promise<void>;
  /** Forget everything received: the next attempt starts from byte 0. */
  reset(): void;
  /** Whether a partly received body may be continued with a Range request. */
  readonly resumable: boolean;
}

export interface FetcherOptions {
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** Attempts per file for transient failures (default 5). */
  retries?: number;
  /** No byte for this long aborts an attempt (default 30 s). */
  stallMs?: number;
  /** Called with the size of every body chunk received. */
  onBytes?: (n: number) => void;
}

export interface FetchStats {
  requests: number;
  retries: number;
  bytes: number;
}

class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

type Failure = 'transient' | 'corrupt' | 'fatal';

function classify(e: unknown): Failure {
  if (e instanceof IngotError) {
    if (e.code === 'PULL_OBJECT_CORRUPT') return 'corrupt';
    return e.data['transient'] === true ? 'transient' : 'fatal';
  }
  const c = httpErrorCode(e) ?? '';
  if (['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE'].includes(c)) {
    return 'transient';
  }
  if (c.startsWith('HPE_')) return 'transient';
  return 'fatal';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function drain(res: HttpResponse): void {
  res.body.discard();
}

export class Fetcher {
  readonly baseUrl: string;
  readonly stats: FetchStats = { requests: 0, retries: 0, bytes: 0 };
  private readonly client: HttpClient;
  private readonly slots: Slots;
  private readonly retries: number;
  private readonly onBytes: ((n: number) => void) | undefined;

  constructor(baseUrl: string, opts: FetcherOptions = {}) {
    this.baseUrl = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    const concurrency = opts.concurrency ?? 16;
    this.client = new HttpClient({ maxSockets: concurrency, stallMs: opts.stallMs ?? 30000 });
    this.slots = new Slots(concurrency);
    this.retries = Math.max(1, opts.retries ?? 5);
    this.onBytes = opts.onBytes;
  }

  url(rel: string): string {
    return this.baseUrl + rel;
  }

  close(): void {
    this.client.close();
  }

  /**
   * Fetches a small file whole. `verify` may throw PULL_OBJECT_CORRUPT (retried once).
   * Returns null for 404 when `optional`.
   */
  async fetchBytes(rel: string, opts: { optional?: boolean; maxSize: number; verify?: (b: Buffer) => void }): Promise<Buffer | null> {
    const sink = new BufferSink(opts.verify);
    const found = await this.fetchInto(rel, sink, opts);
    return found ? sink.result() : null;
  }

  /**
   * Streams `rel` into `sink`. Returns false for 404 when `optional`. A request holds one of
   * the fetcher's slots while its response arrives; `sink.end()` (verifying and storing) runs
   * after the slot is free, so that the next request goes out meanwhile.
   */
  async fetchInto(rel: string, sink: StreamSink, opts: { optional?: boolean; maxSize: number }): Promise<boolean> {
    const url = this.url(rel);
    let delay = 200;
    let corruptRetried = false;
    for (let attempt = 1; ; attempt++) {
      await this.slots.acquire();
      let failed = false;
      let err: unknown = null;
      let received = false;
      try {
        received = await this.once(url, sink, opts);
      } catch (e) {
        failed = true;
        err = e;
      } finally {
        this.slots.release();
      }
      if (!failed) {
        if (!received) return false;
        try {
          await sink.end();
          return true;
        } catch (e) {
          err = e;
        }
      }
      const failure = classify(err);
      if (failure === 'corrupt' && !corruptRetried) {
        corruptRetried = true;
        sink.reset();
        this.stats.retries++;
        continue;
      }
      if (failure === 'transient' && attempt < this.retries) {
        if (!sink.resumable) sink.reset();
        this.stats.retries++;
        await sleep(delay);
        delay *= 2;
        continue;
      }
      throw finalError(url, err, attempt);
    }
  }

  /** One request: true once the whole body is in `sink` (not ended yet), false for a missing file. */
  private async once(url: string, sink: StreamSink, opts: { optional?: boolean; maxSize: number }): Promise<boolean> {
    const from = sink.offset;
    this.stats.requests++;
    const res = await this.client.get(url, from > 0 ? { Range: `bytes=${from}-` } : {});
    if (res.status === 404 || res.status === 410) {
      drain(res);
      if (opts.optional) return false;
      throw new IngotError('NOT_FOUND_REMOTE', `${url}: HTTP status ${res.status}`, {
        hint: 'the remote repository lacks this file: check the remote URL, or the server is incomplete',
        data: { url, status: res.status },
      });
    }
    let skip = 0;
    if (res.status === 416 && from > 0) {
      // Nothing after byte `from`: the body may be complete already; the sink's verification
      // decides (a refusal restarts from byte 0).
      drain(res);
      return true;
    }
    if (res.status === 206 && from > 0) {
      const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      const start = m ? Number(m[1]) : -1;
      if (start > from || start < 0) {
        drain(res);
        throw new IngotError('NETWORK_ERROR', `${url}: the server answered the range request from byte ${from} with '${res.headers['content-range'] ?? ''}'`, {
          data: { url, transient: true },
        });
      }
      skip = from - start;
    } else if (res.status === 200) {
      if (from > 0) sink.reset();
    } else {
      drain(res);
      const transient = res.status >= 500 || res.status === 408 || res.status === 429;
      throw new IngotError('NETWORK_ERROR', `${url}: HTTP status ${res.status}`, {
        hint: transient ? 'the server failed; ingot retried; try again later' : 'the server refused the request: check the remote URL',
        data: { url, status: res.status, transient },
      });
    }
    if (/^\s*text\/html\b/i.test(String(res.headers['content-type'] ?? ''))) {
      res.body.destroy();
      throw new IngotError('NETWORK_ERROR', `${url}: the server answered with an HTML page, not the repository file`, {
        hint: 'a proxy, captive portal or misconfigured server returned an error page; check the remote URL',
        data: { url },
      });
    }
    const declared = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
    const base = sink.offset;
    if (declared !== undefined && base + declared - skip > opts.maxSize) {
      res.body.destroy();
      throw new IngotError('PULL_OBJECT_CORRUPT', `${url}: ${base + declared - skip} bytes exceed the limit of ${opts.maxSize}`, {
        hint: 'the server sends something else than a repository object',
        data: { url },
      });
    }
    let got = 0;
    try {
      await res.body.consume((c) => {
        let chunk = c;
        got += chunk.length;
        this.stats.bytes += chunk.length;
        this.onBytes?.(chunk.length);
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.length === 0) return;
        }
        if (sink.offset + chunk.length > opts.maxSize) {
          throw new IngotError('PULL_OBJECT_CORRUPT', `${url}: more than the limit of ${opts.maxSize} bytes`, { data: { url } });
        }
        return sink.write(chunk);
      });
    } catch (e) {
      res.body.destroy();
      if (!(e instanceof IngotError) && httpErrorCode(e) === 'ECONNRESET' && declared !== undefined) {
        throw new IngotError('NETWORK_ERROR', `${url}: connection closed after ${got} of ${declared} bytes`, { cause: e, data: { url, transient: true } });
      }
      throw normalizedHttpError(e);
    }
    if (declared !== undefined && got !== declared) {
      throw new IngotError('NETWORK_ERROR', `${url}: connection closed after ${got} of ${declared} bytes`, {
        data: { url, transient: true },
      });
    }
    return true;
  }
}

function finalError(url: string, e: unknown, attempts: number): IngotError {
  const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
  if (e instanceof IngotError) {
    if (!tries) return e;
    return new IngotError(e.code, `${e.message}${tries}`, { hint: e.hint, cause: e.cause, data: { ...e.data, attempts } });
  }
  const code = httpErrorCode(e) ?? 'EIO';
  const why = code === 'ETIMEDOUT' ? 'the server stalled' : code === 'ECONNREFUSED' ? 'connection refused' : `${(e as Error)?.message ?? code}`;
  return new IngotError('NETWORK_ERROR', `${url}: ${why} [${code}]${tries}`, {
    hint: 'check that the server is reachable and serves the repository; a later pull resumes where this one stopped',
    cause: e,
    data: { url, errno: code, attempts },
  });
}

/** Collects a small body in memory and verifies it at the end. */
export class BufferSink implements StreamSink {
  private chunks: Buffer[] = [];
  private n = 0;
  private done: Buffer | null = null;
  readonly resumable = true;

  constructor(private readonly verify?: (b: Buffer) => void) {}

  get offset(): number {
    return this.n;
  }

  write(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.n += chunk.length;
  }

  end(): void {
    const b = Buffer.concat(this.chunks, this.n);
    this.verify?.(b);
    this.done = b;
  }

  reset(): void {
    this.chunks = [];
    this.n = 0;
    this.done = null;
  }

  result(): Buffer {
    if (!this.done) throw new IngotError('INTERNAL', 'BufferSink.result before end');
    return this.done;
  }
}
