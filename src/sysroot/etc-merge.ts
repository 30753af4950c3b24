/**
 * The /etc three-way merge: the local changes of the merge deployment (its `usr/etc`, the
 * defaults it shipped, against its `etc`) are applied onto the new deployment's `etc`, a copy
 * of the new `usr/etc`. Locally modified and added entries win, locally removed ones stay
 * removed, the rest follows the new defaults. Files compare by type, content, mode and
 * ownership; extended attributes are ignored (ostree's OSTREE_DIFF_FLAGS_IGNORE_XATTRS).
 * A local entry whose type cannot merge with the new default (a file where the new tree has a
 * directory, or the reverse) is a conflict, resolved only as the caller says.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { sys } from '../platform/sys.js';
import { failpoint } from '../platform/failpoint.js';

export type EtcChangeKind = 'modified' | 'removed' | 'added';

export interface EtcChange {
  kind: EtcChangeKind;
  /** Relative to /etc. */
  path: string;
}

export type EtcConflictPolicy = 'fail' | 'keep-local' | 'take-new';

export interface EtcConflict {
  path: string;
  local: 'file' | 'directory';
  upstream: 'file' | 'directory';
  resolution: 'keep-local' | 'take-new' | null;
}

export interface EtcMergeResult {
  modified: number;
  removed: number;
  added: number;
  conflicts: EtcConflict[];
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw ioError(e, 'cannot stat', p);
  }
}

function kindOf(st: fs.Stats): 'dir' | 'file' | 'symlink' | 'other' {
  return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
}

function sameContent(a: string, b: string, size: number): boolean {
  if (size === 0) return true;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.allocUnsafe(1 << 16);
    const bb = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const na = fs.readSync(fa, ba, 0, ba.length, null);
      const nb = fs.readSync(fb, bb, 0, bb.length, null);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (!ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

function entryDiffers(a: string, sa: fs.Stats, b: string, sb: fs.Stats): boolean {
  if (sa.uid !== sb.uid || sa.gid !== sb.gid) return true;
  if (sa.isSymbolicLink()) return fs.readlinkSync(a) !== fs.readlinkSync(b);
  if ((sa.mode & 0o7777) !== (sb.mode & 0o7777)) return true;
  if (sa.isFile()) return sa.size !== sb.size || !sameContent(a, b, sa.size);
  return false;
}

/** The local changes: `orig` (usr/etc) against `modified` (etc). */
export function diffEtc(orig: string, modified: string): EtcChange[] {
  const removed: EtcChange[] = [];
  const changed: EtcChange[] = [];
  const added: EtcChange[] = [];
  const walk = (rel: string): void => {
    const da = path.join(orig, rel);
    const db = path.join(modified, rel);
    const na = fs.readdirSync(da).sort();
    const nb = new Set(fs.readdirSync(db));
    for (const n of na) {
      const r = rel ? `${rel}/${n}` : n;
      const sa = fs.lstatSync(path.join(da, n));
      const sb = lstatOrNull(path.join(db, n));
      if (!sb) removed.push({ kind: 'removed', path: r });
      else if (kindOf(sa) !== kindOf(sb)) changed.push({ kind: 'modified', path: r });
      else if (sa.isDirectory()) walk(r);
      else if (entryDiffers(path.join(da, n), sa, path.join(db, n), sb)) changed.push({ kind: 'modified', path: r });
    }
    const inA = new Set(na);
    for (const n of [...nb].sort()) if (!inA.has(n)) added.push({ kind: 'added', path: rel ? `${rel}/${n}` : n });
  };
  if (!lstatOrNull(orig)?.isDirectory() || !lstatOrNull(modified)?.isDirectory()) return [];
  walk('');
  return [...removed, ...changed, ...added];
}

function copyXattrs(src: string, dest: string): void {
  for (const n of sys().llistxattr(src)) {
    const v = sys().lgetxattr(src, n);
    if (v === null) continue;
    try {
      sys().lsetxattr(dest, n, v);
    } catch (e) {
      if (errnoCode(e) !== 'EPERM' && errnoCode(e) !== 'ENOTSUP' && errnoCode(e) !== 'EOPNOTSUPP') throw e;
    }
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Copies a file, symlink or directory tree with mode, ownership, xattrs and times. */
export function copyEntry(src: string, dest: string): void {
  const st = fs.lstatSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dest, { mode: 0o700 });
    for (const n of fs.readdirSync(src)) copyEntry(path.join(src, n), path.join(dest, n));
    if (isRoot) fs.chownSync(dest, st.uid, st.gid);
    copyXattrs(src, dest);
    fs.chmodSync(dest, st.mode & 0o7777);
    fs.utimesSync(dest, st.atime, st.mtime);
  } else if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dest);
    if (isRoot) fs.lchownSync(dest, st.uid, st.gid);
    copyXattrs(src, dest);
  } else if (st.isFile()) {
    fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL);
    if (isRoot) fs.chownSync(dest, st.uid, st.gid);
    copyXattrs(src, dest);
    fs.chmodSync(dest, st.mode & 0o7777);
    fs.utimesSync(dest, st.atime, st.mtime);
  }
  // Sockets, FIFOs and devices have no place in /etc: left out, as ostree does.
}

