import { ERROR_CODES, type ErrorCode } from './codes.js';

export interface IngotErrorOptions {
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
  /** Structured details (path, checksum, offset, ...) rendered by --json. */
  data?: Record<string, unknown>;
}

/**
 * The one error class for every failure a user can cause or meet. Catch by `code`, never by
 * message text. Programmer errors are plain `assert`s and surface as INTERNAL.
 */
export class IngotError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: IngotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IngotError';
    this.code = code;
    this.hint = options.hint;
    this.data = options.data ?? {};
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...this.data };
  }
}

export function isIngotError(e: unknown, code?: ErrorCode): e is IngotError {
  return e instanceof IngotError && (code === undefined || e.code === code);
}

/** Node's system errors carry an errno name in `code`. */
export function errnoCode(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

/** Wraps a system error as IO_ERROR naming the path, unless it already is an IngotError. */
export function ioError(e: unknown, what: string, path: string): IngotError {
  if (e instanceof IngotError) return e;
  const code = errnoCode(e) ?? 'EIO';
  const hints: Record<string, string> = {
    EACCES: 'check the permissions of the path, or run as a user who may write there',
    EPERM: 'the operation needs privileges (run as root) or the file is immutable',
    ENOSPC: 'free some disk space and retry',
    EROFS: 'the file system is mounted read-only',
    ENOENT: 'check that the path exists',
  };
  return new IngotError('IO_ERROR', `${what} '${path}': ${code}`, {
    cause: e,
    hint: hints[code] ?? 'see the cause for details',
    data: { path, errno: code },
  });
}
