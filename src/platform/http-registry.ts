/**
 * The HTTP exchange the registry client (src/oci/registry) needs: one request with any method,
 * a request body given as bytes or as a stream of known length, the response status, headers
 * and body stream handed back unread. Connections are kept alive and pooled per scheme and TLS
 * policy, since a push or pull makes many small requests (HEAD per blob, PATCH per chunk) to one
 * host. Redirects, authentication, retries and status handling are the caller's: they depend on
 * the registry protocol, not on HTTP.
 *
 * Failures before a response are thrown as they come from Node (with their errno-style `code`);
 * `classifyNetError` tells the caller whether retrying can help and whether TLS is the cause.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { pipeline, type Readable } from 'node:stream';

export interface RegistryHttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** The body: bytes, or a stream whose length is `contentLength` (sent as Content-Length). */
  body?: Buffer | Readable;
  contentLength?: number;
  /** Verify the server certificate (https only; default true). */
  tlsVerify?: boolean;
  /** Socket inactivity limit in ms (default 60 s): a stalled server fails with ETIMEDOUT. */
  timeoutMs?: number;
}

export interface RegistryHttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The response body, not yet read. The caller must consume it or call `discard`. */
  body: Readable;
  /** Reads and drops the rest of the body, so the connection can be reused. */
  discard(): void;
}

const agents = new Map<string, http.Agent>();

function agentFor(protocol: string, tlsVerify: boolean): http.Agent {
  const key = `${protocol}${tlsVerify ? '' : ':insecure'}`;
  let a = agents.get(key);
  if (!a) {
    a =
      protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: tlsVerify })
        : new http.Agent({ keepAlive: true, maxSockets: 8 });
    agents.set(key, a);
  }
  return a;
}

/** Sends one request; resolves when the response headers arrive. */
export function registryHttp(req: RegistryHttpRequest): Promise<RegistryHttpResponse> {
  const u = new URL(req.url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(Object.assign(new Error(`unsupported URL scheme in ${req.url}`), { code: 'ERR_INVALID_URL_SCHEME' }));
  }
  const mod = u.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { 'User-Agent': 'ingot', ...req.headers };
  if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
  else if (req.body) headers['Content-Length'] = String(req.contentLength ?? 0);
  else if (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH') headers['Content-Length'] = '0';
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    const r = mod.request(u, { method: req.method, headers, agent: agentFor(u.protocol, req.tlsVerify ?? true) }, (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: res,
        discard: () => {
          res.on('error', () => undefined);
          res.resume();
        },
      });
    });
    r.setTimeout(req.timeoutMs ?? 60000, () => r.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    r.on('error', fail);
    if (Buffer.isBuffer(req.body)) r.end(req.body);
    else if (req.body) {
      // A failing body stream (a digest check, a read error) aborts the request; the error it
      // carries is the one the caller sees.
      pipeline(req.body, r, (e) => {
        if (e) {
          r.destroy(e);
          fail(e);
        }
      });
    } else r.end();
  });
}

export interface NetErrorClass {
  /** Retrying may help: reset, refused, timeout, DNS hiccup, broken pipe. */
  transient: boolean;
  /** The TLS handshake or certificate check failed (or plain HTTP met a TLS server). */
  tls: boolean;
  code: string;
}

const TRANSIENT = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Classifies an error thrown by `registryHttp` or by reading a response body. */
export function classifyNetError(e: unknown): NetErrorClass {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? ((e as { code: string }).code) : 'EIO';
  const tls =
    /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL_|ERR_TLS_|HOSTNAME_MISMATCH)/.test(code) || code === 'EPROTO' || code === 'ERR_TLS_CERT_ALTNAME_INVALID';
  return { transient: TRANSIENT.has(code), tls, code };
}

/** Reads a whole (small) response body, failing with code E2BIG past `max` bytes. */
export async function readRegistryBody(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      body.destroy();
      throw Object.assign(new Error(`response body exceeds ${max} bytes`), { code: 'E2BIG' });
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
