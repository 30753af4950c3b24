/**
 * The repository lock: an OFD lock (fcntl F_OFD_SETLK) on `<repo>/.lock`, as libostree takes it, so that ingot and
 * ostree processes exclude each other. Shared for readers and writers of new objects;
 * exclusive for operations that delete (prune). Blocks by polling up to a timeout.
 */
import * as fs from 'node:fs';
import { IngotError, ioError } from '../core/errors.js';
import { sys } from './sys.js';

export type LockKind = 'shared' | 'exclusive';

function lockTimeout(): number {
  const v = Number(process.env['INGOT_LOCK_TIMEOUT_MS']);
  return Number.isFinite(v) && v >= 0 ? v : 30000;
}

export class FileLock {
  private fd: number;
  private kind: LockKind | null = null;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static open(path: string): FileLock {
    try {
      return new FileLock(path, fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
    } catch (e) {
      throw ioError(e, 'cannot open lock file', path);
    }
  }

  /** Takes the lock, waiting up to `timeoutMs` (default from INGOT_LOCK_TIMEOUT_MS or 30 s). */
  /** Takes the lock if it is free right now; returns false otherwise. */
  tryAcquire(kind: LockKind): boolean {
    if (!sys().ofdlock(this.fd, kind === 'shared' ? 0 : 1, 1)) return false;
    this.kind = kind;
    return true;
  }

  async acquire(kind: LockKind, timeoutMs = lockTimeout()): Promise<void> {
    const op = kind === 'shared' ? 0 : 1;
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    while (!sys().ofdlock(this.fd, op, 1)) {
      if (Date.now() >= deadline) {
        throw new IngotError('LOCK_BUSY', `the lock '${this.path}' is held by another process`, {
          hint: 'wait for the other ingot or ostree process to finish, or raise INGOT_LOCK_TIMEOUT_MS',
          data: { path: this.path, kind },
        });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 200);
    }
    this.kind = kind;
  }

  get held(): LockKind | null {
    return this.kind;
  }

  release(): void {
    if (this.fd < 0) return;
    try {
      sys().ofdlock(this.fd, 2, 0);
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
      this.kind = null;
    }
  }
}
