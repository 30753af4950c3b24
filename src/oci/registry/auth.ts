/**
 * Registry credentials and authentication challenges.
 *
 * Credentials come, first match wins, from: the options (command-line flags); the file named by
 * the options (`--authfile`); `$REGISTRY_AUTH_FILE`; `${XDG_RUNTIME_DIR}/containers/auth.json`;
 * `~/.config/containers/auth.json`; `~/.docker/config.json`. Each file maps keys to
 * `{ "auth": base64("USER:PASSWORD") }` under `auths`; a key is a host (`host:port`), optionally
 * with a repository path (`host/team` or `host/team/app`, the most specific key wins, as in
 * containers-auth.json(5)), optionally written as a URL (`https://host/v1/`, Docker's older form).
 * Credential helpers (`credHelpers`, `credsStore`) are not run; entries using them are ignored.
 *
 * Challenges (`WWW-Authenticate`) are parsed per RFC 7235: a scheme and comma-separated
 * `key="quoted value"` or `key=token` parameters.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IngotError, errnoCode } from '../../core/errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  /** Lowercased scheme: `basic` or `bearer` (others are kept but not answered). */
  scheme: string;
  params: Record<string, string>;
}

/** The credential files searched when none is named, in order. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env['HOME'] || os.homedir();
  const out: string[] = [];
  if (env['REGISTRY_AUTH_FILE']) out.push(env['REGISTRY_AUTH_FILE']);
  if (env['XDG_RUNTIME_DIR']) out.push(path.join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json'));
  out.push(path.join(env['XDG_CONFIG_HOME'] || path.join(home, '.config'), 'containers', 'auth.json'));
  out.push(path.join(env['DOCKER_CONFIG'] || path.join(home, '.docker'), 'config.json'));
  return out;
}

/** `https://host/v1/` → `host`; `host/team/` → `host/team`. */
function normalizeKey(k: string): string {
  let s = k.replace(/^https?:\/\//, '');
  s = s.replace(/\/+$/, '');
  // Docker's legacy key form names an API version path, not a repository.
  s = s.replace(/\/v[12]$/, '');
  return s;
}

function decodeAuth(file: string, key: string, auth: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (!/^[A-Za-z0-9+/=\s]*$/.test(auth) || i <= 0) {
    throw new IngotError('REGISTRY_AUTH_FILE_INVALID', `${file}: the entry for '${key}' is not base64 of USER:PASSWORD`, {
      hint: 'write "auth": the base64 encoding of user:password (e.g. printf user:pass | base64)',
      data: { path: file, key },
    });
  }
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/**
 * Looks up credentials for `host` and `repository` in one file. Returns null when the file does
 * not exist or has no entry; throws REGISTRY_AUTH_FILE_INVALID when it does not parse.
 */
export function credentialsFromFile(file: string, host: string, repository: string): Credentials | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw new IngotError('REGISTRY_AUTH_FILE_INVALID', `cannot read credentials file '${file}': ${errnoCode(e) ?? (e as Error).message}`, {
      hint: 'check the file permissions',
      data: { path: file },
      cause: e,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new IngotError('REGISTRY_AUTH_FILE_INVALID', `${file}: not valid JSON (${(e as Error).message})`, {
      hint: 'the file must be a JSON object with an "auths" map, as podman login or docker login write it',
      data: { path: file },
    });
  }
  const auths = (doc as { auths?: unknown })?.auths;
  if (auths === undefined) return null;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
    throw new IngotError('REGISTRY_AUTH_FILE_INVALID', `${file}: "auths" is not an object`, { data: { path: file } });
  }
  const entries = new Map<string, { key: string; auth: string }>();
  for (const [k, v] of Object.entries(auths as Record<string, unknown>)) {
    const auth = (v as { auth?: unknown })?.auth;
    if (typeof auth !== 'string' || auth === '') continue;
    entries.set(normalizeKey(k), { key: k, auth });
  }
  // Most specific first: host/a/b, host/a, host.
  const parts = repository.split('/');
  for (let n = parts.length; n >= 0; n--) {
    const k = n === 0 ? host : `${host}/${parts.slice(0, n).join('/')}`;
    const e = entries.get(k);
    if (e) return decodeAuth(file, e.key, e.auth);
  }
  return null;
}

/** Credentials for a repository from the named file, or the default files in order. */
export function findCredentials(host: string, repository: string, opts: { authFile?: string; env?: NodeJS.ProcessEnv } = {}): Credentials | null {
  const files = opts.authFile !== undefined ? [opts.authFile] : defaultAuthFiles(opts.env);
  if (opts.authFile !== undefined && !fs.existsSync(opts.authFile)) {
    throw new IngotError('REGISTRY_AUTH_FILE_INVALID', `credentials file '${opts.authFile}' does not exist`, {
      hint: 'check the --authfile path',
      data: { path: opts.authFile },
    });
  }
  for (const f of files) {
    const c = credentialsFromFile(f, host, repository);
    if (c) return c;
  }
  return null;
}

/** Parses `USER:PASSWORD` as given on the command line. */
export function parseCredentials(s: string, what = '--creds'): Credentials {
  const i = s.indexOf(':');
  if (i <= 0) {
    throw new IngotError('INVALID_ARGUMENT', `${what}: expected USER:PASSWORD`, { hint: 'give the user name, a colon and the password' });
  }
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** Parses a WWW-Authenticate header value into its challenges. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  let current: Challenge | null = null;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(header.slice(i));
    if (!m) break;
    const token = m[0];
    i += token.length;
    skipWs();
    if (header[i] === '=') {
      // A parameter of the current challenge.
      i++;
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const v = /^[^,\s]*/.exec(header.slice(i))![0];
        value = v;
        i += v.length;
      }
      if (current) current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
