/**
 * Checking out a commit (or a subpath of it) into a directory: directories are created by the
 * main thread, files are materialised by worker threads (hardlink or copy, see
 * checkout-file.ts), and directory ownership, modes and xattrs are applied last, deepest first,
 * so read-only directories can still be filled.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import type { DirMeta } from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import { Repo } from './repo.js';
import { WorkerPool, defaultThreads } from './worker-pool.js';
import type { CheckoutContext, CheckoutFileResult } from './checkout-file.js';
import { resolvePath } from './traverse.js';

export interface CheckoutOptions {
  subpath?: string;
  union?: boolean;
  requireHardlinks?: boolean;
  userMode?: boolean;
  forceCopy?: boolean;
  threads?: number;
}

export interface CheckoutResult {
  commit: Checksum;
  destination: string;
  files: number;
  dirs: number;
  hardlinked: number;
  copied: number;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export async function checkout(repo: Repo, rev: string, dest: string, opts: CheckoutOptions = {}): Promise<CheckoutResult> {
  const destination = path.resolve(dest);
  return repo.withLock('shared', async () => {
    const commit = repo.resolveRev(rev);
    const c = repo.loadCommit(commit);
    const target = resolvePath(repo, c, opts.subpath ?? '/');
    const ctx: CheckoutContext = {
      repoPath: repo.path,
      userMode: !!opts.userMode,
      union: !!opts.union,
      requireHardlinks: !!opts.requireHardlinks,
      forceCopy: !!opts.forceCopy,
    };
    if (opts.requireHardlinks && repo.mode === 'archive') {
      throw new IngotError('HARDLINK_REQUIRED', `an archive repository stores compressed objects, which cannot be hardlinked`, {
        hint: 'check out from a bare or bare-user repository, or drop --require-hardlinks',
        data: { path: destination },
      });
    }
    const result: CheckoutResult = { commit, destination, files: 0, dirs: 0, hardlinked: 0, copied: 0 };
    const pool = new WorkerPool({ checkout: ctx }, opts.threads ?? defaultThreads(), 64);
    const pending: Promise<CheckoutFileResult>[] = [];
    const dirMetas: { path: string; meta: DirMeta }[] = [];
    try {
      if (target.kind === 'file') {
        if (!opts.union && fs.existsSync(destination)) throw exists(destination);
        pending.push(pool.submit({ op: 'checkout', checksum: target.checksum, dest: destination }));
        result.files++;
      } else {
        mkdirChecked(destination, !!opts.union);
        let sinceYield = 0;
        const walk = async (tree: Checksum, meta: Checksum, dir: string): Promise<void> => {
          const t = repo.loadDirTree(tree);
          dirMetas.push({ path: dir, meta: repo.loadDirMeta(meta) });
          result.dirs++;
          for (const f of t.files) {
            const p = pool.submit<CheckoutFileResult>({ op: 'checkout', checksum: f.checksum, dest: path.join(dir, f.name) });
            p.catch(() => undefined);
            pending.push(p);
            result.files++;
          }
          pool.pump();
          for (const d of t.dirs) {
            const sub = path.join(dir, d.name);
            mkdirChecked(sub, !!opts.union);
            await walk(d.tree, d.meta, sub);
          }
          if (++sinceYield >= 64) {
            sinceYield = 0;
            await new Promise((r) => setImmediate(r));
          }
        };
        await walk(target.tree, target.meta, destination);
      }
      pool.pump();
      for (const p of pending) {
        const r = await p;
        if (r.linked) result.hardlinked++;
        else result.copied++;
      }
    } finally {
      await pool.close();
    }
    for (let i = dirMetas.length - 1; i >= 0; i--) applyDirMeta(dirMetas[i]!.path, dirMetas[i]!.meta, !!opts.userMode);
    return result;
  });
}

function exists(p: string): IngotError {
  return new IngotError('CHECKOUT_EXISTS', `'${p}' already exists`, {
    hint: 'check out into a new directory, or pass --union to write into an existing one',
    data: { path: p },
  });
}

function mkdirChecked(p: string, union: boolean): void {
  try {
    fs.mkdirSync(p, { mode: 0o700 });
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') {
      if (!union) throw exists(p);
      const st = fs.lstatSync(p);
      if (!st.isDirectory()) {
        throw new IngotError('CHECKOUT_EXISTS', `'${p}' is a file in the destination but a directory in the commit`, {
          data: { path: p },
        });
      }
      return;
    }
    throw ioError(e, 'cannot create directory', p);
  }
}

function applyDirMeta(p: string, m: DirMeta, userMode: boolean): void {
  try {
    if (!userMode && isRoot) fs.chownSync(p, m.uid, m.gid);
    if (!userMode) {
      for (const x of m.xattrs) {
        try {
          sys().lsetxattr(p, x.name, Buffer.from(x.value));
        } catch (e) {
          if (errnoCode(e) !== 'EPERM' && errnoCode(e) !== 'ENOTSUP') throw e;
        }
      }
    }
    fs.chmodSync(p, userMode ? m.mode & 0o777 : m.mode & 0o7777);
    fs.utimesSync(p, 0, 0);
  } catch (e) {
    throw ioError(e, 'cannot set metadata of', p);
  }
}
