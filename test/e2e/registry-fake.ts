/**
 * An in-memory Distribution API v2 registry for the registry client's failure tests: blobs,
 * upload sessions (POST, PATCH, PUT ?digest=, DELETE), manifests by tag and digest, Range on
 * blob GETs, Basic or Bearer authentication (with its own token endpoint at /token), and fault
 * rules that answer a matching request with a status, a truncated or corrupted body, or a reset
 * connection. Every request is logged (method, path with query, status, Range, whether it was
 * authorized) so tests can count retries, resumptions and uploads.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeFault =
  | { kind: 'status'; status: number; body?: string }
  /** Declare the full length, send `at` bytes, then cut the connection. */
  | { kind: 'truncate'; at: number }
  /** Send a body of the right length with one byte changed. */
  | { kind: 'corrupt' }
  /** Send only `at` bytes under a Content-Length that matches them. */
  | { kind: 'short'; at: number }
  | { kind: 'reset' }
  /** Send `at` bytes of the body, then nothing, keeping the connection open. */
  | { kind: 'stall'; at: number }
  /** Answer 307 to the same blob under /storage/ on another origin (localhost instead of 127.0.0.1), served without auth. */
  | { kind: 'redirect' };

export interface FakeLog {
  method: string;
  path: string;
  status: number;
  range?: string;
  authorization?: string;
}

interface Rule {
  method: string | null;
  match: RegExp;
  fault: FakeFault;
  left: number;
}

