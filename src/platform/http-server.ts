/**
 * A small HTTP/1.1 server for static files: the only place ingot listens on a socket.
 * The caller decides what each request gets (a `StaticResponse`); this module only speaks HTTP:
 * keep-alive connections, file bodies streamed from an open descriptor (byte ranges included),
 * HEAD without a body, and an exact Content-Length on every response.
 */
import * as http from 'node:http';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { IngotError } from '../core/errors.js';

export interface StaticRequest {
  method: string;
  /** The raw request target (path and query), as sent. */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
}

export type StaticBody =
  | { kind: 'none' }
  | { kind: 'buffer'; data: Buffer }
  /** Bytes [start, end) of an already opened file; the server closes `fd`. */
  | { kind: 'file'; fd: number; start: number; end: number };

export interface StaticResponse {
  status: number;
  headers: Record<string, string>;
  body: StaticBody;
}

export interface RunningServer {
  host: string;
  port: number;
  /** `http://HOST:PORT/` (IPv6 hosts bracketed). */
  url: string;
  /** Stops listening and closes every connection, idle or not. */
  close(): Promise<void>;
}

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  handler: (req: StaticRequest) => Promise<StaticResponse> | StaticResponse;
  /** Called once per finished response (status, bytes of body sent), e.g. for a log. */
  onResponse?: (req: StaticRequest, status: number, bytes: number) => void;
}

function sendBody(res: http.ServerResponse, body: StaticBody, head: boolean, done: (bytes: number) => void): void {
  if (body.kind === 'file' && (head || body.end <= body.start)) {
    fs.close(body.fd, () => undefined);
  }
  if (head || body.kind === 'none') {
    res.end();
    done(0);
    return;
  }
  if (body.kind === 'buffer') {
    res.end(body.data);
    done(body.data.length);
    return;
  }
  if (body.end <= body.start) {
    res.end();
    done(0);
    return;
  }
  const stream = fs.createReadStream('', { fd: body.fd, start: body.start, end: body.end - 1, autoClose: true });
  let sent = 0;
  stream.on('data', (c) => (sent += c.length));
  stream.on('error', () => {
    // The headers promised a length that can no longer be delivered: drop the connection so
    // the client sees a truncated response instead of a short one that looks complete.
    res.destroy();
    done(sent);
  });
  stream.on('end', () => done(sent));
  stream.pipe(res);
}

export async function listenHttp(opts: ListenOptions): Promise<RunningServer> {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const sreq: StaticRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])),
    };
    Promise.resolve()
      .then(() => opts.handler(sreq))
      .catch((e: unknown): StaticResponse => {
        const msg = e instanceof IngotError ? `${e.code}: ${e.message}\n` : 'internal server error\n';
        return { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: { kind: 'buffer', data: Buffer.from(msg) } };
      })
      .then((r) => {
        const headers: Record<string, string> = { ...r.headers };
        const length = r.body.kind === 'buffer' ? r.body.data.length : r.body.kind === 'file' ? Math.max(0, r.body.end - r.body.start) : 0;
        if (r.status !== 304 && r.status !== 204 && headers['content-length'] === undefined) headers['content-length'] = String(length);
        res.writeHead(r.status, headers);
        sendBody(res, r.body, sreq.method === 'HEAD' || r.status === 304, (bytes) => opts.onResponse?.(sreq, r.status, bytes));
      });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new IngotError('SERVE_FAILED', `cannot listen on ${opts.host}:${opts.port}: ${e.code ?? e.message}`, {
          hint: e.code === 'EADDRINUSE' ? 'the port is in use: pick another --port (0 picks a free one)' : 'check the --bind address and --port',
          data: { host: opts.host, port: opts.port, errno: e.code },
        }),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    host: addr.address,
    port: addr.port,
    url: `http://${hostForUrl}:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
