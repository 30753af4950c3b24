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
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
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
  /** The body; the caller must consume or destroy it. */
  body: Readable;
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
    this.agent = new Agent({ connections, pipelining: Math.ceil(inFlight / connections), ...timeouts });
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
      res = await (piped ? this.agent : this.plain).request({ origin, path: reqPath, method: 'GET', headers: h });
    } catch (e) {
      // A connection closed under pipelined requests: the server does not keep connections
      // (or drops pipelines); the caller retries, one request per connection from now on.
      if (piped && httpErrorCode(e) === 'ECONNRESET') this.noPipelining.add(origin);
      throw normalizedHttpError(e);
    }
    if (piped && /\bclose\b/i.test(String(res.headers['connection'] ?? ''))) this.noPipelining.add(origin);
    const status = res.statusCode;
    const location = res.headers['location'];
    if (!REDIRECTS.has(status) || typeof location !== 'string') {
      res.body.on('error', () => undefined);
      return { status, headers: res.headers as IncomingHttpHeaders, body: res.body };
    }
    res.body.on('error', () => undefined);
    res.body.resume();
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
          resolve({ status: 404, headers: {}, body: fs.createReadStream('/dev/null') });
        } else reject(err);
        return;
      }
      if (!st.isFile()) {
        resolve({ status: 404, headers: {}, body: fs.createReadStream('/dev/null') });
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
        body: fs.createReadStream(p, { start, highWaterMark: 256 * 1024 }),
      });
    });
  });
}
