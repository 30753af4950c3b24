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
import { S_IFLNK, S_IFMT, type DirMeta } from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import { Repo, objectExt } from './repo.js';
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
  /** Symlinks created (bare-user stores them as files; archive too). */
  symlinks: number;
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
    const result: CheckoutResult = { commit, destination, files: 0, dirs: 0, hardlinked: 0, copied: 0, symlinks: 0 };
    if (target.kind === 'dir' && !opts.union && canLinkInline(repo, ctx)) {
      const fast = nativeTreeCheckout(repo, target.tree, target.meta, destination, ctx, opts.threads);
      if (fast) return { ...result, ...fast };
    }
    // Hardlinks are made inline (a link(2) costs less than a message to a worker); copies and
    // decompression go to worker threads, created only when needed.
    const linker = canLinkInline(repo, ctx) ? new InlineLinker(repo, ctx) : null;
    let pool: WorkerPool | null = null;
    const pending: Promise<CheckoutFileResult>[] = [];
    const dirMetas: { path: string; meta: DirMeta }[] = [];
    const metaCache = new Map<string, DirMeta>();
    const materialize = (checksum: Checksum, dest: string): void => {
      result.files++;
      const how = linker ? linker.link(checksum, dest) : false;
      if (how) {
        if (how === 'symlink') result.symlinks++;
        else result.hardlinked++;
        return;
      }
      pool ??= new WorkerPool({ checkout: ctx }, opts.threads ?? defaultThreads(), 64);
      const p = pool.submit<CheckoutFileResult>({ op: 'checkout', checksum, dest });
      p.catch(() => undefined);
      pending.push(p);
    };
    try {
      if (target.kind === 'file') {
        if (!opts.union && fs.existsSync(destination)) throw exists(destination);
        materialize(target.checksum, destination);
      } else {
        mkdirChecked(destination, !!opts.union);
        let sinceYield = 0;
        const walk = async (tree: Checksum, meta: Checksum, dir: string): Promise<void> => {
          const t = repo.loadDirTree(tree);
          let m = metaCache.get(meta);
          if (!m) metaCache.set(meta, (m = repo.loadDirMeta(meta)));
          dirMetas.push({ path: dir, meta: m });
          result.dirs++;
          if (linker && t.files.length > 0) {
            // One native call per directory links every file it can; the rest take the
            // general path (union replacements, copies across devices, errors).
            result.files += t.files.length;
            const r = linker.linkDir(dir, t.files);
            result.hardlinked += r.hardlinked;
            result.symlinks += r.symlinks;
            for (const f of r.rest) {
              result.files--;
              materialize(f.checksum, dir + '/' + f.name);
            }
          } else {
            for (const f of t.files) materialize(f.checksum, dir + '/' + f.name);
          }
          (pool as WorkerPool | null)?.pump();
          for (const d of t.dirs) {
            const sub = dir + '/' + d.name;
            mkdirChecked(sub, !!opts.union);
            await walk(d.tree, d.meta, sub);
          }
          if (pool && ++sinceYield >= 64) {
            sinceYield = 0;
            await new Promise((r) => setImmediate(r));
          }
        };
        await walk(target.tree, target.meta, destination);
      }
      (pool as WorkerPool | null)?.pump();
      for (const p of pending) {
        const r = await p;
        if (r.symlink) result.symlinks++;
        else if (r.linked) result.hardlinked++;
        else result.copied++;
      }
    } finally {
      await (pool as WorkerPool | null)?.close();
    }
    for (let i = dirMetas.length - 1; i >= 0; i--) applyDirMeta(dirMetas[i]!.path, dirMetas[i]!.meta, !!opts.userMode);
    return result;
  });
}

interface TreeCheckoutSys {
  checkoutTree(
    objectsDir: string,
    tree: string,
    meta: string,
    dest: string,
    opts: { bareUser: boolean; userMode: boolean; threads: number },
  ): { ok: true; files: number; dirs: number; hardlinked: number; symlinks: number } | { ok: false; created: boolean; code: string; syscall: string; path: string };
}

