/**
 * An HTTP/1.1 client for pulling from OSTree repositories: keep-alive connections with several
 * requests pipelined on each (undici; GETs only, so a connection that fails mid-pipeline only
 * costs retries), a stall timeout (no byte for `stallMs` ends the request with ETIMEDOUT,
 * whether it waits for the headers or for the next body byte), redirects (never from https to
 * http), and `file://` URLs served from the local file system with the same shape.
 *
 * This module only speaks HTTP: it does not retry, interpret statuses or verify bodies. Its
 * errors are node system errors with an errno-like `code` (ECONNRESET, ETIMEDOUT, ...; see
 * `httpErrorCode` for undici's own), so that the caller (transport/fetcher.ts) decides what is
 * transient.
 */
import * as fs from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { buildConnector as BuildConnector } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import buildConnector from 'undici/lib/core/connect.js';
import { IngotError, errnoCode } from '../core/errors.js';

export interface HttpClientOptions {
  /** Requests in flight per host (default 16): spread over up to 4 connections, pipelined. */
  maxSockets?: number;
  /** Abort a request after this many ms without a byte (default 30 s). */
  stallMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body; the caller must consume, discard or destroy it. */
  body: HttpBody;
}

/**
 * A response body, read once. HTTP bodies arrive through undici's dispatch handler (no
 * Readable stream and no async iterator per response: a pull makes thousands of requests per
 * second, and those were a fifth of its CPU); file:// bodies are file streams.
 */
export interface HttpBody {
  /**
   * Passes each chunk to `onChunk` (a returned promise pauses the body until it settles);
   * resolves at the end, rejects with the transport's error or with what `onChunk` threw (the
   * request is then aborted).
   */
  consume(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void>;
  /** Stops the body: the request is aborted (its connection is not reused). */
  destroy(): void;
  /** Reads the rest and drops it (the connection stays usable). */
  discard(): void;
}

/**
 * An undici response body fed by a dispatch handler (see `HttpBody`). Chunks queue until the
 * consumer takes them; while the consumer's promise for a chunk is pending, undici is told to
 * pause the socket (onData returns false) and resumed once the queue is empty again.
 */
class DispatchBody implements HttpBody {
  private queue: Buffer[] = [];
  private ended = false;
  private error: Error | null = null;
  private done = false;
  private dropping = false;
  /** The consumer's promise for a chunk is pending. */
  private waiting = false;
  /** undici was told to pause: resume it once the consumer catches up. */
  private stalled = false;
  private onChunk: ((chunk: Buffer) => void | Promise<void>) | null = null;
  private settle: { resolve: () => void; reject: (e: unknown) => void } | null = null;

  constructor(
    private readonly abort: (e: Error) => void,
    private readonly resume: () => void,
  ) {}

  consume(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.onChunk = onChunk;
      this.pump();
    });
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.queue = [];
    const e = Object.assign(new Error('response body destroyed'), { code: 'UND_ERR_ABORTED' });
    this.settle?.reject(e);
    this.abort(e);
  }

  discard(): void {
    this.dropping = true;
    this.queue = [];
    if (this.stalled) {
      this.stalled = false;
      this.resume();
    }
  }

  /** undici's onData: false pauses the socket until the consumer catches up. */
  push(chunk: Buffer): boolean {
    if (this.done || this.dropping) return true;
    this.queue.push(chunk);
    this.pump();
    if (this.waiting) {
      this.stalled = true;
      return false;
    }
    return true;
  }

  end(): void {
    this.ended = true;
    this.pump();
  }

  fail(e: Error): void {
    if (this.done) return;
    this.error = e;
    this.pump();
  }

  private pump(): void {
    if (!this.onChunk || this.done) return;
    while (!this.waiting && this.queue.length > 0) {
      const c = this.queue.shift()!;
      let r: void | Promise<void>;
      try {
        r = this.onChunk(c);
      } catch (e) {
        this.stop(e);
        return;
      }
      if (r) {
        this.waiting = true;
        r.then(
          () => {
            this.waiting = false;
            if (this.done) return;
            this.pump();
            if (!this.waiting && this.stalled && !this.done) {
              this.stalled = false;
              this.resume();
            }
          },
          (e: unknown) => this.stop(e),
        );
      }
    }
    if (this.waiting || this.queue.length > 0 || this.done || !this.settle) return;
    if (this.error) {
      this.done = true;
      this.settle.reject(this.error);
    } else if (this.ended) {
      this.done = true;
      this.settle.resolve();
    }
  }

  /** The consumer failed: the body is abandoned and the request aborted. */
  private stop(e: unknown): void {
    if (this.done) return;
    this.done = true;
    this.queue = [];
    this.settle?.reject(e);
    this.abort(Object.assign(new Error('response body abandoned'), { code: 'UND_ERR_ABORTED' }));
  }
}

