/**
 * `ingot serve`: a static HTTP server for an archive repository, which is all an OSTree client
 * needs (../shared/specs/ostree-format.md §4). Contract:
 * - GET and HEAD of regular files under the repository root; anything else is 404 (directories,
 *   missing files, paths with `..`, NUL or backslashes, dot-files such as `.lock`, anything
 *   under `tmp/` or `state/`, and symlinks that resolve outside the root). Other methods: 405.
 * - Keep-alive connections; `ETag` (inode, size, mtime) with `If-None-Match` -> 304;
 *   a single `Range: bytes=` range -> 206 with `Content-Range` (unsatisfiable -> 416); `If-Range`
 *   with a stale validator serves the whole file. Content-Length is always exact.
 * - The summary follows the refs: before `summary` or `summary.sig` is served, the local refs
 *   and static deltas are compared with what the summary lists; when they differ (or there is
 *   no summary) it is regenerated (and signed again when the server has signing keys).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode } from '../core/errors.js';
import type { Repo } from '../repo/repo.js';
import { decodeSummary, updateSummary } from '../repo/summary.js';
import { listStaticDeltas, deltaNameString, SUMMARY_STATIC_DELTAS } from '../repo/delta-index.js';
import type { SecretKey } from '../repo/sign.js';
import { parse } from '../codecs/gvariant/parse.js';
import type { VarDict } from '../codecs/gvariant/value.js';
import { listenHttp, type RunningServer, type StaticRequest, type StaticResponse } from '../platform/http-server.js';

export interface ServeOptions {
  /** Default 127.0.0.1. */
  bind?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Re-sign the summary with these keys whenever it is regenerated. */
  signKeys?: SecretKey[];
  /** Keep the summary in step with the refs (default true). */
  refreshSummary?: boolean;
  /** One call per response, e.g. for an access log. */
  log?: (line: { method: string; path: string; status: number; bytes: number }) => void;
}

export interface RepoServer extends RunningServer {
  /** Regenerations of the summary so far (for tests and logs). */
  summaryRefreshes(): number;
}

const PRIVATE_TOP = new Set(['tmp', 'state']);

function text(status: number, msg: string, extra: Record<string, string> = {}): StaticResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...extra }, body: { kind: 'buffer', data: Buffer.from(msg + '\n') } };
}

/** Maps a request target to a path relative to the root, or null when it must be refused. */
export function requestPath(url: string): string | null {
  const q = url.search(/[?#]/);
  const raw = q < 0 ? url : url.slice(0, q);
  if (!raw.startsWith('/')) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p.length > 0);
  if (parts.length === 0) return null;
  for (const p of parts) if (p === '.' || p === '..' || p.startsWith('.')) return null;
  if (PRIVATE_TOP.has(parts[0]!)) return null;
  return parts.join('/');
}

function etagOf(st: fs.Stats): string {
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Parses one `bytes=` range against `size`: [start, end) or 'unsatisfiable', or null (serve all). */
export function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  if (!m) return null; // multiple ranges or other units: a full response is allowed
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size];
  }
  const start = Number(a);
  const end = b === '' ? size : Math.min(size, Number(b) + 1);
  if (start >= size || (b !== '' && Number(b) < start)) return 'unsatisfiable';
  return [start, end];
}

/** True when the summary's refs and delta list match the repository's. */
function summaryCurrent(repo: Repo): boolean {
  const p = path.join(repo.path, 'summary');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(p);
  } catch {
    return false;
  }
  let view;
  let deltaNames: string[] = [];
  try {
    view = decodeSummary(bytes, p);
    const [, meta] = parse('(a(s(taya{sv}))a{sv})', bytes, p) as [unknown, VarDict];
    const d = meta.find(([k]) => k === SUMMARY_STATIC_DELTAS);
    if (d) deltaNames = (d[1].value as VarDict).map(([k]) => k).sort();
  } catch {
    return false;
  }
  const refs = [...repo.listRefs()].filter(([n]) => !n.includes(':'));
  if (refs.length !== view.refs.length) return false;
  const listed = new Map(view.refs.map((r) => [r.name, r.checksum]));
  for (const [n, c] of refs) if (listed.get(n) !== c) return false;
  if (repo.config.getBool('core', 'no-deltas-in-summary', false)) return true;
  const have = listStaticDeltas(repo).map(deltaNameString).sort();
  return have.length === deltaNames.length && have.every((n, i) => n === deltaNames[i]);
}