export interface FakeBlob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface FakeImage {
  manifest: Buffer;
  digest: string;
  config: FakeBlob;
  layers: FakeBlob[];
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export class FakeRegistry {
  /** Blobs by `REPO@DIGEST`: each repository holds its own (mounts link them). */
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { bytes: Buffer; type: string }>();
  readonly log: FakeLog[] = [];
  auth: { kind: 'none' } | { kind: 'basic'; user: string; pass: string } | { kind: 'bearer'; user?: string; pass?: string } = { kind: 'none' };
  /** Bearer tokens currently valid; `revokeTokens` empties it. */
  readonly tokens = new Set<string>();
  tokenRequests: { scopes: string[]; authorization?: string }[] = [];
  /** Called for each registry request before its authorization is checked (tests revoke tokens here). */
  beforeAuth: ((method: string, path: string) => void) | null = null;
  private readonly uploads = new Map<string, Buffer[]>();
  private rules: Rule[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: http.Server,
    readonly host: string,
  ) {}

  static async start(): Promise<FakeRegistry> {
    let self: FakeRegistry | null = null;
    const server = http.createServer((req, res) => self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new FakeRegistry(server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('connection', (s) => {
      self!.sockets.add(s);
      s.on('close', () => self!.sockets.delete(s));
    });
    return self;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  /** Applies `fault` to the next `times` requests whose method and path match. */
  fault(method: string | null, match: RegExp, fault: FakeFault, times = 1): void {
    this.rules.push({ method, match, fault, left: times });
  }

  clearFaults(): void {
    this.rules = [];
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  /** Stores an image (config + layers of random bytes) under `repo:tag`. */
  addImage(repo: string, tag: string, layerSizes: number[], opts: { mediaType?: string } = {}): FakeImage {
    const layers = layerSizes.map((n) => {
      const bytes = randomBytes(n);
      const d = sha256(bytes);
      this.blobs.set(`${repo}@${d}`, bytes);
      return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: n, bytes };
    });
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }));
    const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length, bytes: cfg };
    this.blobs.set(`${repo}@${config.digest}`, cfg);
    const mediaType = opts.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
      }),
    );
    const digest = sha256(manifest);
    this.manifests.set(`${repo}:${tag}`, { bytes: manifest, type: mediaType });
    this.manifests.set(`${repo}:${digest}`, { bytes: manifest, type: mediaType });
    return { manifest, digest, config, layers };
  }

  count(method: string, match: RegExp): number {
    return this.log.filter((l) => l.method === method && match.test(l.path)).length;
  }

  private authorized(req: http.IncomingMessage): boolean {
    const a = req.headers.authorization;
    if (this.auth.kind === 'none') return true;
    if (this.auth.kind === 'basic') return a === 'Basic ' + Buffer.from(`${this.auth.user}:${this.auth.pass}`).toString('base64');
    return !!a && a.startsWith('Bearer ') && this.tokens.has(a.slice(7));
  }

  private challenge(scope: string | null): string {
    if (this.auth.kind === 'basic') return 'Basic realm="fake"';
    return `Bearer realm="http://${this.host}/token",service="fake"${scope ? `,scope="${scope}"` : ''}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.route(req, res, Buffer.concat(chunks)));
    req.on('error', () => undefined);
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    const entry: FakeLog = { method, path: url.pathname + url.search, status: 0, ...(req.headers.range && { range: req.headers.range }), ...(req.headers.authorization && { authorization: req.headers.authorization }) };
    this.log.push(entry);
    const send = (status: number, headers: Record<string, string | number> = {}, data?: Buffer | string): void => {
      entry.status = status;
      res.writeHead(status, headers);
      res.end(method === 'HEAD' ? undefined : data);
    };
    const error = (status: number, code: string, message: string): void =>
      send(status, { 'Content-Type': 'application/json' }, JSON.stringify({ errors: [{ code, message }] }));

    if (url.pathname === '/token') {
      const a = req.headers.authorization;
      this.tokenRequests.push({ scopes: url.searchParams.getAll('scope'), ...(a && { authorization: a }) });
      if (this.auth.kind === 'bearer' && this.auth.user && a !== 'Basic ' + Buffer.from(`${this.auth.user}:${this.auth.pass}`).toString('base64')) {
        send(401, { 'Content-Type': 'application/json' }, '{"details":"unauthorized"}');
        return;
      }
      const t = randomUUID();
      this.tokens.add(t);
      send(200, { 'Content-Type': 'application/json' }, JSON.stringify({ token: t, expires_in: 300 }));
      return;
    }

    const storage = /^\/storage\/(.+)$/.exec(url.pathname);
    if (storage) {
      const b = this.blobs.get(decodeURIComponent(storage[1]!));
      if (b) send(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': b.length }, b);
      else error(404, 'BLOB_UNKNOWN', 'no such stored blob');
      return;
    }

    const rule = this.rules.find((r) => r.left > 0 && (r.method === null || r.method === method) && r.match.test(url.pathname + url.search));
    let fault: FakeFault | null = null;
    if (rule) {
      rule.left--;
      fault = rule.fault;
      if (fault.kind === 'status') {
        if (fault.body) send(fault.status, { 'Content-Type': 'application/json' }, fault.body);
        else error(fault.status, fault.status >= 500 ? 'UNAVAILABLE' : 'DENIED', `injected ${fault.status}`);
        return;
      }
      if (fault.kind === 'reset') {
        entry.status = -1;
        req.socket.destroy();
        return;
      }
    }

    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (!this.authorized(req)) {
        send(401, { 'WWW-Authenticate': this.challenge(null), 'Content-Type': 'application/json' }, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      send(200, { 'Content-Type': 'application/json' }, '{}');
      return;
    }
    const m = /^\/v2\/(.+?)\/(blobs\/uploads\/?(.*)|blobs\/([^/]+)|manifests\/([^/]+))$/.exec(url.pathname);
    if (!m) {
      error(404, 'NOT_FOUND', 'no route');
      return;
    }
    const repo = m[1]!;
    this.beforeAuth?.(method, url.pathname + url.search);
    if (!this.authorized(req)) {
      const action = method === 'GET' || method === 'HEAD' ? 'pull' : 'pull,push';
      send(401, { 'WWW-Authenticate': this.challenge(`repository:${repo}:${action}`), 'Content-Type': 'application/json' }, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (m[2]!.startsWith('blobs/uploads')) {
      const id = m[3] ?? '';
      if (method === 'POST' && id === '') {
        const mount = url.searchParams.get('mount');
        const from = url.searchParams.get('from');
        if (mount && from && this.blobs.has(`${from}@${mount}`)) {
          this.blobs.set(`${repo}@${mount}`, this.blobs.get(`${from}@${mount}`)!);
          send(201, { Location: `/v2/${repo}/blobs/${mount}`, 'Docker-Content-Digest': mount });
          return;
        }
        const u = randomUUID();
        this.uploads.set(u, []);
        send(202, { Location: `/v2/${repo}/blobs/uploads/${u}?_state=x`, Range: '0-0', 'Docker-Upload-UUID': u });
        return;
      }
      const parts = this.uploads.get(id);
      if (!parts) {
        error(404, 'BLOB_UPLOAD_UNKNOWN', 'upload unknown');
        return;
      }
      if (method === 'DELETE') {
        this.uploads.delete(id);
        send(204);
        return;
      }
      if (method === 'PATCH') {
        parts.push(body);
        const n = parts.reduce((a, b) => a + b.length, 0);
        send(202, { Location: `/v2/${repo}/blobs/uploads/${id}?_state=y`, Range: `0-${n - 1}` });
        return;
      }
      if (method === 'PUT') {
        parts.push(body);
        const all = Buffer.concat(parts);
        const want = url.searchParams.get('digest');
        this.uploads.delete(id);
        if (sha256(all) !== want) {
          error(400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
          return;
        }
        this.blobs.set(`${repo}@${want}`, all);
        send(201, { Location: `/v2/${repo}/blobs/${want}`, 'Docker-Content-Digest': want });
        return;
      }
      error(405, 'UNSUPPORTED', 'method');
      return;
    }
    if (m[4] !== undefined) {
      const b = this.blobs.get(`${repo}@${m[4]}`);
      if (!b) {
        error(404, 'BLOB_UNKNOWN', 'blob unknown to registry');
        return;
      }
      let start = 0;
      const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (r && method === 'GET') start = Number(r[1]);
      let data = b.subarray(start);
      const status = start > 0 ? 206 : 200;
      const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': m[4], 'Content-Length': data.length };
      if (start > 0) headers['Content-Range'] = `bytes ${start}-${b.length - 1}/${b.length}`;
      if (fault?.kind === 'redirect') {
        send(307, { Location: `http://localhost:${this.host.split(':')[1]}/storage/${encodeURIComponent(`${repo}@${m[4]}`)}` });
        return;
      }
      if (fault?.kind === 'corrupt') {
        data = Buffer.from(data);
        data[data.length >> 1] ^= 0xff;
      }
      if (fault?.kind === 'short') {
        data = data.subarray(0, fault.at);
        headers['Content-Length'] = data.length;
      }
      if (fault?.kind === 'stall' && method === 'GET') {
        entry.status = status;
        res.writeHead(status, headers);
        res.write(data.subarray(0, fault.at));
        return;
      }
      if (fault?.kind === 'truncate' && method === 'GET') {
        entry.status = status;
        res.writeHead(status, headers);
        res.write(data.subarray(0, fault.at), () => setTimeout(() => req.socket.destroy(), 10));
        return;
      }
      send(status, headers, data);
      return;
    }
    const ref = m[5]!;
    if (method === 'PUT') {
      const type = String(req.headers['content-type'] ?? '');
      const d = sha256(body);
      this.manifests.set(`${repo}:${ref}`, { bytes: body, type });
      this.manifests.set(`${repo}:${d}`, { bytes: body, type });
      send(201, { Location: `/v2/${repo}/manifests/${d}`, 'Docker-Content-Digest': d });
      return;
    }
    const man = this.manifests.get(`${repo}:${ref}`);
    if (!man) {
      error(404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      return;
    }
    send(200, { 'Content-Type': man.type, 'Docker-Content-Digest': sha256(man.bytes), 'Content-Length': man.bytes.length }, man.bytes);
  }
}
