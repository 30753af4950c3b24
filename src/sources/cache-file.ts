/**
 * Self-checking cache files: derived data (plan memos, index caches) kept under the cache
 * directory, which may be stale, truncated or damaged at any time and must then be ignored,
 * never trusted. A file is
 *
 *   `ingot-cache <kind> <key> <sha256 of the body> <body length>\n` + body
 *
 * written through a temporary file and a rename (a reader sees the old file or the new one,
 * never a torn one). `readCacheFile` returns the body only when the header names the kind and
 * key asked for and the body's length and digest match; anything else reads as a miss.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { atomicWrite, mkdirp } from '../platform/fs.js';

const MAGIC = 'ingot-cache';

/** The body of the cache file at `file` if it is intact and for `kind`/`key`; null otherwise. */
export function readCacheFile(file: string, kind: string, key: string): Buffer | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return null;
  }
  const nl = data.indexOf(10);
  if (nl < 0 || nl > 512) return null;
  const head = data.subarray(0, nl).toString('latin1').split(' ');
  if (head.length !== 5 || head[0] !== MAGIC || head[1] !== kind || head[2] !== key) return null;
  const body = data.subarray(nl + 1);
  if (String(body.length) !== head[4]) return null;
  if (createHash('sha256').update(body).digest('hex') !== head[3]) return null;
  return body;
}

/**
 * Writes a cache file (temporary file + rename; no fsync: a file cut short by a crash fails its
 * digest check and is rebuilt). Best effort: a cache that cannot be written (read-only or full
 * file system) only costs the next run time, so errors are swallowed and false is returned.
 */
export function writeCacheFile(file: string, kind: string, key: string, body: Uint8Array | string): boolean {
  if (/\s/.test(kind) || /\s/.test(key)) throw new Error(`cache kind and key must not contain spaces: '${kind}' '${key}'`);
  const b = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const digest = createHash('sha256').update(b).digest('hex');
  try {
    mkdirp(path.dirname(file));
    atomicWrite(file, Buffer.concat([Buffer.from(`${MAGIC} ${kind} ${key} ${digest} ${b.length}\n`, 'latin1'), b]), { fsync: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps the `keep` most recently used files directly in `dir` whose names end in `suffix`
 * (by modification time) and removes the others. Best effort.
 */
export function pruneCacheDir(dir: string, suffix: string, keep: number): void {
  try {
    const names = fs.readdirSync(dir);
    // Temporary files of writers that died before their rename (atomicWrite's `.NAME-PID-RANDOM`).
    for (const n of names) {
      if (!n.startsWith('.') || !n.includes(`${suffix}-`)) continue;
      const p = path.join(dir, n);
      try {
        if (Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { force: true });
      } catch {
        // gone already
      }
    }
    const files = names
      .filter((n) => n.endsWith(suffix) && !n.startsWith('.'))
      .map((n) => {
        const p = path.join(dir, n);
        try {
          return { p, t: fs.statSync(p).mtimeMs };
        } catch {
          return { p, t: 0 };
        }
      })
      .sort((a, b) => b.t - a.t);
    for (const f of files.slice(keep)) fs.rmSync(f.p, { force: true });
  } catch {
    // Nothing to prune, or no permission: the cache only grows.
  }
}

/** Marks a cache file as used now (for pruning by age). Best effort. */
export function touchCacheFile(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // ignore
  }
}