/**
 * The whole hardlink checkout of a tree in one native call (native/ingot_sys.c, checkoutTree):
 * it parses the dirtree and dirmeta objects, creates the directories, links the files and sets
 * the directories' metadata with no JavaScript per entry. It handles only what it can do
 * exactly as the general path below would; on anything else (a malformed object, a missing
 * one, a link refused across devices, an existing destination...) it stops, and what it made
 * (only a new destination, still mode 0700 throughout) is removed here, so that the general
 * path runs from scratch and reports or handles the problem. Returns null in that case, or
 * when the addon predates checkoutTree, or when INGOT_CHECKOUT_NATIVE=0.
 */
function nativeTreeCheckout(
  repo: Repo,
  tree: Checksum,
  meta: Checksum,
  destination: string,
  ctx: CheckoutContext,
  threads: number | undefined,
): Pick<CheckoutResult, 'files' | 'dirs' | 'hardlinked' | 'symlinks'> | null {
  if (process.env['INGOT_CHECKOUT_NATIVE'] === '0') return null;
  const native = sys() as unknown as Partial<TreeCheckoutSys>;
  if (typeof native.checkoutTree !== 'function') return null;
  const r = native.checkoutTree(path.join(repo.path, 'objects'), tree, meta, destination, {
    bareUser: repo.mode === 'bare-user',
    userMode: ctx.userMode,
    threads: threads ?? Math.min(4, defaultThreads()),
  });
  if (r.ok) return { files: r.files, dirs: r.dirs, hardlinked: r.hardlinked, symlinks: r.symlinks };
  if (process.env['INGOT_DEBUG']) process.stderr.write(`checkout: native path stopped (${r.code} in ${r.syscall} '${r.path}'); taking the general path\n`);
  if (r.created) fs.rmSync(destination, { recursive: true, force: true });
  return null;
}

function canLinkInline(repo: Repo, ctx: CheckoutContext): boolean {
  if (ctx.forceCopy) return false;
  return repo.mode === 'bare' || repo.mode === 'bare-user-only' || (repo.mode === 'bare-user' && ctx.userMode);
}

/**
 * Hardlinks content objects into the checkout from the main thread. bare objects (symlinks
 * included) are linked as they are; bare-user symlinks are regular files holding the target,
 * so they become real symlinks. Returns false when the file must be copied instead.
 */
class InlineLinker {
  private readonly isLink = new Map<string, string | null>();

  constructor(
    private readonly repo: Repo,
    private readonly ctx: CheckoutContext,
  ) {
    this.objectsDir = path.join(repo.path, 'objects');
  }

  private readonly objectsDir: string;

  /**
   * Hardlinks the files of one directory with one native call (linkat relative to directory
   * descriptors: no per-file path walk from /). bare-user symlinks are made here too. Entries
   * that fail are retried one by one through `link`; what even that cannot link is returned
   * in `rest` for the caller to copy.
   */
  linkDir(dir: string, files: readonly { name: string; checksum: Checksum }[]): { hardlinked: number; symlinks: number; rest: { name: string; checksum: Checksum }[] } {
    const out = { hardlinked: 0, symlinks: 0, rest: [] as { name: string; checksum: Checksum }[] };
    const bareUser = this.repo.mode === 'bare-user';
    const ext = '.' + objectExt('file', this.repo.mode);
    const src = files.map((f) => `${f.checksum.slice(0, 2)}/${f.checksum.slice(2)}${ext}`);
    const dst = files.map((f) => f.name);
    let from = 0;
    while (from < files.length) {
      let r: { index: number; code: string; symlinks: number[] };
      try {
        r = sys().linkBatch(this.objectsDir, from === 0 ? src : src.slice(from), dir, from === 0 ? dst : dst.slice(from), bareUser);
        if (!Array.isArray(r?.symlinks)) throw new Error('linkBatch: unexpected result (an older build of the addon?)');
      } catch {
        r = { index: 0, code: 'EINVAL', symlinks: [] }; // e.g. a path too long for the batch: go one by one
      }
      // bare-user symlink objects are regular files holding the target: make real symlinks.
      for (const i of r.symlinks) {
        const f = files[from + i]!;
        const target = this.symlinkTarget(f.checksum)!;
        this.place(dir + '/' + f.name, (p) => fs.symlinkSync(target, p));
        out.symlinks++;
      }
      const handled = r.index < 0 ? files.length - from : r.index;
      out.hardlinked += handled - r.symlinks.length;
      if (r.index < 0) break;
      const f = files[from + r.index]!;
      const how = this.link(f.checksum, dir + '/' + f.name);
      if (how === 'hardlink') out.hardlinked++;
      else if (how === 'symlink') out.symlinks++;
      else out.rest.push(f);
      from += r.index + 1;
    }
    return out;
  }

