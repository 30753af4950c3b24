/**
 * A small static HTTP server for tests, bound to 127.0.0.1 on a free port, serving a directory
 * with keep-alive and Range requests (206 / 416), plus fault injection per path so tests can
 * show how the client behaves on a broken mirror:
 *
 * - `status`: answer with an HTTP status (e.g. 500) instead of the file;
 * - `html`: answer 200 with an HTML error page (`Content-Type: text/html`), as proxies and
 *   captive portals do;
 * - `body`: answer 200 with other bytes (a tampered or stale file);
 * - `truncate`: declare the whole size, send `at` bytes, then close the connection cleanly (FIN);
 * - `short`: serve only the first `at` bytes, with a Content-Length that matches them (a
 *   truncated file on the mirror: the response itself is well-formed);
 * - `length`: send the whole file under a wrong Content-Length (size + delta), then close;
 * - `reset`: send `at` bytes, then reset the connection (RST);
 * - `stall`: send `at` bytes, then nothing, keeping the connection open (the client must time out);
 * - `slow`: send the whole file in `chunk`-byte pieces with `delayMs` pauses (slow but alive);
 * - `no-range`: ignore a Range header and send the whole file with 200;
 * - `redirect`: answer `status` (default 302) with `Location: to` (a path or a URL).
 *
 * A fault applies to the next `times` requests whose path matches (default once), then the
 * server behaves again. Every request is logged with its Range header, status and the body
 * bytes actually written, so tests can assert on retries and resumption.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';

export type Fault =
  | { kind: 'status'; status: number }
  | { kind: 'html' }
  | { kind: 'body'; data: Uint8Array; contentType?: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'short'; at: number }
  | { kind: 'length'; delta: number }
  | { kind: 'reset'; at: number }
  | { kind: 'stall'; at: number }
  | { kind: 'slow'; chunk: number; delayMs: number }
  | { kind: 'no-range' }
  | { kind: 'redirect'; to: string; status?: number };

export interface RequestLog {
  method: string;
  path: string;
  range?: string;
  status: number;
  /** Body bytes written to the socket. */
  sent: number;
  fault?: Fault['kind'];
  /** The response finished normally (not cut by a fault or the client). */
  complete: boolean;
}

interface Rule {
  match: string | RegExp;
  fault: Fault;
  left: number;
}

export const HTML_ERROR_PAGE =
  '<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The mirror is being synchronised.</p></body></html>\n';

