/**
 * The native addon (native/ingot_sys.c): xattrs, OFD locks, syncfs, reflink, renameat2, inode
 * flags, raw DEFLATE, file hashing on the thread pool, batched hardlinks. Built by `npm ci`
 * (node-gyp). Errors carry the errno name in `code`, as node:fs does.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';

export interface NativeSys {
  llistxattr(path: string | Buffer): string[];
  lgetxattr(path: string | Buffer, name: string): Buffer | null;
  lsetxattr(path: string | Buffer, name: string, value: Buffer): void;
  fsetxattr(fd: number, name: string, value: Buffer): void;
  lremovexattr(path: string | Buffer, name: string): void;
  /** op: 0 shared, 1 exclusive, 2 unlock. Returns false if nonblocking and busy. */
  ofdlock(fd: number, op: number, nonblocking: number): boolean;
  syncfs(fd: number): void;
  ficlone(srcFd: number, dstFd: number): void;
  /** flags: 1 RENAME_NOREPLACE, 2 RENAME_EXCHANGE */
  rename2(from: string, to: string, flags: number): void;
  getflags(path: string): number;
  setflags(path: string, flags: number): void;
  /** One raw DEFLATE stream of the whole input (libdeflate), level 0..12. */
  deflateRaw(input: Buffer, level: number): Buffer;
  /** Decompresses one complete raw DEFLATE stream of exactly `expectedSize` bytes (libdeflate). */
  inflateRaw(input: Buffer, expectedSize: number): Buffer;
  /**
   * For each file: SHA-256 (hex) of its prefix followed by the bytes of the file at its path
   * (never following a symlink), and the number of file bytes; an errno-coded Error instead
   * for a file that could not be read. The batch runs as one job on the libuv thread pool.
   */
  hashFiles(paths: string[], prefixes: Buffer[]): Promise<({ digest: string; size: number } | Error)[]>;
  /**
   * linkat(srcDir/srcNames[i], dstDir/dstNames[i]) for each i, relative to directory descriptors,
   * stopping at the first failure: `index` is that entry (-1 when every entry was handled) and
   * `code` its errno name. With `bareUser`, each object's user.ostreemeta is read first: symlink
   * objects are not linked but listed in `symlinks`; an unreadable or short xattr is a failure.
   */
  linkBatch(srcDir: string, srcNames: string[], dstDir: string, dstNames: string[], bareUser?: boolean): { index: number; code: string; symlinks: number[] };
  // commit:
  /**
   * Compresses bytes [0, size) of srcFd into one raw DEFLATE stream written to outFd at its
   * position, `threads` chunks of `chunkSize` bytes at a time (libdeflate `level`, chunks joined
   * into one valid stream), and hashes prefix || those bytes with SHA-256 on the way.
   * `stored` is the number of compressed bytes written; `shortAt` is -1, or the offset where
   * the file ended early (then the output is incomplete). Other failures throw errno Errors.
   */
  deflateFile(srcFd: number, outFd: number, size: number, prefix: Buffer, level: number, threads: number, chunkSize: number): { digest: string; stored: number; shortAt: number };
  /**
   * Stores a batch of regular files as content objects of a bare (`bare` true) or bare-user
   * repository, as one job on the libuv thread pool: each file without xattrs (when
   * `checkXattrs`) and at most `maxSize` bytes is hashed and, unless objects/ has it, written
   * to stagingDir/XX/REST.file with the mode's ownership, permissions, user.ostreemeta and
   * mtime 0. ownerUid/ownerGid override the files' own when >= 0. status[i]: 0 written, 1 already
   * present, 2 left to the caller (xattrs, large, not a regular file, ended early), 3 failed
   * (errors[i] is an errno Error naming the call and the path).
   */
  storeBareFiles(
    stagingDir: string,
    objectsDir: string,
    bare: boolean,
    ownerUid: number,
    ownerGid: number,
    checkXattrs: boolean,
    maxSize: number,
    paths: string[],
  ): Promise<{ status: number[]; digests: string[]; sizes: number[]; errors: (Error | null)[] }>;
}

let cached: NativeSys | undefined;

export function sys(): NativeSys {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/platform -> package root
  const root = path.resolve(here, '..', '..', '..');
  const require = createRequire(import.meta.url);
  try {
    cached = require(path.join(root, 'build', 'Release', 'ingot_sys.node')) as NativeSys;
  } catch (e) {
    throw new IngotError('INTERNAL', `the native addon build/Release/ingot_sys.node could not be loaded`, {
      cause: e,
      hint: "run 'npm ci' (it builds the addon with node-gyp; needs python3, make and g++)",
    });
  }
  return cached;
}

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const FS_IMMUTABLE_FL = 0x10;
