/**
 * Helpers for the registry tests: Debian's docker-registry (distribution 2.8) started on a
 * free loopback port with a config written here (filesystem storage in a temp dir, optional
 * htpasswd or token auth), its request log parsed into lines (method, URI, status, user agent)
 * as the oracle for what a push sent, skopeo run with its blob-info cache removed (it would
 * otherwise substitute and mount blobs seen in earlier runs), and test images made by umoci.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { run, runOk } from '../helpers.js';

export interface LogLine {
  method: string;
  uri: string;
  status: number;
  agent: string;
}

export interface RunningRegistry {
  host: string;
  dir: string;
  logFile: string;
  /** Every request the registry has logged so far. */
  requests(): LogLine[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => req.destroy());
  });
}

export interface RegistryAuth {
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
}

export async function startRegistry(dir: string, auth: RegistryAuth = {}): Promise<RunningRegistry> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const cfg = path.join(dir, 'config.yml');
  const lines = [
    'version: 0.1',
    'log: {level: info, formatter: text}',
    `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}}, delete: {enabled: true}}`,
    `http: {addr: "127.0.0.1:${port}"}`,
  ];
  if (auth.htpasswd) lines.push(`auth: {htpasswd: {realm: test, path: ${JSON.stringify(auth.htpasswd)}}}`);
  if (auth.token) {
    const t = auth.token;
    lines.push('auth:', '  token:', `    realm: ${JSON.stringify(t.realm)}`, `    service: ${JSON.stringify(t.service)}`, `    issuer: ${JSON.stringify(t.issuer)}`, `    rootcertbundle: ${JSON.stringify(t.rootcertbundle)}`);
  }
  fs.writeFileSync(cfg, lines.join('\n') + '\n');
  const logFile = path.join(dir, 'registry.log');
  const fd = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const st = await probe(`http://${host}/v2/`);
    if (st === 200 || st === 401) break;
    if (exited || i > 150) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    dir,
    logFile,
    requests: () => parseLog(fs.readFileSync(logFile, 'utf8')),
    stop: async () => {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}

/** The `response completed` lines of distribution's text log. */
export function parseLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  const field = (line: string, name: string): string => {
    const m = new RegExp(`${name.replace(/\./g, '\\.')}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`).exec(line);
    if (!m) return '';
    const v = m[1]!;
    return v.startsWith('"') ? (JSON.parse(v) as string) : v;
  };
  for (const line of text.split('\n')) {
    if (!line.includes('msg="response completed')) continue;
    out.push({
      method: field(line, 'http.request.method'),
      uri: field(line, 'http.request.uri'),
      status: Number(field(line, 'http.response.status')),
      agent: field(line, 'http.request.useragent'),
    });
  }
  return out;
}

/** Blob uploads that completed: the final PUT of an upload session, answered 201. */
export function uploads(lines: LogLine[], repo?: string): LogLine[] {
  return lines.filter((l) => l.method === 'PUT' && l.status === 201 && /\/blobs\/uploads\//.test(l.uri) && (!repo || l.uri.startsWith(`/v2/${repo}/`)));
}

export function mounts(lines: LogLine[], status = 201): LogLine[] {
  return lines.filter((l) => l.method === 'POST' && l.status === status && /[?&]mount=/.test(l.uri));
}

/** Runs skopeo without its blob-info cache, so a run does not depend on earlier ones. */
export function skopeo(args: string[]): string {
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  return runOk('skopeo', args);
}

export function skopeoDigest(ref: string): string {
  fs.rmSync('/var/lib/containers/cache/blob-info-cache-v1.boltdb', { force: true });
  const r = run('sh', ['-c', `skopeo inspect --raw --tls-verify=false '${ref}' | sha256sum`]);
  if (r.status !== 0) throw new Error(r.stderr);
  return 'sha256:' + r.stdout.split(' ')[0]!;
}

/**
 * An OCI layout made by umoci: `umoci new` and one `umoci insert` per layer, each layer a
 * directory holding one file of random bytes. With `from`, the image starts as a copy of that
 * tag (so the two share their lower layers). Returns the files' bytes by layer name.
 */
export function umociImage(layout: string, tag: string, layers: { name: string; size: number }[], from?: string): Map<string, Buffer> {
  const work = path.join(path.dirname(layout), `src-${tag}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  if (!fs.existsSync(layout)) runOk('umoci', ['init', '--layout', layout]);
  const contents = new Map<string, Buffer>();
  let current = from;
  if (!current) {
    runOk('umoci', ['new', '--image', `${layout}:${tag}`]);
    current = tag;
  }
  for (const l of layers) {
    const d = path.join(work, l.name);
    fs.mkdirSync(d, { recursive: true });
    const bytes = randomBytes(l.size);
    fs.writeFileSync(path.join(d, 'data'), bytes);
    contents.set(l.name, bytes);
    runOk('umoci', ['insert', '--image', `${layout}:${current}`, '--tag', tag, '--history.created', '2026-01-01T00:00:00Z', d, `/${l.name}`]);
    current = tag;
  }
  fs.rmSync(work, { recursive: true, force: true });
  return contents;
}