export class FixtureServer {
  readonly log: RequestLog[] = [];
  /** Responses under way now, and the most at once since the start (or `resetPeak`). */
  active = 0;
  peakActive = 0;
  private rules: Rule[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters: { pred: (l: RequestLog[]) => boolean; resolve: () => void }[] = [];

  private constructor(
    readonly root: string,
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  /** Starts serving `root` on 127.0.0.1 (a free port); `url` has no trailing slash. */
  static async start(root: string): Promise<FixtureServer> {
    const server = http.createServer();
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const s = new FixtureServer(root, server, `http://127.0.0.1:${port}`);
    server.on('connection', (sock) => {
      s.sockets.add(sock);
      sock.on('close', () => s.sockets.delete(sock));
    });
    server.on('request', (req, res) => s.handle(req, res));
    return s;
  }

  /** Injects `fault` into the next `times` requests (default 1; Infinity for all) whose path matches. */
  fault(match: string | RegExp, fault: Fault, times = 1): void {
    this.rules.push({ match, fault, left: times });
  }

  clearFaults(): void {
    this.rules = [];
  }

  resetPeak(): void {
    this.peakActive = this.active;
  }

  /** Requests whose path matches (a string matches the path exactly or as its suffix). */
  requests(match: string | RegExp): RequestLog[] {
    return this.log.filter((l) => matches(match, l.path));
  }

  /** Resolves once `pred(log)` holds (checked after every logged event). */
  waitFor(pred: (log: RequestLog[]) => boolean, timeoutMs = 20000): Promise<void> {
    if (pred(this.log)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('FixtureServer.waitFor: timed out')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  /** Closes the server and every open connection (stalled ones included). */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.rules = [];
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred(this.log)) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private takeFault(p: string): Fault | undefined {
    const r = this.rules.find((x) => x.left > 0 && matches(x.match, p));
    if (!r) return undefined;
    r.left--;
    return r.fault;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const entry: RequestLog = { method: req.method ?? 'GET', path: urlPath, status: 0, sent: 0, complete: false };
    if (req.headers.range) entry.range = req.headers.range;
    this.log.push(entry);
    this.active++;
    this.peakActive = Math.max(this.peakActive, this.active);
    res.on('close', () => this.active--);
    const fault = this.takeFault(urlPath);
    if (fault) entry.fault = fault.kind;
    const sock = res.socket!;
    const finish = (complete: boolean): void => {
      entry.complete = complete;
      this.notify();
    };
    const send = (status: number, headers: http.OutgoingHttpHeaders, body: Uint8Array): void => {
      entry.status = status;
      res.writeHead(status, headers);
      entry.sent = body.length;
      res.end(body, () => finish(true));
    };

    if (fault?.kind === 'status') {
      send(fault.status, { 'Content-Type': 'text/plain' }, Buffer.from(`status ${fault.status}\n`));
      return;
    }
    if (fault?.kind === 'redirect') {
      send(fault.status ?? 302, { Location: fault.to, 'Content-Type': 'text/plain' }, Buffer.from(`moved to ${fault.to}\n`));
      return;
    }
    if (fault?.kind === 'html') {
      send(200, { 'Content-Type': 'text/html; charset=utf-8' }, Buffer.from(HTML_ERROR_PAGE));
      return;
    }
    if (fault?.kind === 'body') {
      send(200, { 'Content-Type': fault.contentType ?? 'application/octet-stream' }, fault.data);
      return;
    }

    const file = path.join(this.root, path.normalize(urlPath).replace(/^(\.\.[/\\])+/, ''));
    let data: Buffer;
    try {
      if (!file.startsWith(this.root) || !fs.statSync(file).isFile()) throw new Error('not a file');
      data = fs.readFileSync(file);
    } catch {
      send(404, { 'Content-Type': 'text/plain' }, Buffer.from('not found\n'));
      return;
    }
    if (fault?.kind === 'short') data = data.subarray(0, fault.at);

    // Range: bytes=N- or bytes=N-M.
    let start = 0;
    let end = data.length;
    let status = 200;
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
    const m = req.headers.range ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range) : null;
    if (m && fault?.kind !== 'no-range') {
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]) + 1);
      if (start >= data.length) {
        send(416, { 'Content-Range': `bytes */${data.length}`, 'Content-Type': 'text/plain' }, Buffer.alloc(0));
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end - 1}/${data.length}`;
    }
    const body = data.subarray(start, end);
    entry.status = status;

    switch (fault?.kind) {
      case 'truncate':
      case 'reset':
      case 'stall': {
        res.writeHead(status, { ...headers, 'Content-Length': body.length });
        const part = body.subarray(0, Math.min(fault.at, body.length));
        res.write(part, () => {
          entry.sent = part.length;
          this.notify();
          if (fault.kind === 'truncate') {
            sock.end();
            finish(false);
          } else if (fault.kind === 'reset') {
            this.later(20, () => {
              sock.resetAndDestroy();
              finish(false);
            });
          }
          // stall: nothing more; the client gives up, or close() ends it.
        });
        return;
      }
      case 'length': {
        res.writeHead(status, { ...headers, 'Content-Length': Math.max(0, body.length + fault.delta) });
        // Bypass the response's own length accounting: write the raw body to the socket.
        res.flushHeaders();
        sock.write(body, () => {
          entry.sent = body.length;
          sock.end();
          finish(false);
        });
        return;
      }
      case 'slow': {
        res.writeHead(status, { ...headers, 'Content-Length': body.length });
        let off = 0;
        const step = (): void => {
          if (sock.destroyed) return finish(false);
          const piece = body.subarray(off, off + fault.chunk);
          off += piece.length;
          entry.sent = off;
          if (off >= body.length) {
            res.end(piece, () => finish(true));
            return;
          }
          res.write(piece);
          this.later(fault.delayMs, step);
        };
        step();
        return;
      }
      default:
        send(status, { ...headers, 'Content-Length': body.length }, body);
    }
  }
}

function matches(match: string | RegExp, p: string): boolean {
  return typeof match === 'string' ? p === match || p.endsWith(match.startsWith('/') ? match : `/${match}`) : match.test(p);
}