export async function serveRepo(repo: Repo, opts: ServeOptions = {}): Promise<RepoServer> {
  if (repo.mode !== 'archive') {
    throw new IngotError('REPO_MODE_UNSUPPORTED', `${repo.path} is a ${repo.mode} repository; only archive repositories can be served`, {
      hint: "make an archive copy: 'ingot repo init --mode archive' and pull or commit into it",
      data: { path: repo.path, mode: repo.mode },
    });
  }
  const root = fs.realpathSync(repo.path);
  const refresh = opts.refreshSummary ?? true;
  let refreshes = 0;
  // Refreshes are serialized: concurrent summary requests wait for one regeneration.
  let pending: Promise<void> = Promise.resolve();
  const ensureSummary = (): Promise<void> => {
    pending = pending.then(async () => {
      if (summaryCurrent(repo)) return;
      await updateSummary(repo, undefined, opts.signKeys?.length ? { signKeys: opts.signKeys } : {});
      refreshes++;
    });
    return pending;
  };
  if (refresh) await ensureSummary();

  const handler = async (req: StaticRequest): Promise<StaticResponse> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed', { allow: 'GET, HEAD' });
    const rel = requestPath(req.url);
    if (rel === null) return text(404, 'not found');
    if (refresh && (rel === 'summary' || rel === 'summary.sig')) await ensureSummary();
    const abs = path.join(root, rel);
    let fd: number;
    try {
      // Symlinks inside the repository are followed only while they stay inside it.
      const real = fs.realpathSync(abs);
      if (real !== root && !real.startsWith(root + path.sep)) return text(404, 'not found');
      fd = fs.openSync(real, 'r');
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP' || c === 'EACCES') return text(404, 'not found');
      throw e;
    }
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    if (!st.isFile()) {
      fs.closeSync(fd);
      return text(404, 'not found');
    }
    const etag = etagOf(st);
    const headers: Record<string, string> = {
      etag,
      'last-modified': st.mtime.toUTCString(),
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      // Objects and deltas are content-addressed; refs, summary and config change.
      'cache-control': rel.startsWith('objects/') || rel.startsWith('deltas/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (etagMatches(req.headers['if-none-match'], etag)) {
      fs.closeSync(fd);
      return { status: 304, headers, body: { kind: 'none' } };
    }
    const ifRange = req.headers['if-range'];
    const rangeAllowed = !ifRange || ifRange.trim() === etag;
    const range = rangeAllowed ? parseRange(req.headers['range'], st.size) : null;
    if (range === 'unsatisfiable') {
      fs.closeSync(fd);
      return text(416, 'range not satisfiable', { 'content-range': `bytes */${st.size}` });
    }
    if (range) {
      headers['content-range'] = `bytes ${range[0]}-${range[1] - 1}/${st.size}`;
      return { status: 206, headers, body: { kind: 'file', fd, start: range[0], end: range[1] } };
    }
    return { status: 200, headers, body: { kind: 'file', fd, start: 0, end: st.size } };
  };

  const server = await listenHttp({
    host: opts.bind ?? '127.0.0.1',
    port: opts.port ?? 0,
    handler,
    ...(opts.log && {
      onResponse: (req: StaticRequest, status: number, bytes: number) => opts.log!({ method: req.method, path: req.url, status, bytes }),
    }),
  });
  return { ...server, summaryRefreshes: () => refreshes };
}