/** Creates the missing parents of `rel` in `destRoot` with the attributes of `srcRoot`'s. */
function ensureParents(srcRoot: string, destRoot: string, rel: string): void {
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const r = parts.slice(0, i).join('/');
    const d = path.join(destRoot, r);
    if (lstatOrNull(d)) continue;
    const st = fs.lstatSync(path.join(srcRoot, r));
    fs.mkdirSync(d, { mode: 0o700 });
    if (isRoot) fs.chownSync(d, st.uid, st.gid);
    copyXattrs(path.join(srcRoot, r), d);
    fs.chmodSync(d, st.mode & 0o7777);
  }
}

/** Puts the local entry at `dest`: a directory over a directory is merged entry by entry. */
function placeLocal(src: string, dest: string): void {
  const ss = fs.lstatSync(src);
  const ds = lstatOrNull(dest);
  if (ss.isDirectory() && ds?.isDirectory()) {
    for (const n of fs.readdirSync(src)) placeLocal(path.join(src, n), path.join(dest, n));
    if (isRoot) fs.chownSync(dest, ss.uid, ss.gid);
    fs.chmodSync(dest, ss.mode & 0o7777);
    return;
  }
  if (ds) fs.rmSync(dest, { recursive: true, force: true });
  copyEntry(src, dest);
}

/**
 * Applies the changes of `mergeDir` (a deployment) to `newDir`'s etc. Conflicts are found
 * before anything is changed; with policy 'fail' they stop the merge (ETC_MERGE_CONFLICT).
 */
export function mergeEtc(mergeDir: string, newDir: string, policy: EtcConflictPolicy): EtcMergeResult {
  const origEtc = path.join(mergeDir, 'usr', 'etc');
  const localEtc = path.join(mergeDir, 'etc');
  const newEtc = path.join(newDir, 'etc');
  const changes = diffEtc(origEtc, localEtc);
  const res: EtcMergeResult = { modified: 0, removed: 0, added: 0, conflicts: [] };
  const conflictAt = new Map<string, EtcConflict>();
  for (const c of changes) {
    if (c.kind === 'removed') continue;
    const local = fs.lstatSync(path.join(localEtc, c.path));
    // The entry itself, or a parent that the new tree made a file.
    const parts = c.path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const r = parts.slice(0, i).join('/');
      const n = lstatOrNull(path.join(newEtc, r));
      if (!n) break;
      const isLast = i === parts.length;
      const localIsDir = isLast ? local.isDirectory() : true;
      if (n.isDirectory() === localIsDir) continue;
      conflictAt.set(c.path, {
        path: r,
        local: localIsDir ? 'directory' : 'file',
        upstream: n.isDirectory() ? 'directory' : 'file',
        resolution: policy === 'fail' ? null : policy,
      });
      break;
    }
  }
  const conflicts = [...new Map([...conflictAt.values()].map((c) => [c.path, c])).values()];
  if (conflicts.length && policy === 'fail') {
    throw new IngotError(
      'ETC_MERGE_CONFLICT',
      `/etc merge conflict: ${conflicts.map((c) => `/etc/${c.path} is a ${c.local} locally but a ${c.upstream} in the new tree`).join('; ')}`,
      {
        hint: 'choose with --etc-conflict=keep-local (the local entry replaces the new default) or --etc-conflict=take-new (the local change is dropped)',
        data: { conflicts },
      },
    );
  }
  res.conflicts = conflicts;
  try {
    for (const c of changes) {
      if (c.kind !== 'removed') continue;
      fs.rmSync(path.join(newEtc, c.path), { recursive: true, force: true });
      res.removed++;
    }
    failpoint('etc-merge-removed');
    for (const c of changes) {
      if (c.kind === 'removed') continue;
      const conflict = conflictAt.get(c.path);
      if (conflict?.resolution === 'take-new') continue;
      if (conflict) fs.rmSync(path.join(newEtc, conflict.path), { recursive: true, force: true });
      ensureParents(localEtc, newEtc, c.path);
      placeLocal(path.join(localEtc, c.path), path.join(newEtc, c.path));
      if (c.kind === 'modified') res.modified++;
      else res.added++;
    }
  } catch (e) {
    throw ioError(e, 'cannot merge /etc into', newEtc);
  }
  return res;
}