  private symlinkTarget(checksum: Checksum): string | null {
    let target = this.isLink.get(checksum);
    if (target === undefined) {
      const obj = this.repo.objectPath(checksum, 'file');
      let meta: Buffer | null;
      try {
        meta = sys().lgetxattr(obj, 'user.ostreemeta');
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw missingObject(checksum);
        throw ioError(e, 'cannot read the metadata of object', obj);
      }
      if (meta === null) {
        if (!fs.existsSync(obj)) throw missingObject(checksum);
        throw new IngotError('OBJECT_CORRUPT', `file object ${checksum} lacks its user.ostreemeta xattr`, { data: { checksum, type: 'file' } });
      }
      if (meta.length < 12) throw new IngotError('OBJECT_CORRUPT', `file object ${checksum}: user.ostreemeta is truncated`, { data: { checksum, type: 'file' } });
      const isSymlink = (meta.readUInt32BE(8) & S_IFMT) === S_IFLNK;
      target = isSymlink ? symlinkTargetOf(obj) : null;
      this.isLink.set(checksum, target);
    }
    return target;
  }

  link(checksum: Checksum, dest: string): 'hardlink' | 'symlink' | false {
    const obj = this.repo.objectPath(checksum, 'file');
    if (this.repo.mode === 'bare-user') {
      const target = this.symlinkTarget(checksum);
      if (target !== null) {
        this.place(dest, (p) => fs.symlinkSync(target, p));
        return 'symlink';
      }
    }
    try {
      this.place(dest, (p) => fs.linkSync(obj, p));
      return 'hardlink';
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' && !fs.existsSync(obj)) throw missingObject(checksum);
      if (code === 'EXDEV' || code === 'EMLINK' || code === 'EPERM') {
        if (this.ctx.requireHardlinks) {
          throw new IngotError('HARDLINK_REQUIRED', `cannot hardlink '${dest}' (${code}) and --require-hardlinks was given`, {
            hint: 'check out on the file system that holds the repository, or drop --require-hardlinks',
            data: { path: dest },
          });
        }
        return false;
      }
      throw e;
    }
  }

  private place(dest: string, make: (p: string) => void): void {
    try {
      make(dest);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      if (!this.ctx.union) throw exists(dest);
      const tmp = `${dest}.ingot-tmp-${process.pid}`;
      make(tmp);
      try {
        fs.renameSync(tmp, dest);
        // rename(2) does nothing when both names are links to one inode (the same object
        // checked out again): the temporary name must still go.
        dropQuiet(tmp);
      } catch (e2) {
        fs.rmSync(tmp, { force: true });
        throw new IngotError('CHECKOUT_EXISTS', `'${dest}' is a directory in the destination but a file in the commit`, {
          data: { path: dest },
          cause: e2,
        });
      }
    }
  }
}

function dropQuiet(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch {
    /* gone already: the rename moved it */
  }
}

function symlinkTargetOf(obj: string): string {
  const raw = fs.readFileSync(obj);
  const end = raw.length > 0 && raw[raw.length - 1] === 0 ? raw.length - 1 : raw.length;
  return raw.toString('utf8', 0, end);
}

function missingObject(checksum: string): IngotError {
  return new IngotError('OBJECT_MISSING', `file object ${checksum} is missing`, {
    hint: "the repository is incomplete: run 'ingot repo fsck'",
    data: { checksum, type: 'file' },
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
    // User mode drops ownership, not the sticky and setgid bits of directories (as ostree -U).
    fs.chmodSync(p, m.mode & 0o7777);
    fs.utimesSync(p, 0, 0);
  } catch (e) {
    throw ioError(e, 'cannot set metadata of', p);
  }
}
