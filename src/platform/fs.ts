/**
 * File-system helpers: the one atomic-write helper (temp file in the same directory, fsync,
 * rename), directory fsync, syncfs, and small wrappers that turn errno failures into
 * IngotError IO_ERROR naming the path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoCode, ioError } from '../core/errors.js';
import { sys } from './sys.js';

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the file before the rename and the directory after (default true). */
  fsync?: boolean;
  /** Directory for the temp file (same file system as the target); defaults to the target's. */
  tmpDir?: string;
}

export function tmpName(dir: string, base = 'tmp'): string {
  return path.join(dir, `.${base}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `target` so that readers see the old content or the new, never a mix. */
export function atomicWrite(target: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): void {
  const dir = path.dirname(target);
  const tmp = tmpName(opts.tmpDir ?? dir, path.basename(target));
  const doSync = opts.fsync ?? true;
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o644);
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    // Explicit mode: the result must not depend on the caller's umask.
    fs.fchmodSync(fd, opts.mode ?? 0o644);
    if (doSync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, target);
    if (doSync) fsyncDir(dir);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    rmQuiet(tmp);
    throw ioError(e, 'cannot write', target);
  }
}

export function fsyncDir(dir: string): void {
  // (errors propagate: callers wrap them)
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes every dirty page of the file system holding `dir` (one syscall, like ostree). */
export function syncFs(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      sys().syncfs(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw ioError(e, 'cannot flush the file system of', dir);
  }
}

export function rmQuiet(p: string): void {
  try {
    fs.rmSync(p, { force: true, recursive: true });
  } catch {
    /* best effort */
  }
}

export function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
    throw ioError(e, 'cannot stat', p);
  }
}

export function readFileOrNull(p: string): Buffer | null {
  try {
    return fs.readFileSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw ioError(e, 'cannot read', p);
  }
}

export function mkdirp(p: string, mode = 0o755): void {
  try {
    fs.mkdirSync(p, { recursive: true, mode });
  } catch (e) {
    throw ioError(e, 'cannot create directory', p);
  }
}