/** A file stream as an HttpBody (file:// URLs). */
class StreamBody implements HttpBody {
  constructor(private readonly stream: Readable) {
    stream.on('error', () => undefined);
  }

  async consume(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    try {
      for await (const c of this.stream as AsyncIterable<Buffer>) {
        const p = onChunk(c);
        if (p) await p;
      }
    } catch (e) {
      this.stream.destroy();
      throw e;
    }
  }

  destroy(): void {
    this.stream.destroy();
  }

  discard(): void {
    this.stream.resume();
  }
}

/** Response headers from undici's raw list (name, value, ...), names in lower case. */
function parseRawHeaders(raw: Buffer[]): IncomingHttpHeaders {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!.toString('latin1').toLowerCase();
    const v = raw[i + 1]!.toString('latin1');
    out[k] = out[k] === undefined ? v : `${out[k]}, ${v}`;
  }
  return out as IncomingHttpHeaders;
}

/** Sends one GET through `agent`; resolves once the response headers arrived. */
function dispatchGet(agent: Agent, origin: string, reqPath: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: DispatchBody }> {
  return new Promise((resolve, reject) => {
    let abort: (e: Error) => void = () => undefined;
    let body: DispatchBody | null = null;
    agent.dispatch(
      { origin, path: reqPath, method: 'GET', headers },
      {
        onConnect(a) {
          abort = a;
        },
        onHeaders(status, raw, resume) {
          if (status < 200) return true;
          body = new DispatchBody((e) => abort(e), resume);
          resolve({ status, headers: parseRawHeaders(raw), body });
          return true;
        },
        onData(chunk) {
          return body ? body.push(chunk) : true;
        },
        onComplete() {
          body?.end();
        },
        onError(e) {
          if (body) body.fail(e);
          else reject(e);
        },
      },
    );
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

function sysError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The errno-like code of an error from this client: undici's socket, timeout and length
 * errors as the node system codes they stand for (ECONNRESET for a connection closed early,
 * ETIMEDOUT for a stall), anything else unchanged.
 */
export function httpErrorCode(e: unknown): string | undefined {
  const c = errnoCode(e);
  switch (c) {
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return 'ECONNRESET';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'ETIMEDOUT';
    default:
      return c;
  }
}

/** `e` as a node-style system error (see `httpErrorCode`), keeping its message and cause. */
export function normalizedHttpError(e: unknown): unknown {
  const c = errnoCode(e);
  const code = httpErrorCode(e);
  if (!c || code === c) return e;
  const msg = code === 'ETIMEDOUT' ? 'no data within the stall timeout' : `connection closed early (${(e as Error).message})`;
  return Object.assign(new Error(msg, { cause: e }), { code });
}

/**
 * undici's connector, with the requests one tick writes to a connection sent together: undici
 * writes each pipelined request with its own `socket.write` (one system call, and on loopback
 * one segment for the server to take in, each), so the socket is corked at its first write in
 * a tick and uncorked on the next (`process.nextTick`, as node's own HTTP client does), which
 * sends them as one `writev`.
 */
function coalescingConnector(timeout: number): BuildConnector.connector {
  const connect = buildConnector({ timeout });
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      if (socket) coalesceWrites(socket);
      if (err) callback(err, null);
      else callback(null, socket!);
    });
}

function coalesceWrites(socket: Socket): void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: unknown[]): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
}

export class HttpClient {
  /** Pipelining agent: up to 4 connections per origin, the requests in flight spread over them. */
  private readonly agent: Agent;
  /** One request per connection, for origins that close connections (HTTP/1.0 servers, `Connection: close`). */
  private readonly plain: Agent;
  /** Origins seen closing a connection: their requests go through `plain`. */
  private readonly noPipelining = new Set<string>();
  readonly stallMs: number;

  constructor(opts: HttpClientOptions = {}) {
    const inFlight = Math.max(1, opts.maxSockets ?? 16);
    const connections = Math.min(4, inFlight);
    this.stallMs = opts.stallMs ?? 30000;
    const timeouts = { headersTimeout: this.stallMs, bodyTimeout: this.stallMs, connectTimeout: this.stallMs };
    this.agent = new Agent({ connections, pipelining: Math.ceil(inFlight / connections), ...timeouts, connect: coalescingConnector(this.stallMs) });
    // As many connections as the pipelining agent: servers that close connections are often
    // small ones with short listen queues (Python's http.server: 5), where more connects at
    // once overflow the queue and wait for SYN retransmits.
    this.plain = new Agent({ connections, pipelining: 1, ...timeouts });
  }

