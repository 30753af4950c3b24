/**
 * One registry host spoken to over the Distribution API v2: the /v2/ probe, authentication
 * (Basic, and Bearer tokens fetched from the challenge's realm, one per set of repository
 * scopes, cached until they expire), bounded retries with exponential backoff, and the mapping
 * of HTTP statuses and the registry's `errors[]` bodies to stable error codes.
 *
 * Retry policy: a request is repeated when the connection fails (reset, refused, timed out) or
 * the registry answers 5xx, 429 or 408, up to `retries` more times, waiting `retryDelayMs`,
 * then twice that, and so on (capped at 10 s; a Retry-After of up to 10 s is honoured). A 401 is
 * answered once by (re)authenticating (a cached token may have expired or lack a scope); any
 * other 4xx is final. Requests whose body is a stream are not repeated here (the stream is
 * consumed): the blob upload repeats the whole upload instead.
 */
import type { Readable } from 'node:stream';
import { IngotError, type IngotErrorOptions } from '../../core/errors.js';
import { classifyNetError, readRegistryBody, registryHttp, type RegistryHttpResponse } from '../../platform/http-registry.js';
import { findCredentials, parseChallenges, type Challenge, type Credentials } from './auth.js';
import { isLoopbackHost } from './ref.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RegistryOptions {
  /** Credentials from the command line; when absent they are looked up in the auth files. */
  credentials?: Credentials | null;
  /** A credentials file to use instead of the default search (auth.json or Docker config.json format). */
  authFile?: string;
  /** Verify TLS certificates (default true). */
  tlsVerify?: boolean;
  /** Speak plain HTTP instead of HTTPS. Default: true for loopback hosts (127.0.0.0/8, ::1, localhost), false otherwise. */
  plainHttp?: boolean;
  /** How many times a failed request is repeated (default 4). */
  retries?: number;
  /** The first backoff delay in ms (default 250), doubled after each retry. */
  retryDelayMs?: number;
  /** Socket inactivity limit in ms (default 60 s). */
  timeoutMs?: number;
  /** Blobs larger than this are uploaded in chunks (PATCH); default 64 MiB. */
  chunkThreshold?: number;
  /** Size of each PATCH (default 16 MiB; raised to the registry's OCI-Chunk-Min-Length). */
  chunkSize?: number;
  /** The platform chosen from an image index (default: linux and this machine's architecture). */
  platform?: Platform;
  /** Other repositories of the same registry that may hold the blobs: they are mounted, not uploaded. */
  mountFrom?: string[];
  /** Environment for the credential file search (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface RequestSpec {
  method: string;
  /** A path below the registry (`/v2/...`) or an absolute URL (an upload Location). */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** A streamed body (never retried here). */
  stream?: { data: Readable; length: number };
  /** Repository scopes the request needs, e.g. `repository:team/app:pull`. */
  scopes: string[];
  /** Follow 3xx redirects (blob downloads); the Authorization header stays on the registry's origin. */
  follow?: boolean;
  /** What the request is for, for messages: `manifest team/app:1.0`. */
  what: string;
}

const MAX_ERROR_BODY = 64 * 1024;
const TOKEN_LIMIT = 1024 * 1024;

interface Token {
  header: string;
  expiresAt: number;
}

