/**
 * Safe extraction of package payloads (a .deb's data.tar, or any tar entry stream) into a
 * root directory. The archive is hostile until proven otherwise:
 *
 * - Member names are normalised (`./usr/bin/x` -> `usr/bin/x`); absolute names and names with
 *   a `..` component are refused (ARCHIVE_PATH_UNSAFE naming the member and its byte offset).
 * - Every parent component is resolved inside the root, as `openat2(RESOLVE_IN_ROOT)` would:
 *   component by component with lstat; a symlink already in the tree is followed with its
 *   target taken relative to the root (an absolute target starts again at the root, `..` stops
 *   at the root), so merged-/usr links such as `bin -> usr/bin` work and nothing resolves
 *   outside. At most 40 symlinks are followed per path.
 * - A symlink created by the same archive is never followed: a member written "through" it is
 *   refused (ARCHIVE_PATH_UNSAFE), as dpkg (which creates symlinks last) and GNU tar (which
 *   delays dangerous ones) also end up refusing it.
 * - The last component is never followed: an existing file or symlink there is replaced (the
 *   new file is opened O_CREAT|O_EXCL|O_NOFOLLOW); a directory there is kept for a directory
 *   entry (also a symlink that resolves to a directory in the root, as dpkg keeps
 *   merged-/usr links) and is a conflict for anything else (ARCHIVE_CONFLICT).
 * - Hard links may only point at regular files this extraction has written (not at files
 *   that were in the root before, nor outside it).
 * - Device nodes and FIFOs are refused (ARCHIVE_ENTRY_UNSUPPORTED) unless `special: 'record'`,
 *   which lists them without creating them.
 * - A file gets exactly its declared size; entry count, per-file size and total size are
 *   bounded (ARCHIVE_LIMIT).
 *
 * Modes (setuid/setgid included), owners (numeric, when running as root or `owners: true`)
 * and mtimes are applied as `dpkg-deb -x` (tar -p) does; directory modes and times are applied
 * last, deepest first, and only to directories this extraction created. The root is assumed
 * not to be modified concurrently by anyone else (the checks are path-based, like tar's).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { normalizeMemberName, type TarEntry, type TarEntryType } from '../codecs/archive/tar.js';
import { openDeb, type DebLimits } from '../codecs/deb/deb.js';

export interface ExtractOptions {
  /** Device nodes and FIFOs: refuse (default) or list without creating them. */
  special?: 'refuse' | 'record';
  /** Apply the archive's numeric uid/gid (default: when running as root). */
  owners?: boolean;
  /** Apply the archive's mtimes (default true). */
  mtimes?: boolean;
  /** Bounds; defaults as in DebLimits plus 16 GiB per file. */
  limits?: DebLimits & { maxFileSize?: number };
}

export interface ExtractedEntry {
  /** The member's path in the tree, absolute and normalised ('/usr/bin/x'; '/' for the root). */
  path: string;
  /** Where it was written, relative to the root after in-root symlink resolution of the parents ('/usr/bin/x' for a member '/bin/x' under a merged /usr). */
  resolvedPath: string;
  type: TarEntryType;
  mode: number;
  size: number;
  uid: number;
  gid: number;
  user: string;
  group: string;
  mtime: number;
  /** Symlink target (as stored) or hardlink target (normalised tree path). */
  target?: string;
  devmajor?: number;
  devminor?: number;
  /** False for recorded special files and for directories that already existed. */
  created: boolean;
  /** Byte offset of the entry's header in the uncompressed tar stream. */
  offset: number;
}

const MAX_SYMLINK_FOLLOWS = 40;

function unsafe(member: string, offset: number, reason: string, label: string | undefined, extra: Record<string, unknown> = {}): IngotError {
  return new IngotError('ARCHIVE_PATH_UNSAFE', `${label ? `${label}: ` : ''}member '${member}' at offset ${offset}: ${reason}`, {
    hint: 'the package is malformed or hostile; nothing was written outside the root, but do not install it',
    data: { member, offset, ...(label ? { archive: label } : {}), ...extra },
  });
}

