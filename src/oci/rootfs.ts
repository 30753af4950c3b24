/**
 * The container view of a composed commit, with the package that owns each path.
 *
 * What a container expects differs from what a deployment expects (DESIGN.md, compose
 * normalize): `/usr/etc` is shown at `/etc`; `/var` (empty in the commit) is populated from the
 * tree's tmpfiles.d lines for /var (`d`/`D` directories, `L` links, `C` copies of factory
 * files), as systemd-tmpfiles would do on first boot, so that `/var/lib/dpkg` (a link to the
 * database in /usr/lib/sysimage) and the packages' /var content are where the tools look.
 *
 * Ownership comes from the tree's own package database: dpkg's `info/PKG.list` files, or the
 * file lists of the rpmdb's headers. A path a package lists (as shipped: `/bin/x`, `/etc/y`,
 * `/var/z`) is found where compose put it (merged /usr, /usr/etc, the /var factory), and the
 * package's own database files (`info/PKG.*`) belong to it too. Everything else (generated
 * configuration, the shared `status` file, ld.so.cache, alternatives) is owned by nobody.
 * Owners are source packages (components): binary packages built together change together.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';
import { decodeFilezHeader, S_IFDIR, S_IFLNK, S_IFMT, type Xattr } from '../codecs/ostree/objects.js';
import { readContentInfo, readContentDataSync } from '../repo/content.js';
import type { Repo } from '../repo/repo.js';
import type { Checksum } from '../core/checksum.js';
import { rmQuiet } from '../platform/fs.js';

export interface RootEntry {
  /** Path in the image, relative, without a trailing slash; '' is never listed. */
  path: string;
  kind: 'dir' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Content object (files and symlinks taken from the commit). */
  checksum: string | null;
  target: string;
  xattrs: Xattr[];
  /** Owning component (source package), or null. */
  owner: string | null;
  /** Owning binary package, or null. */
  pkg: string | null;
  /** Path of the same content in the commit, when it comes from the commit. */
  commitPath: string | null;
}

export interface CommitDirs {
  /** Every dirtree and dirmeta object the commit reaches. */
  dirtrees: Set<string>;
  dirmetas: Set<string>;
}

export interface Rootfs {
  entries: RootEntry[];
  /** Component → size in bytes (file data). */
  components: Map<string, number>;
  /** Binary package name → component. */
  packageComponent: Map<string, string>;
  dirs: CommitDirs;
  /** Where the package database is (a directory for dpkg, the rpmdb file for rpm); '' when none. */
  pkgdb: string;
}

interface CommitNode {
  kind: 'dir' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  checksum: string | null;
  target: string;
  xattrs: Xattr[];
}

/**
 * A content object's header. For archive objects only the header's bytes are read (a small
 * first read, then the rest of the header when it is longer), which is what makes walking a
 * commit of thousands of files cheap; other modes go through readContentInfo.
 */