interface CachedToken {
  /** The token, or the request for it under way (concurrent requests share one fetch). */
  token: Promise<Token>;
  expiresAt: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class RegistryClient {
  readonly base: string;
  readonly retries: number;
  readonly retryDelayMs: number;
  /** undefined until probed; null when the registry asks for no authentication. */
  private challenge: Challenge | null | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  /** Looked up when a challenge first asks for them (a broken auth file does not stop anonymous pulls). */
  private creds: Credentials | null | undefined;
  /** Counters for reports and tests. */
  readonly stats = { requests: 0, retries: 0, tokenRequests: 0 };

  constructor(
    readonly host: string,
    repository: string,
    readonly opts: RegistryOptions,
  ) {
    const plain = opts.plainHttp ?? isLoopbackHost(host);
    this.base = `${plain ? 'http' : 'https'}://${host}`;
    this.retries = opts.retries ?? 4;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.repository = repository;
    if (opts.credentials) this.creds = opts.credentials;
    // A file named explicitly is read now, so a wrong path fails even where no login is needed.
    else if (opts.authFile !== undefined) void this.credentials;
  }

  private readonly repository: string;

  private get credentials(): Credentials | null {
    if (this.creds === undefined) {
      const o = this.opts;
      this.creds = findCredentials(this.host, this.repository, { ...(o.authFile !== undefined && { authFile: o.authFile }), ...(o.env && { env: o.env }) });
    }
    return this.creds;
  }

  /** `GET /v2/`: checks that this is a v2 registry and learns which authentication it wants. */
  async ping(): Promise<void> {
    if (this.challenge !== undefined) return;
    const res = await this.send({ method: 'GET', url: '/v2/', scopes: [], what: 'the registry API' }, '', true);
    if (res.status === 200) {
      res.discard();
      this.challenge = null;
      return;
    }
    if (res.status === 401) {
      res.discard();
      this.challenge = this.pickChallenge(res);
      return;
    }
    throw await this.statusError(res, `${this.base}/v2/`, 'the registry API', {
      notV2: res.status === 404,
    });
  }

  private pickChallenge(res: RegistryHttpResponse): Challenge {
    const raw = res.headers['www-authenticate'];
    const all = (Array.isArray(raw) ? raw : raw ? [raw] : []).flatMap(parseChallenges);
    const c = all.find((x) => x.scheme === 'bearer') ?? all.find((x) => x.scheme === 'basic');
    if (!c) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.base}: 401 without a Basic or Bearer challenge (WWW-Authenticate: ${JSON.stringify(raw ?? null)})`, {
        hint: 'the server is not a Distribution API registry, or uses an authentication ingot does not speak',
        data: { url: this.base },
      });
    }
    if (c.scheme === 'bearer' && !c.params['realm']) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.base}: the Bearer challenge names no realm (token service)`, { data: { url: this.base } });
    }
    return c;
  }

  private basicHeader(): string | null {
    if (!this.credentials) return null;
    return 'Basic ' + Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64');
  }

  private async authHeader(scopes: string[]): Promise<string | null> {
    const c = this.challenge;
    if (!c) return null;
    if (c.scheme === 'basic') return this.basicHeader();
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return (await cached.token).header;
    const entry: CachedToken = { token: this.fetchToken(c, scopes), expiresAt: Number.POSITIVE_INFINITY };
    this.tokens.set(key, entry);
    try {
      const t = await entry.token;
      entry.expiresAt = t.expiresAt;
      return t.header;
    } catch (e) {
      if (this.tokens.get(key) === entry) this.tokens.delete(key);
      throw e;
    }
  }

  /** GET realm?service=…&scope=…, with Basic credentials when there are any (anonymous otherwise). */
  private async fetchToken(c: Challenge, scopes: string[]): Promise<Token> {
    let url: URL;
    try {
      url = new URL(c.params['realm']!);
    } catch {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.base}: the token realm '${c.params['realm']}' is not a URL`, { data: { url: this.base } });
    }
    if (c.params['service']) url.searchParams.set('service', c.params['service']);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.base}: the token realm '${url.href}' is not http(s)`, { data: { url: url.href } });
    }
    // Credentials go to the realm only over TLS, or when the registry itself is spoken to in plain HTTP.
    const basic = url.protocol === 'https:' || this.base.startsWith('http:') ? this.basicHeader() : null;
    this.stats.tokenRequests++;
    const res = await this.send(
      { method: 'GET', url: url.href, scopes: [], what: `a token for ${scopes.join(' ') || 'the registry'}`, ...(basic && { headers: { Authorization: basic } }) },
      '',
      true,
    );
    if (res.status !== 200) {
      if (res.status === 401 || res.status === 403) {
        res.discard();
        throw new IngotError('REGISTRY_AUTH_FAILED', `${this.host}: the token service ${url.origin}${url.pathname} refused ${this.credentials ? `the credentials of '${this.credentials.username}'` : 'anonymous access'} (HTTP ${res.status})`, {
          hint: this.credentials ? 'check the user name and password (--creds, or the auth file)' : 'give credentials with --creds USER:PASSWORD or in an auth file (see docs/registry.md)',
          data: { url: url.href, status: res.status },
        });
      }
      throw await this.statusError(res, url.href, 'a token');
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse((await readRegistryBody(res.body, TOKEN_LIMIT)).toString('utf8'));
    } catch (e) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${url.origin}${url.pathname}: the token answer is not JSON (${(e as Error).message})`, { data: { url: url.href } });
    }
    const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!token) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${url.origin}${url.pathname}: the token answer has no token`, { data: { url: url.href } });
    }
    const lifetime = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    // Renewed a little early, so that a token does not expire between the check and the use.
    return { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(1, lifetime - 10) * 1000 };
  }

  resolve(url: string): string {
    return new URL(url, this.base + '/').href;
  }

  /**
   * Sends a request with authentication, retries and (optionally) redirects. Returns the final
   * response whatever its status; `statusError` turns an unwanted one into an IngotError.
   */
  async request(spec: RequestSpec): Promise<RegistryHttpResponse> {
    await this.ping();
    let reauthed = false;
    for (let hop = 0; ; hop++) {
      const res = await this.send(spec, spec.what, false);
      if (res.status === 401 && !reauthed && !spec.stream) {
        reauthed = true;
        res.discard();
        this.challenge = this.pickChallenge(res);
        this.tokens.delete([...spec.scopes].sort().join(' '));
        if (this.challenge.scheme === 'basic' && !this.credentials) throw this.noCredentials(spec);
        continue;
      }
      if (res.status === 401 && spec.stream && !reauthed) {
        // The streamed body is spent: forget the token and let the caller repeat the upload.
        res.discard();
        this.challenge = this.pickChallenge(res);
        this.tokens.delete([...spec.scopes].sort().join(' '));
        const e = this.credentials ? this.badCredentials(spec) : this.noCredentials(spec);
        e.data['transient'] = true;
        throw e;
      }
      if (res.status === 401) {
        res.discard();
        throw this.credentials ? this.badCredentials(spec) : this.noCredentials(spec);
      }
      if (spec.follow && [301, 302, 303, 307, 308].includes(res.status) && res.headers.location && hop < 5) {
        res.discard();
        const next = new URL(res.headers.location, this.resolve(spec.url));
        if (next.origin === new URL(this.base).origin) return this.request({ ...spec, url: next.href, follow: true });
        return this.send({ method: spec.method, url: next.href, scopes: [], what: spec.what }, spec.what, true);
      }
      return res;
    }
  }

  private noCredentials(spec: RequestSpec): IngotError {
    return new IngotError('REGISTRY_AUTH_FAILED', `${this.host}: ${spec.what}: the registry requires authentication and no credentials were found`, {
      hint: 'give --creds USER:PASSWORD (--src-creds, --dest-creds) or --authfile FILE, or add the host to an auth file (see docs/registry.md)',
      data: { host: this.host },
    });
  }

  private badCredentials(spec: RequestSpec): IngotError {
    return new IngotError('REGISTRY_AUTH_FAILED', `${this.host}: ${spec.what}: the registry refused the credentials of '${this.credentials!.username}' (HTTP 401)`, {
      hint: 'check the user name and password, and that the user may access this repository',
      data: { host: this.host, username: this.credentials!.username },
    });
  }

  /**
   * One request with retries on transient failures. `bare` sends no Authorization of ours
   * (the probe, the token service, redirect targets on other origins).
   */
  private async send(spec: RequestSpec, what: string, bare: boolean): Promise<RegistryHttpResponse> {
    const url = this.resolve(spec.url);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...spec.headers };
      if (!bare && new URL(url).origin === new URL(this.base).origin) {
        const a = await this.authHeader(spec.scopes);
        if (a) headers['Authorization'] = a;
      }
      const canRetry = attempt < this.retries && !spec.stream;
      let res: RegistryHttpResponse;
      this.stats.requests++;
      try {
        res = await registryHttp({
          method: spec.method,
          url,
          headers,
          ...(spec.body && { body: spec.body }),
          ...(spec.stream && { body: spec.stream.data, contentLength: spec.stream.length }),
          tlsVerify: this.opts.tlsVerify ?? true,
          timeoutMs: this.opts.timeoutMs ?? 60000,
        });
      } catch (e) {
        if (e instanceof IngotError) throw e;
        const cls = classifyNetError(e);
        if (cls.tls) {
          throw new IngotError('REGISTRY_TLS_FAILED', `${url}: TLS failed (${cls.code}: ${(e as Error).message})`, {
            hint: this.base.startsWith('https:')
              ? 'if the registry speaks plain HTTP, pass --plain-http; if its certificate is self-signed, install its CA or pass --tls-verify=false'
              : 'the server expects TLS: drop --plain-http',
            data: { url, errno: cls.code },
            cause: e,
          });
        }
        if (cls.transient && canRetry) {
          await this.backoff(attempt, null);
          continue;
        }
        throw this.unreachable(url, what || spec.what, e, attempt + 1);
      }
      if ((res.status >= 500 || res.status === 429 || res.status === 408) && canRetry) {
        const after = Number(res.headers['retry-after']);
        res.discard();
        await this.backoff(attempt, Number.isFinite(after) ? after : null);
        continue;
      }
      return res;
    }
  }

  unreachable(url: string, what: string, e: unknown, attempts: number): IngotError {
    const cls = classifyNetError(e);
    return new IngotError('REGISTRY_UNREACHABLE', `${url}: ${what}: ${cls.code === 'ECONNREFUSED' ? 'connection refused' : `${cls.code} (${(e as Error).message})`}${attempts > 1 ? ` after ${attempts} attempts` : ''}`, {
      hint: cls.code === 'ECONNREFUSED' ? 'check the host and port, and that the registry is running' : 'check the network and the registry; the request was retried with backoff',
      data: { url, errno: cls.code, attempts, transient: true },
      cause: e,
    });
  }

  async backoff(attempt: number, retryAfterSeconds: number | null): Promise<void> {
    this.stats.retries++;
    let ms = Math.min(10000, this.retryDelayMs * 2 ** attempt);
    if (retryAfterSeconds !== null && retryAfterSeconds > 0) ms = Math.max(ms, Math.min(10, retryAfterSeconds) * 1000);
    await sleep(ms);
  }

  /** Maps an unwanted status to the error a user can act on, with the registry's own error text. */
  async statusError(res: RegistryHttpResponse, url: string, what: string, extra: { notV2?: boolean } = {}): Promise<IngotError> {
    let detail = '';
    let codes: string[] = [];
    try {
      const text = (await readRegistryBody(res.body, MAX_ERROR_BODY)).toString('utf8');
      try {
        const doc = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
        if (Array.isArray(doc.errors)) {
          codes = doc.errors.map((x) => String(x.code ?? ''));
          detail = doc.errors.map((x) => `${x.code ?? 'ERROR'}: ${x.message ?? ''}`.trim()).join('; ');
        }
      } catch {
        detail = text.trim().slice(0, 200);
      }
    } catch {
      // The body is only for the message.
    }
    const s = res.status;
    const msg = `${url}: ${what}: HTTP ${s}${detail ? ` (${detail})` : ''}`;
    const data = { url, status: s, ...(codes.length && { registryCodes: codes }) };
    const o = (hint: string, more: Partial<IngotErrorOptions> = {}): IngotErrorOptions => ({ hint, data, ...more });
    if (extra.notV2) return new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.base}/v2/ answered HTTP ${s}: not a Distribution API v2 registry`, o('check the host and port'));
    if (s === 401) return new IngotError('REGISTRY_AUTH_FAILED', msg, o('check the credentials'));
    if (s === 403) return new IngotError('REGISTRY_DENIED', msg, o('the user may not do this on this repository: check its permissions on the registry'));
    if (s === 404) return new IngotError('REGISTRY_NOT_FOUND', msg, o('check the repository name, tag or digest'));
    if (s >= 500 || s === 429 || s === 408) {
      return new IngotError('REGISTRY_SERVER_ERROR', `${msg}${this.retries > 0 ? ` after ${this.retries + 1} attempts` : ''}`, o('the registry is failing or overloaded; try again later', { data: { ...data, transient: true } }));
    }
    return new IngotError('REGISTRY_REQUEST_REJECTED', msg, o('the registry refused the request; the message carries its reason'));
  }
}
