/**
 * An HTTP/1.1 client for pulling from OSTree repositories: one keep-alive agent per client
 * with many connections in flight, a stall timeout (no byte for `stallMs` ends the request with
 * ETIMEDOUT, whether it waits for the headers or for the next body byte), redirects (never from
 * https to http), and `file://` URLs served from the local file system with the same shape.
 *
 * This module only speaks HTTP: it does not retry, interpret statuses or verify bodies. Its
 * errors are node system errors with an errno-like `code` (ECONNRESET, ETIMEDOUT, ...), so that
 * the caller (transport/fetcher.ts) decides what is transient.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { IngotError, errnoCode } from '../core/errors.js';

export interface HttpClientOptions {
  /** Connections per host (default 16). */
  maxSockets?: number;
  /** Abort a request after this many ms without a byte (default 30 s). */
  stallMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body; the caller must consume or destroy it. */
  body: Readable;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

function sysError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export class HttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  readonly stallMs: number;

  constructor(opts: HttpClientOptions = {}) {
    const maxSockets = opts.maxSockets ?? 16;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
    this.stallMs = opts.stallMs ?? 30000;
  }

  /** The last http(s) origin parsed: URLs under it with plain path characters skip the URL parser. */
  private origin: { prefix: string; base: URL } | null = null;

  /**
   * A URL object for `url` without running the WHATWG parser, when `url` is the last origin
   * followed by a path that needs no normalising (a pull asks for thousands of
   * `objects/XX/REST.EXT` on one host). Null sends the caller to `new URL`.
   */
  private fastPath(url: string): URL | null {
    const o = this.origin;
    if (!o || !url.startsWith(o.prefix)) return null;
    const rest = url.slice(o.prefix.length);
    // Plain characters only, and no empty, `.` or `..` segment (the parser would rewrite those).
    if (!/^[A-Za-z0-9_~.\/-]*$/.test(rest) || /(?:^|\/)\.{0,2}(?:\/|$)/.test(rest)) return null;
    return { protocol: o.base.protocol, hostname: o.base.hostname, port: o.base.port, pathname: `/${rest}`, search: '', username: o.base.username, password: o.base.password } as URL;
  }

  /** GET `url`. Resolves once the response headers arrived (after following redirects). */
  get(url: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.open(url, headers, 0);
  }

  /** Closes idle keep-alive connections (requests still running finish). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private open(url: string, headers: Record<string, string>, hops: number): Promise<HttpResponse> {
    let u: URL;
    const fast = this.fastPath(url);
    if (fast) u = fast;
    else {
      try {
        u = new URL(url);
      } catch {
        return Promise.reject(new IngotError('INVALID_ARGUMENT', `'${url}' is not a valid URL`, { hint: 'use http://HOST/PATH, https://... or file:///PATH' }));
      }
      if (u.protocol === 'http:' || u.protocol === 'https:') this.origin = { prefix: `${u.protocol}//${u.host}/`, base: u };
    }
    if (u.protocol === 'file:') return openFile(u, headers);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      return Promise.reject(new IngotError('INVALID_ARGUMENT', `unsupported URL scheme in '${url}'`, { hint: 'use http://, https:// or file://' }));
    }
    const mod = u.protocol === 'https:' ? https : http;
    const agent = u.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    const options: http.RequestOptions = {
      protocol: u.protocol,
      hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      agent,
      headers: { 'User-Agent': 'ingot', ...headers },
    };
    if (u.username || u.password) options.auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = mod.get(options, (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (!REDIRECTS.has(status) || !location) {
          // The stall timer stays armed on the socket while the body streams.
          res.on('error', () => undefined);
          resolve({ status, headers: res.headers, body: res });
          return;
        }
        res.resume();
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          reject(sysError(`${url}: redirected to an invalid location '${location}'`, 'EREDIRECT'));
          return;
        }
        if (hops >= MAX_REDIRECTS) reject(sysError(`${url}: more than ${MAX_REDIRECTS} redirects`, 'EREDIRECT'));
        else if (u.protocol === 'https:' && next.protocol !== 'https:') reject(sysError(`${url}: refusing the redirect from https to ${next.href}`, 'EREDIRECT'));
        else resolve(this.open(next.href, headers, hops + 1));
      });
      req.setTimeout(this.stallMs, () => req.destroy(sysError(`no data for ${this.stallMs} ms`, 'ETIMEDOUT')));
      req.on('error', reject);
    });
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