  /** GET `url`. Resolves once the response headers arrived (after following redirects). */
  get(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.open(url, headers, 0);
  }

  /** Closes the keep-alive connections once the requests still running finish. */
  close(): void {
    this.agent.close().catch(() => undefined);
    this.plain.close().catch(() => undefined);
  }

  /** The last http(s) origin parsed: URLs under it with plain path characters skip the URL parser. */
  private last: { prefix: string; origin: string; protocol: string; auth: string | null } | null = null;

  private async open(url: string, headers: Record<string, string>, hops: number): Promise<HttpResponse> {
    let origin: string;
    let reqPath: string;
    let protocol: string;
    let auth: string | null;
    const o = this.last;
    const rest = o && url.startsWith(o.prefix) ? url.slice(o.prefix.length) : null;
    // Plain characters only, and no empty, `.` or `..` segment (the URL parser would rewrite those).
    if (o && rest !== null && /^[A-Za-z0-9_~.\/-]*$/.test(rest) && !/(?:^|\/)\.{0,2}(?:\/|$)/.test(rest)) {
      origin = o.origin;
      reqPath = `/${rest}`;
      protocol = o.protocol;
      auth = o.auth;
    } else {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new IngotError('INVALID_ARGUMENT', `'${url}' is not a valid URL`, { hint: 'use http://HOST/PATH, https://... or file:///PATH' });
      }
      if (u.protocol === 'file:') return openFile(u, headers);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw new IngotError('INVALID_ARGUMENT', `unsupported URL scheme in '${url}'`, { hint: 'use http://, https:// or file://' });
      }
      origin = u.origin;
      reqPath = `${u.pathname}${u.search}`;
      protocol = u.protocol;
      auth = u.username || u.password ? Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64') : null;
      this.last = { prefix: `${u.protocol}//${u.host}/`, origin, protocol, auth };
    }
    const h: Record<string, string> = { 'user-agent': 'ingot', ...headers };
    if (auth) h['authorization'] = `Basic ${auth}`;
    const piped = !this.noPipelining.has(origin);
    let res;
    try {
      res = await dispatchGet(piped ? this.agent : this.plain, origin, reqPath, h);
    } catch (e) {
      // A connection closed under pipelined requests: the server does not keep connections
      // (or drops pipelines); the caller retries, one request per connection from now on.
      if (piped && httpErrorCode(e) === 'ECONNRESET') this.noPipelining.add(origin);
      throw normalizedHttpError(e);
    }
    if (piped && /\bclose\b/i.test(String(res.headers['connection'] ?? ''))) this.noPipelining.add(origin);
    const status = res.status;
    const location = res.headers['location'];
    if (!REDIRECTS.has(status) || typeof location !== 'string') return res;
    res.body.discard();
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw sysError(`${url}: redirected to an invalid location '${location}'`, 'EREDIRECT');
    }
    if (hops >= MAX_REDIRECTS) throw sysError(`${url}: more than ${MAX_REDIRECTS} redirects`, 'EREDIRECT');
    if (protocol === 'https:' && next.protocol !== 'https:') throw sysError(`${url}: refusing the redirect from https to ${next.href}`, 'EREDIRECT');
    return this.open(next.href, headers, hops + 1);
  }
}

function openFile(u: URL, headers: Record<string, string>): Promise<HttpResponse> {
  const p = fileURLToPath(u);
  return new Promise((resolve, reject) => {
    fs.stat(p, (err, st) => {
      if (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          resolve({ status: 404, headers: {}, body: new StreamBody(fs.createReadStream('/dev/null')) });
        } else reject(err);
        return;
      }
      if (!st.isFile()) {
        resolve({ status: 404, headers: {}, body: new StreamBody(fs.createReadStream('/dev/null')) });
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(headers['Range'] ?? '');
      const start = m ? Math.min(Number(m[1]), st.size) : 0;
      resolve({
        status: m ? 206 : 200,
        headers: {
          'content-length': String(st.size - start),
          ...(m ? { 'content-range': `bytes ${start}-${st.size - 1}/${st.size}` } : {}),
        },
        body: new StreamBody(fs.createReadStream(p, { start, highWaterMark: 256 * 1024 })),
      });
    });
  });
}
