/**
 * Helpers for the delivery (server side) interop tests: `ingot serve` and `python3 -m
 * http.server` as child processes on random loopback ports, with their request logs, and raw
 * HTTP requests that keep exactly the path they are given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { INGOT } from '../helpers.js';

export interface ServedRepo {
  url: string;
  /** Request lines `METHOD PATH STATUS BYTES` (ingot serve --log). */
  log: string[];
  stop(): Promise<void>;
}

function waitExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

/** Starts `ingot serve --repo REPO --port 0 --log` and waits for its URL line. */
export function startIngotServe(repo: string, extra: string[] = []): Promise<ServedRepo> {
  const child = spawn(process.execPath, [INGOT, 'serve', '--repo', repo, '--port', '0', '--log', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let errBuf = '';
  child.stderr!.on('data', (c: Buffer) => {
    errBuf += c.toString();
    let i;
    while ((i = errBuf.indexOf('\n')) >= 0) {
      log.push(errBuf.slice(0, i));
      errBuf = errBuf.slice(i + 1);
    }
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ingot serve did not start: ${out}${log.join('\n')}`)), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ingot serve exited ${code}: ${out}${log.join('\n')}${errBuf}`));
    });
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /at (http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({
          url: m[1]!,
          log,
          stop: async () => {
            child.kill('SIGTERM');
            await waitExit(child);
          },
        });
      }
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `python3 -m http.server` over `dir`: a plain static server that knows nothing of OSTree. */
export async function startPythonServer(dir: string): Promise<ServedRepo> {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stderr!.on('data', (c: Buffer) => log.push(...c.toString().split('\n').filter(Boolean)));
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(url + 'config', (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`python3 http.server exited: ${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log,
    stop: async () => {
      child.kill('SIGTERM');
      await waitExit(child);
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

/** One request; `path` is sent exactly as given (no normalisation of `..`). */
export function request(url: string, path: string, opts: { method?: string; headers?: Record<string, string>; agent?: http.Agent } = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
