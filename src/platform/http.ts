/**
 * HTTP(S) and file:// fetching for repositories and package downloads: keep-alive agents,
 * bounded retries with backoff for transient failures, resumable downloads into `.part` files
 * (Range requests), size limits, and errors that name the URL. Responses are untrusted: the
 * caller verifies sizes and digests before anything is used.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { IngotError, errnoCode } from '../core/errors.js';

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 8 }),
};

export interface FetchOptions {
  /** Refuse bodies larger than this (default 512 MiB). */
  maxSize?: number;
  /** Attempts for transient failures (default 4). */
  retries?: number;
  /** Per-request idle timeout in ms (default 30 s). */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Bytes received so far (for progress bars). */
  onProgress?: (bytes: number) => void;
}

export class HttpStatusError extends IngotError {}

function netError(url: string, why: string, cause?: unknown, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('NETWORK_ERROR', `${url}: ${why}`, {
    hint: 'check the URL and that the server or mirror is reachable',
    cause,
    data: { url, ...data },
  });
}

function isTransient(e: unknown): boolean {
  if (e instanceof IngotError) return e.data['transient'] === true;
  const c = errnoCode(e);
  return c === 'ECONNRESET' || c === 'ETIMEDOUT' || c === 'ECONNREFUSED' || c === 'EPIPE' || c === 'EAI_AGAIN' || c === 'UND_ERR_SOCKET';
}

async function withRetries<T>(url: string, retries: number, fn: () => Promise<T>): Promise<T> {
  let delay = 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= retries || !isTransient(e)) {
        if (e instanceof IngotError) throw e;
        throw netError(url, `request failed (${errnoCode(e) ?? (e as Error).message})`, e);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
}

interface Opened {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: NodeJS.ReadableStream & { destroy(e?: Error): void };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * Opens a URL. HTTP redirects are followed (mirror redirectors answer 302), at most
 * MAX_REDIRECTS of them, never from https to anything else (as apt refuses); the Range header
 * goes along. Errors name the URL the caller asked for.
 */
function open(url: string, opts: FetchOptions, extraHeaders: Record<string, string> = {}, hops = 0, origin = url): Promise<Opened> {
  const u = new URL(url);
  if (u.protocol === 'file:') {
    const p = fileURLToPath(u);
    return new Promise((resolve, reject) => {
      const range = extraHeaders['Range'];
      let start = 0;
      if (range) start = Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0);
      fs.stat(p, (err, st) => {
        if (err) {
          if (errnoCode(err) === 'ENOENT') resolve({ status: 404, headers: {}, body: fs.createReadStream('/dev/null') });
          else reject(err);
          return;
        }
        if (start > st.size) start = st.size;
        resolve({
          status: start > 0 ? 206 : 200,
          headers: { 'content-length': String(st.size - start) },
          body: fs.createReadStream(p, { start }),
        });
      });
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(new IngotError('INVALID_ARGUMENT', `unsupported URL scheme in '${url}'`, { hint: 'use http://, https:// or file://' }));
  }
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(
      u,
      { agent: u.protocol === 'https:' ? agents.https : agents.http, headers: { 'User-Agent': 'ingot', ...opts.headers, ...extraHeaders } },
      (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (!REDIRECTS.has(status) || !location) {
          resolve({ status, headers: res.headers, body: res });
          return;
        }
        res.resume();
        let next: URL;
        try {
          next = new URL(location, u);
        } catch {
          reject(netError(origin, `redirected to an invalid location '${location}'`));
          return;
        }
        if (hops >= MAX_REDIRECTS) reject(netError(origin, `more than ${MAX_REDIRECTS} redirects (last to ${next.href})`));
        else if (next.protocol !== 'https:' && (u.protocol === 'https:' || next.protocol !== 'http:')) {
          reject(netError(origin, `refusing the redirect from ${u.protocol} to ${next.href}`));
        } else resolve(open(next.href, opts, extraHeaders, hops + 1, origin));
      },
    );
    req.setTimeout(opts.timeoutMs ?? 30000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/**
 * Proxies, captive portals and broken mirrors answer 200 with an HTML page; no repository file
 * ingot fetches is HTML, so such an answer is refused up front with a message that says so
 * (rather than as a bad signature or a digest mismatch further on).
 */
function isHtml(headers: http.IncomingHttpHeaders): boolean {
  return /^\s*text\/html\b/i.test(String(headers['content-type'] ?? ''));
}

function htmlError(url: string): IngotError {
  return new IngotError('NETWORK_ERROR', `${url}: the server answered with an HTML page, not the file`, {
    hint: 'the mirror or proxy returned an error page; check the URL',
    data: { url },
  });
}

function statusError(url: string, status: number): IngotError {
  const transient = status >= 500 || status === 429 || status === 408;
  return new IngotError(status === 404 ? 'NOT_FOUND_REMOTE' : 'NETWORK_ERROR', `${url}: HTTP status ${status}`, {
    hint: status === 404 ? 'the file is not on the server: check the URL, suite and component' : 'the server failed; try again later',
    data: { url, status, transient },
  });
}

/** Fetches a whole (small) resource into memory. Returns null for 404 when `optional`. */
export async function fetchBuffer(url: string, opts: FetchOptions & { optional?: boolean } = {}): Promise<Buffer | null> {
  const max = opts.maxSize ?? 512 * 1024 * 1024;
  return withRetries(url, opts.retries ?? 4, async () => {
    const r = await open(url, opts);
    if (r.status === 404 && opts.optional) {
      r.body.resume?.();
      return null;
    }
    if (r.status !== 200) {
      (r.body as NodeJS.ReadableStream).resume?.();
      throw statusError(url, r.status);
    }
    if (isHtml(r.headers)) {
      r.body.destroy();
      throw htmlError(url);
    }
    const declared = r.headers['content-length'] ? Number(r.headers['content-length']) : undefined;
    if (declared !== undefined && declared > max) {
      r.body.destroy();
      throw netError(url, `response of ${declared} bytes exceeds the limit of ${max}`);
    }
    const chunks: Buffer[] = [];
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      r.body.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          r.body.destroy();
          reject(netError(url, `response exceeds the limit of ${max} bytes`));
          return;
        }
        chunks.push(c);
        opts.onProgress?.(n);
      });
      r.body.on('end', () => resolve());
      r.body.on('error', (e) => reject(e));
    });
    if (declared !== undefined && n !== declared) {
      throw new IngotError('NETWORK_ERROR', `${url}: connection closed after ${n} of ${declared} bytes`, {
        data: { url, transient: true },
      });
    }
    return Buffer.concat(chunks);
  });
}