function conflict(member: string, offset: number, reason: string, label: string | undefined): IngotError {
  return new IngotError('ARCHIVE_CONFLICT', `${label ? `${label}: ` : ''}member '${member}' at offset ${offset}: ${reason}`, {
    hint: 'the archive contradicts itself or the tree it is extracted into',
    data: { member, offset, ...(label ? { archive: label } : {}) },
  });
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw ioError(e, 'cannot stat', p);
  }
}

interface DirMeta {
  abs: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  depth: number;
}

/**
 * Extracts tar entries into `rootDir` (which must exist). Returns what was written, in
 * archive order.
 */
export async function extractTar(
  entries: AsyncIterable<TarEntry>,
  rootDir: string,
  opts: ExtractOptions & { label?: string } = {},
): Promise<ExtractedEntry[]> {
  const label = opts.label;
  let root: string;
  try {
    root = fs.realpathSync(rootDir);
    if (!fs.statSync(root).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    throw ioError(e, 'cannot use extraction root', rootDir);
  }
  const special = opts.special ?? 'refuse';
  const owners = opts.owners ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  const mtimes = opts.mtimes ?? true;
  const maxFile = opts.limits?.maxFileSize ?? 16 * 1024 ** 3;
  const maxTotal = opts.limits?.maxDataTotal ?? 64 * 1024 ** 3;

  /** Root-relative real paths ('a/b') of symlinks this extraction created. */
  const ourSymlinks = new Set<string>();
  /** Root-relative real paths of regular files this extraction wrote (hard-link sources). */
  const ourFiles = new Set<string>();
  /** Directories this extraction created or set, by root-relative real path. */
  const ourDirs = new Map<string, DirMeta>();
  const out: ExtractedEntry[] = [];
  let total = 0;

  const abs = (rel: string[]): string => (rel.length ? path.join(root, ...rel) : root);
  const key = (rel: string[]): string => rel.join('/');

  /**
   * Resolves directory components in the root (RESOLVE_IN_ROOT), creating missing ones.
   * Returns the real root-relative components.
   */
  const resolveDirs = (components: string[], member: string, offset: number, create: boolean): string[] | null => {
    const stack: string[] = [];
    const todo = [...components];
    let follows = 0;
    while (todo.length) {
      const c = todo.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        stack.pop();
        continue;
      }
      const p = abs([...stack, c]);
      const st = lstatOrNull(p);
      if (!st) {
        if (!create) return null;
        try {
          fs.mkdirSync(p, { mode: 0o755 });
        } catch (e) {
          throw ioError(e, 'cannot create directory', p);
        }
        stack.push(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (ourSymlinks.has(key([...stack, c]))) {
          throw unsafe(member, offset, `a parent ('/${key([...stack, c])}') is a symlink created by the same archive`, label);
        }
        if (++follows > MAX_SYMLINK_FOLLOWS) throw unsafe(member, offset, 'too many levels of symbolic links', label);
        let target: string;
        try {
          target = fs.readlinkSync(p, 'utf8');
        } catch (e) {
          throw ioError(e, 'cannot read link', p);
        }
        if (target.startsWith('/')) stack.length = 0;
        todo.unshift(...target.split('/'));
        continue;
      }
      if (!st.isDirectory()) {
        if (!create) return null;
        throw conflict(member, offset, `a parent ('/${key([...stack, c])}') is not a directory`, label);
      }
      stack.push(c);
    }
    return stack;
  };

  for await (const e of entries) {
    const norm = normalizeMemberName(e.name);
    if (!norm.ok) throw unsafe(e.name, e.offset, norm.reason, label);
    const comps = norm.path === '' ? [] : norm.path.split('/');
    const treePath = '/' + norm.path;
    const rec: ExtractedEntry = {
      path: treePath,
      resolvedPath: treePath,
      type: e.type,
      mode: e.mode,
      size: e.size,
      uid: e.uid,
      gid: e.gid,
      user: e.uname,
      group: e.gname,
      mtime: e.mtime,
      created: true,
      offset: e.offset,
    };
    if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
      if (special === 'refuse') {
        throw new IngotError(
          'ARCHIVE_ENTRY_UNSUPPORTED',
          `${label ? `${label}: ` : ''}member '${e.name}' at offset ${e.offset} is a ${e.type === 'fifo' ? 'FIFO' : `${e.type} device`}`,
          { hint: "pass special: 'record' to list such entries without creating them", data: { member: e.name, offset: e.offset, type: e.type } },
        );
      }
      rec.created = false;
      if (e.devmajor !== undefined) rec.devmajor = e.devmajor;
      if (e.devminor !== undefined) rec.devminor = e.devminor;
      out.push(rec);
      continue;
    }

    // The root itself ('./').
    if (comps.length === 0) {
      if (e.type !== 'dir') throw unsafe(e.name, e.offset, 'a non-directory entry names the root', label);
      rec.resolvedPath = '/';
      rec.created = false;
      out.push(rec);
      continue;
    }

    const parent = resolveDirs(comps.slice(0, -1), e.name, e.offset, true)!;
    const name = comps[comps.length - 1]!;
    const relReal = [...parent, name];
    const target = abs(relReal);
    const k = key(relReal);
    rec.resolvedPath = '/' + k;
    const st = lstatOrNull(target);

    const forget = (): void => {
      ourSymlinks.delete(k);
      ourFiles.delete(k);
    };
    const removeExisting = (): void => {
      if (!st) return;
      try {
        fs.unlinkSync(target);
      } catch (err) {
        throw ioError(err, 'cannot replace', target);
      }
      forget();
    };
    const applyOwner = (fn: () => void): void => {
      if (!owners) return;
      try {
        fn();
      } catch (err) {
        throw ioError(err, 'cannot change the owner of', target);
      }
    };

    switch (e.type) {
      case 'dir': {
        let existing = false;
        if (st?.isDirectory()) existing = true;
        else if (st?.isSymbolicLink()) {
          if (ourSymlinks.has(k)) throw conflict(e.name, e.offset, 'a symlink of the same archive is in the way of a directory', label);
          // Keep a symlink that resolves to a directory inside the root (merged /usr).
          let resolved: string[] | null = null;
          try {
            resolved = resolveDirs(relReal, e.name, e.offset, false);
          } catch (err) {
            if (!(err instanceof IngotError)) throw err;
          }
          if (resolved) {
            existing = true;
            rec.resolvedPath = '/' + key(resolved);
          } else {
            removeExisting();
          }
        } else if (st) {
          removeExisting();
        }
        if (!existing) {
          try {
            fs.mkdirSync(target, { mode: 0o700 });
          } catch (err) {
            throw ioError(err, 'cannot create directory', target);
          }
        }
        const known = ourDirs.get(k);
        if (!existing || known) {
          ourDirs.set(k, { abs: target, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, depth: relReal.length });
        } else {
          rec.created = false;
        }
        break;
      }
      case 'file': {
        if (st?.isDirectory()) throw conflict(e.name, e.offset, 'a directory is in the way of a file', label);
        if (e.size > maxFile) {
          throw new IngotError('ARCHIVE_LIMIT', `${label ? `${label}: ` : ''}member '${e.name}' declares ${e.size} bytes, over the limit of ${maxFile}`, {
            hint: 'raise the file size limit if the package is trusted',
            data: { member: e.name, offset: e.offset, limit: maxFile },
          });
        }
        if (total + e.size > maxTotal) {
          throw new IngotError('ARCHIVE_LIMIT', `${label ? `${label}: ` : ''}the archive's files exceed ${maxTotal} bytes`, {
            hint: 'raise the total size limit if the package is trusted',
            data: { member: e.name, offset: e.offset, limit: maxTotal },
          });
        }
        removeExisting();
        let fd: number;
        try {
          fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        } catch (err) {
          throw ioError(err, 'cannot create', target);
        }
        try {
          let written = 0;
          for await (const c of e.body) {
            written += c.length;
            if (written > e.size) throw unsafe(e.name, e.offset, `more data than the declared ${e.size} bytes`, label);
            let o = 0;
            while (o < c.length) o += fs.writeSync(fd, c, o, c.length - o);
          }
          total += written;
          applyOwner(() => fs.fchownSync(fd, e.uid, e.gid));
          fs.fchmodSync(fd, e.mode & 0o7777);
          if (mtimes) fs.futimesSync(fd, e.mtime, e.mtime);
        } catch (err) {
          throw err instanceof IngotError ? err : ioError(err, 'cannot write', target);
        } finally {
          fs.closeSync(fd);
        }
        ourFiles.add(k);
        break;
      }
      case 'symlink': {
        if (st?.isDirectory()) throw conflict(e.name, e.offset, 'a directory is in the way of a symlink', label);
        if (e.linkname === undefined || e.linkname === '') throw unsafe(e.name, e.offset, 'symlink without a target', label);
        removeExisting();
        try {
          fs.symlinkSync(e.linkname, target);
        } catch (err) {
          throw ioError(err, 'cannot create symlink', target);
        }
        applyOwner(() => fs.lchownSync(target, e.uid, e.gid));
        if (mtimes) {
          try {
            fs.lutimesSync(target, e.mtime, e.mtime);
          } catch (err) {
            throw ioError(err, 'cannot set the time of', target);
          }
        }
        ourSymlinks.add(k);
        rec.target = e.linkname;
        rec.mode = 0o777;
        break;
      }
      case 'hardlink': {
        const ln = normalizeMemberName(e.linkname ?? '');
        if (!ln.ok) throw unsafe(e.name, e.offset, `hard link target '${e.linkname ?? ''}': ${ln.reason}`, label, { target: e.linkname });
        const lcomps = ln.path === '' ? [] : ln.path.split('/');
        if (lcomps.length === 0) throw unsafe(e.name, e.offset, 'hard link to the root', label);
        const lparent = resolveDirs(lcomps.slice(0, -1), e.name, e.offset, false);
        const lrel = lparent ? [...lparent, lcomps[lcomps.length - 1]!] : null;
        if (!lrel || !ourFiles.has(key(lrel))) {
          throw unsafe(e.name, e.offset, `hard link target '${e.linkname}' is not a file extracted from this archive`, label, { target: e.linkname });
        }
        if (key(lrel) === k) break; // a link to itself: nothing to do
        if (st?.isDirectory()) throw conflict(e.name, e.offset, 'a directory is in the way of a hard link', label);
        removeExisting();
        try {
          fs.linkSync(abs(lrel), target);
        } catch (err) {
          throw ioError(err, 'cannot create hard link', target);
        }
        ourFiles.add(k);
        rec.target = '/' + ln.path;
        break;
      }
    }
    out.push(rec);
  }

  // Directory metadata last, deepest first, so that read-only directories could be filled.
  const dirs = [...ourDirs.values()].sort((a, b) => b.depth - a.depth);
  for (const d of dirs) {
    try {
      if (owners) fs.lchownSync(d.abs, d.uid, d.gid);
      fs.chmodSync(d.abs, d.mode & 0o7777);
      if (mtimes) fs.utimesSync(d.abs, d.mtime, d.mtime);
    } catch (err) {
      throw ioError(err, 'cannot set the metadata of', d.abs);
    }
  }
  return out;
}

/**
 * Extracts the data archive of the .deb at `debPath` into `rootDir` with the protections of
 * `extractTar`. The control archive is read (and checked) first, as dpkg does.
 */
export async function extractDebData(debPath: string, rootDir: string, opts: ExtractOptions = {}): Promise<ExtractedEntry[]> {
  let stream: fs.ReadStream;
  try {
    fs.accessSync(debPath, fs.constants.R_OK);
    stream = fs.createReadStream(debPath, { highWaterMark: 1024 * 1024 });
  } catch (e) {
    throw ioError(e, 'cannot read', debPath);
  }
  try {
    const deb = await openDeb(stream, { label: debPath, ...(opts.limits ? { limits: opts.limits } : {}) });
    const entries = deb.dataEntries();
    return await extractTar(entries, rootDir, { ...opts, label: `${debPath}: data.tar` });
  } finally {
    stream.destroy();
  }
}