function contentHeader(repo: Repo, checksum: string): { mode: number; uid: number; gid: number; size: bigint; symlinkTarget: string; xattrs: Xattr[] } {
  if (repo.mode !== 'archive') return readContentInfo(repo, checksum);
  const p = repo.objectPath(checksum, 'file');
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch {
    return readContentInfo(repo, checksum);
  }
  try {
    let buf = Buffer.alloc(512);
    let n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n >= 4) {
      const need = 8 + buf.readUInt32BE(0);
      if (need > n && need <= 10 * 1024 * 1024) {
        buf = Buffer.alloc(need);
        n = fs.readSync(fd, buf, 0, need, 0);
      }
    }
    return decodeFilezHeader(buf.subarray(0, n), `file object ${checksum}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Walks the commit into path → node (paths relative, '' is the root). */
function walkCommit(repo: Repo, rootTree: Checksum, rootMeta: Checksum, dirs: CommitDirs): Map<string, CommitNode> {
  const out = new Map<string, CommitNode>();
  const infoCache = new Map<string, CommitNode>();
  const visit = (rel: string, tree: string, meta: string): void => {
    dirs.dirtrees.add(tree);
    dirs.dirmetas.add(meta);
    const m = repo.loadDirMeta(meta);
    out.set(rel, { kind: 'dir', mode: m.mode & 0o7777, uid: m.uid, gid: m.gid, size: 0, checksum: null, target: '', xattrs: m.xattrs });
    const t = repo.loadDirTree(tree);
    for (const f of t.files) {
      let n = infoCache.get(f.checksum);
      if (!n) {
        const info = contentHeader(repo, f.checksum);
        const isLink = (info.mode & S_IFMT) === S_IFLNK;
        n = { kind: isLink ? 'symlink' : 'file', mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, size: Number(info.size), checksum: f.checksum, target: info.symlinkTarget, xattrs: info.xattrs };
        infoCache.set(f.checksum, n);
      }
      out.set(rel ? `${rel}/${f.name}` : f.name, n);
    }
    for (const d of t.dirs) visit(rel ? `${rel}/${d.name}` : d.name, d.tree, d.meta);
  };
  visit('', rootTree, rootMeta);
  return out;
}

const MERGED = new Set(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']);

/** Where compose put a path a package lists (as shipped), relative to the commit root. */
export function commitPathOf(listed: string): string {
  const p = listed.replace(/^\/+/, '').replace(/\/+$/, '');
  const first = p.split('/')[0]!;
  if (MERGED.has(first)) return `usr/${p}`;
  if (first === 'etc') return `usr/${p}`;
  if (first === 'var') return `usr/share/factory/${p}`;
  return p;
}

/** Where a commit path appears in the container. */
export function imagePathOf(commitPath: string): string {
  if (commitPath === 'usr/etc') return 'etc';
  if (commitPath.startsWith('usr/etc/')) return commitPath.slice(4);
  return commitPath;
}

function readFileOfCommit(repo: Repo, nodes: Map<string, CommitNode>, p: string): Buffer | null {
  const n = nodes.get(p);
  if (!n || n.kind !== 'file' || !n.checksum) return null;
  return readContentDataSync(repo, readContentInfo(repo, n.checksum), n.checksum);
}

function childrenOf(nodes: Map<string, CommitNode>, dir: string): string[] {
  const pre = dir + '/';
  const out: string[] = [];
  for (const k of nodes.keys()) if (k.startsWith(pre) && !k.slice(pre.length).includes('/')) out.push(k);
  return out;
}

/** Owners from the dpkg database in the commit: path → binary package names. */
function dpkgOwners(repo: Repo, nodes: Map<string, CommitNode>, admindir: string): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  const info = `${admindir}/info`;
  for (const f of childrenOf(nodes, info).sort()) {
    const base = f.slice(info.length + 1);
    const dot = base.lastIndexOf('.');
    if (dot <= 0) continue;
    const pkg = base.slice(0, dot).split(':')[0]!;
    // The package's own database files belong to it.
    add(owners, f, pkg);
    if (base.slice(dot) !== '.list') continue;
    const data = readFileOfCommit(repo, nodes, f);
    if (!data) continue;
    for (const line of data.toString('utf8').split('\n')) {
      if (!line || line === '/.') continue;
      const cp = commitPathOf(line);
      const n = nodes.get(cp);
      if (n && n.kind !== 'dir') add(owners, cp, pkg);
    }
  }
  return owners;
}

function add(m: Map<string, string[]>, k: string, v: string): void {
  const l = m.get(k);
  if (!l) m.set(k, [v]);
  else if (!l.includes(v)) l.push(v);
}

/** Owners from an rpmdb.sqlite in the commit (file lists of the installed headers). */
async function rpmOwners(repo: Repo, nodes: Map<string, CommitNode>, dbPath: string): Promise<Map<string, string[]>> {
  const owners = new Map<string, string[]>();
  const data = readFileOfCommit(repo, nodes, dbPath);
  if (!data) return owners;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ingot-rpmdb-'));
  try {
    fs.writeFileSync(path.join(tmp, 'rpmdb.sqlite'), data);
    const { default: Database } = await import('better-sqlite3');
    const { parseHeaderBlob } = await import('./rpm-files.js');
    const db = new Database(path.join(tmp, 'rpmdb.sqlite'), { readonly: true, fileMustExist: true });
    try {
      for (const row of db.prepare('SELECT blob FROM Packages').iterate() as Iterable<{ blob: Buffer }>) {
        const h = parseHeaderBlob(row.blob);
        if (!h) continue;
        for (const p of h.files) {
          const cp = commitPathOf(p);
          const n = nodes.get(cp);
          if (n && n.kind !== 'dir') add(owners, cp, h.name);
        }
      }
    } finally {
      db.close();
    }
  } finally {
    rmQuiet(tmp);
  }
  return owners;
}

interface TmpfilesLine {
  type: string;
  path: string;
  mode: number | null;
  uid: number;
  gid: number;
  arg: string;
}

function unescapeTf(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\\\/g, '\\');
}

function idOf(s: string | undefined): number {
  if (s === undefined || s === '-' || s === 'root') return 0;
  return /^\d+$/.test(s) ? Number(s) : 0;
}

/** The /var lines of the tree's tmpfiles.d files (sorted by file name; the first line for a path wins). */
function tmpfilesVarLines(repo: Repo, nodes: Map<string, CommitNode>): TmpfilesLine[] {
  const out: TmpfilesLine[] = [];
  for (const dir of ['usr/lib/tmpfiles.d']) {
    const files = childrenOf(nodes, dir)
      .filter((f) => f.endsWith('.conf'))
      .sort((a, b) => Buffer.compare(Buffer.from(path.posix.basename(a)), Buffer.from(path.posix.basename(b))));
    for (const f of files) {
      const data = readFileOfCommit(repo, nodes, f);
      if (!data) continue;
      for (const raw of data.toString('utf8').split('\n')) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) continue;
        const parts = line.split(/\s+/);
        const [type, p, mode, uid, gid, , ...rest] = parts;
        if (!type || !p || p.includes('%')) continue;
        const t = type.replace(/[!+\-=~^]/g, '');
        if (!['d', 'D', 'L', 'C'].includes(t)) continue;
        const tp = unescapeTf(p);
        if (!tp.startsWith('/var/') || tp.includes('/../')) continue;
        out.push({ type: t, path: tp.slice(1).replace(/\/+$/, ''), mode: mode && /^[0-7]{3,4}$/.test(mode) ? parseInt(mode, 8) : null, uid: idOf(uid), gid: idOf(gid), arg: unescapeTf(rest.join(' ')) });
      }
    }
  }
  return out;
}

/** The family's database in the commit: where it is and which family. */
export function pkgdbOf(nodes: Map<string, { kind: string }>): { family: 'deb' | 'rpm' | null; path: string } {
  if (nodes.get('usr/lib/sysimage/dpkg/status')) return { family: 'deb', path: 'usr/lib/sysimage/dpkg' };
  if (nodes.get('usr/lib/sysimage/rpm/rpmdb.sqlite')) return { family: 'rpm', path: 'usr/lib/sysimage/rpm/rpmdb.sqlite' };
  if (nodes.get('var/lib/dpkg/status')) return { family: 'deb', path: 'var/lib/dpkg' };
  return { family: null, path: '' };
}

/**
 * The container root of a commit: every entry with its owner. `sourceOf` maps binary package
 * names to source package names (from the commit's inventory).
 */
export async function commitRootfs(repo: Repo, commit: Checksum, sourceOf: Map<string, string>): Promise<Rootfs> {
  const c = repo.loadCommit(commit);
  const dirs: CommitDirs = { dirtrees: new Set(), dirmetas: new Set() };
  const nodes = walkCommit(repo, c.rootTree, c.rootMeta, dirs);
  const db = pkgdbOf(nodes);
  const owners = db.family === 'deb' ? dpkgOwners(repo, nodes, db.path) : db.family === 'rpm' ? await rpmOwners(repo, nodes, db.path) : new Map<string, string[]>();
  const comp = (pkg: string): string => sourceOf.get(pkg) ?? pkg;
  const pkgOf = (cp: string): string | null => {
    const l = owners.get(cp);
    if (!l || l.length === 0) return null;
    // Several owners (a shared file): the byte-wise first, so the choice is stable.
    return [...l].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))[0]!;
  };
  const ownerOf = (cp: string): string | null => {
    const p = pkgOf(cp);
    return p === null ? null : comp(p);
  };

  const entries = new Map<string, RootEntry>();
  for (const [cp, n] of nodes) {
    if (cp === '') continue;
    const ip = imagePathOf(cp);
    entries.set(ip, { path: ip, kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, size: n.size, checksum: n.checksum, target: n.target, xattrs: n.xattrs, owner: n.kind === 'dir' ? null : ownerOf(cp), pkg: n.kind === 'dir' ? null : pkgOf(cp), commitPath: cp });
  }

  // /var from tmpfiles.d.
  const ensureParents = (p: string): void => {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!entries.has(d)) entries.set(d, { path: d, kind: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, checksum: null, target: '', xattrs: [], owner: null, pkg: null, commitPath: null });
    }
  };
  const copyFrom = (src: string, dest: string, mode: number | null, uid: number, gid: number): void => {
    const n = nodes.get(src);
    if (!n || entries.has(dest)) return;
    ensureParents(dest);
    if (n.kind === 'dir') {
      entries.set(dest, { path: dest, kind: 'dir', mode: mode ?? n.mode, uid, gid, size: 0, checksum: null, target: '', xattrs: [], owner: null, pkg: null, commitPath: null });
      for (const ch of childrenOf(nodes, src).sort()) copyFrom(ch, `${dest}/${path.posix.basename(ch)}`, null, nodes.get(ch)!.uid, nodes.get(ch)!.gid);
      return;
    }
    // A copy keeps the source's content object, so its ownership follows the source's.
    entries.set(dest, { path: dest, kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, size: n.size, checksum: n.checksum, target: n.target, xattrs: n.xattrs, owner: ownerOf(src), pkg: pkgOf(src), commitPath: src });
  };
  for (const l of tmpfilesVarLines(repo, nodes)) {
    if (entries.has(l.path) && !(l.type === 'd' || l.type === 'D')) continue;
    if (entries.has(l.path)) continue;
    ensureParents(l.path);
    if (l.type === 'd' || l.type === 'D') {
      entries.set(l.path, { path: l.path, kind: 'dir', mode: l.mode ?? 0o755, uid: l.uid, gid: l.gid, size: 0, checksum: null, target: '', xattrs: [], owner: null, pkg: null, commitPath: null });
    } else if (l.type === 'L') {
      if (!l.arg) continue;
      entries.set(l.path, { path: l.path, kind: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, checksum: null, target: l.arg, xattrs: [], owner: null, pkg: null, commitPath: null });
    } else if (l.type === 'C') {
      const src = (l.arg || `/usr/share/factory/${l.path}`).replace(/^\/+/, '');
      copyFrom(src, l.path, l.mode, l.uid, l.gid);
    }
  }

  const components = new Map<string, number>();
  for (const e of entries.values()) if (e.owner !== null) components.set(e.owner, (components.get(e.owner) ?? 0) + e.size);
  const packageComponent = new Map<string, string>();
  for (const [pkg, src] of sourceOf) packageComponent.set(pkg, src);
  const sorted = [...entries.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  for (const e of sorted) {
    if (e.kind === 'dir' && (e.mode & S_IFMT) !== 0 && (e.mode & S_IFMT) !== S_IFDIR) {
      throw new IngotError('INTERNAL', `directory ${e.path} has a non-directory mode`);
    }
  }
  return { entries: sorted, components, packageComponent, dirs, pkgdb: db.path };
}