export interface DownloadResult {
  size: number;
  /** Hex digest of the whole file in the requested algorithm. */
  digest: string;
}

/**
 * Downloads `url` into `dest` through `dest.part`, resuming a previous partial download with a
 * Range request, and hashing as it goes. The caller verifies size and digest and renames.
 */
export async function downloadToFile(
  url: string,
  partPath: string,
  opts: FetchOptions & { expectedSize?: number; algo?: string } = {},
): Promise<DownloadResult> {
  const algo = opts.algo ?? 'sha256';
  const max = opts.expectedSize ?? opts.maxSize ?? 4 * 1024 * 1024 * 1024;
  return withRetries(url, opts.retries ?? 4, async () => {
    let have = 0;
    try {
      have = fs.statSync(partPath).size;
    } catch {
      have = 0;
    }
    if (opts.expectedSize !== undefined && have > opts.expectedSize) {
      fs.rmSync(partPath, { force: true });
      have = 0;
    }
    const r = await open(url, opts, have > 0 ? { Range: `bytes=${have}-` } : {});
    if (r.status === 200 && have > 0) {
      // The server ignored the range: start over.
      have = 0;
    } else if (r.status === 416 && have > 0) {
      r.body.resume?.();
      // Already complete (or the part is wrong): hash what we have; the caller verifies.
      return hashFile(partPath, algo);
    } else if (r.status !== 200 && r.status !== 206) {
      r.body.resume?.();
      throw statusError(url, r.status);
    }
    if (isHtml(r.headers)) {
      r.body.destroy();
      throw htmlError(url);
    }
    const h = createHash(algo);
    // Re-hash the existing prefix (cheap compared to downloading it again).
    if (have > 0) hashInto(h, partPath);
    const out = fs.createWriteStream(partPath, { flags: have > 0 ? 'a' : 'w', mode: 0o644 });
    let n = have;
    await new Promise<void>((resolve, reject) => {
      r.body.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          r.body.destroy();
          out.destroy();
          if (opts.expectedSize === undefined) {
            reject(netError(url, `download exceeds the limit of ${max} bytes`));
            return;
          }
          // Longer than the index says: not the file we want, and not a prefix to resume from.
          // Removed once the stream is closed (it may still be opening the file).
          out.once('close', () => {
            fs.rmSync(partPath, { force: true });
            reject(
              new IngotError('DIGEST_MISMATCH', `${url}: the server sent more than the expected ${max} bytes`, {
                hint: 'the mirror serves a different file than its index says (out of sync, or tampered); try again later or another mirror',
                data: { url, expectedSize: max },
              }),
            );
          });
          return;
        }
        h.update(c);
        opts.onProgress?.(n);
        if (!out.write(c)) {
          r.body.pause();
          out.once('drain', () => r.body.resume());
        }
      });
      r.body.on('end', () => out.end(() => resolve()));
      r.body.on('error', (e) => {
        // Settle only once the bytes received so far are in the file: a retry appends to it.
        const fail = (): void => reject(Object.assign(e, { code: errnoCode(e) ?? 'ECONNRESET' }));
        if (out.destroyed) fail();
        else out.end(fail);
      });
      out.on('error', reject);
    });
    if (opts.expectedSize !== undefined && n < opts.expectedSize) {
      throw new IngotError('NETWORK_ERROR', `${url}: connection closed after ${n} of ${opts.expectedSize} bytes`, {
        data: { url, transient: true },
      });
    }
    return { size: n, digest: h.digest('hex') };
  });
}

function hashFile(p: string, algo: string): DownloadResult {
  const h = createHash(algo);
  const size = hashInto(h, p);
  return { size, digest: h.digest('hex') };
}

function hashInto(h: ReturnType<typeof createHash>, p: string): number {
  const fd = fs.openSync(p, 'r');
  let size = 0;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let k: number;
    while ((k = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
      h.update(buf.subarray(0, k));
      size += k;
    }
  } finally {
    fs.closeSync(fd);
  }
  return size;
}
