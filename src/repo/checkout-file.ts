/**
 * Materialising one content object at a destination path (runs in worker threads):
 * a hardlink into the store where the object's on-disk metadata is what the checkout needs
 * (bare always; bare-user in user mode or when ownership and mode match), else a copy with
 * ownership, mode and xattrs restored where permitted (decompressing for archive).
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { S_IFLNK, S_IFMT } from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import { tmpName, rmQuiet } from '../platform/fs.js';
import { Repo } from './repo.js';
import { readContentInfo, type ContentInfo } from './content.js';
import * as path from 'node:path';

export interface CheckoutContext {
  repoPath: string;
  /** Ignore ownership and xattrs (ostree's --user-mode). */
  userMode: boolean;
  union: boolean;
  requireHardlinks: boolean;
  /** Never hardlink (ostree's --force-copy). */
  forceCopy: boolean;
}

export interface CheckoutFileJob {
  checksum: string;
  dest: string;
}

export interface CheckoutFileResult {
  linked: boolean;
  symlink?: boolean;
  size: number;
}

let repoCache: Repo | null = null;
function repoFor(ctx: CheckoutContext): Repo {
  if (!repoCache || repoCache.path !== ctx.repoPath) repoCache = Repo.open(ctx.repoPath);
  return repoCache;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function canHardlink(repo: Repo, ctx: CheckoutContext): boolean {
  if (ctx.forceCopy || repo.mode === 'archive') return false;
  // bare objects carry the real ownership, mode and xattrs. bare-user objects carry the
  // writer's ownership and user.ostreemeta, so (as in ostree) only a user-mode checkout may
  // share their inodes.
  if (repo.mode === 'bare-user') return ctx.userMode;
  return true;
}

/** Replaces `dest` (union mode) or creates it; `make` writes a new file at the given path. */
function place(ctx: CheckoutContext, dest: string, make: (p: string) => void | Promise<void>): Promise<void> | void {
  if (!ctx.union) return make(dest);
  const tmp = tmpName(path.dirname(dest), 'co');
  const finish = (): void => {
    try {
      fs.renameSync(tmp, dest);
      // rename(2) does nothing when both names are links to one inode (the same object
      // checked out again): the temporary name must still go.
      rmQuiet(tmp);
    } catch (e) {
      rmQuiet(tmp);
      if (errnoCode(e) === 'EISDIR' || errnoCode(e) === 'ENOTEMPTY') {
        throw new IngotError('CHECKOUT_EXISTS', `'${dest}' is a directory in the destination but a file in the commit`, {
          data: { path: dest },
        });
      }
      throw ioError(e, 'cannot replace', dest);
    }
  };
  const r = make(tmp);
  if (r instanceof Promise) return r.then(finish);
  finish();
}

function applyMeta(ctx: CheckoutContext, p: string, info: ContentInfo): void {
  if (!ctx.userMode && isRoot) fs.chownSync(p, info.uid, info.gid);
  // User mode: no setuid or setgid on files that the user, not the commit, now owns.
  fs.chmodSync(p, ctx.userMode ? info.mode & 0o1777 : info.mode & 0o7777);
  if (!ctx.userMode) {
    for (const x of info.xattrs) {
      try {
        sys().lsetxattr(p, x.name, Buffer.from(x.value));
      } catch (e) {
        // Restored where permitted: security.* and trusted.* need privileges.
        if (errnoCode(e) !== 'EPERM' && errnoCode(e) !== 'ENOTSUP') throw e;
      }
    }
  }
  fs.utimesSync(p, 0, 0);
}

export async function checkoutFileJob(ctx: CheckoutContext, job: CheckoutFileJob): Promise<CheckoutFileResult> {
  const repo = repoFor(ctx);
  const info = readContentInfo(repo, job.checksum);
  const dest = job.dest;
  try {
    if ((info.mode & S_IFMT) === S_IFLNK) {
      await place(ctx, dest, (p) => {
        fs.symlinkSync(info.symlinkTarget, p);
        if (!ctx.userMode && isRoot) fs.lchownSync(p, info.uid, info.gid);
        if (!ctx.userMode) {
          for (const x of info.xattrs) {
            try {
              sys().lsetxattr(p, x.name, Buffer.from(x.value));
            } catch (e) {
              if (errnoCode(e) !== 'EPERM' && errnoCode(e) !== 'ENOTSUP') throw e;
            }
          }
        }
      });
      return { linked: false, symlink: true, size: 0 };
    }
    if (canHardlink(repo, ctx)) {
      try {
        await place(ctx, dest, (p) => fs.linkSync(info.objectPath, p));
        return { linked: true, size: Number(info.size) };
      } catch (e) {
        const code = errnoCode(e);
        // Across devices, over the link limit, or refused by the file system: copy instead.
        if (code !== 'EXDEV' && code !== 'EMLINK' && code !== 'EPERM' && code !== 'EACCES') throw e;
        if (ctx.requireHardlinks) throw hardlinkRequired(dest, code);
      }
    } else if (ctx.requireHardlinks) {
      throw hardlinkRequired(dest, repo.mode === 'archive' ? 'archive repository' : 'bare-user repository without --user-mode');
    }
    await place(ctx, dest, async (p) => {
      if (repo.mode === 'archive') {
        if (info.size <= 4n * 1024n * 1024n) {
          const raw = fs.readFileSync(info.objectPath).subarray(info.dataOffset);
          let data: Buffer;
          try {
            data = zlib.inflateRawSync(raw);
          } catch (e) {
            throw corrupt(job.checksum, e);
          }
          if (BigInt(data.length) !== info.size) throw corrupt(job.checksum, new Error('size mismatch'));
          fs.writeFileSync(p, data, { flag: 'wx', mode: 0o600 });
        } else {
          const inflate = zlib.createInflateRaw();
          try {
            await pipeline(
              fs.createReadStream(info.objectPath, { start: info.dataOffset }),
              inflate,
              fs.createWriteStream(p, { flags: 'wx', mode: 0o600 }),
            );
          } catch (e) {
            if (errnoCode(e)?.startsWith('Z_')) throw corrupt(job.checksum, e);
            throw e;
          }
          if (BigInt(fs.statSync(p).size) !== info.size) throw corrupt(job.checksum, new Error('size mismatch'));
        }
      } else {
        fs.copyFileSync(info.objectPath, p, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
      }
      applyMeta(ctx, p, info);
    });
    return { linked: false, size: Number(info.size) };
  } catch (e) {
    if (e instanceof IngotError) throw e;
    if (errnoCode(e) === 'EEXIST') {
      throw new IngotError('CHECKOUT_EXISTS', `'${dest}' already exists`, {
        hint: 'check out into a new directory, or pass --union to overwrite',
        data: { path: dest },
      });
    }
    throw ioError(e, 'cannot check out', dest);
  }
}

function hardlinkRequired(dest: string, why: string): IngotError {
  return new IngotError('HARDLINK_REQUIRED', `cannot hardlink '${dest}' (${why}) and --require-hardlinks was given`, {
    hint: 'check out on the file system of a bare or bare-user repository (with --user-mode for bare-user), or drop --require-hardlinks',
    data: { path: dest },
  });
}

function corrupt(checksum: string, e: unknown): IngotError {
  return new IngotError('DEFLATE_INVALID', `file object ${checksum}: compressed data is corrupt (${(e as Error).message})`, {
    hint: "run 'ingot repo fsck --delete' and pull or commit the content again",
    data: { checksum, type: 'file' },
    cause: e,
  });
}
