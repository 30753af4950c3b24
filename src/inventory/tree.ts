/**
 * Read access to a target's root file system, whatever holds it: a directory, a commit in a
 * repository, or the files collected from image layers. Paths are relative to the root;
 * symlinks are followed inside the root only (an absolute target restarts at the root, `..`
 * stops at it), as a chroot would see them, so a tree whose /var/lib/rpm links into
 * /usr/lib/sysimage reads the same whichever holds it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S_IFLNK, S_IFMT, type Commit } from '../codecs/ostree/objects.js';
import { readContentDataSync, readContentInfo } from '../repo/content.js';
import type { Repo } from '../repo/repo.js';

export interface TreeReader {
  /** The file's bytes, or null when there is no regular file at that path. */
  readFile(rel: string): Promise<Buffer | null>;
  /** The names in a directory, or null when there is no directory at that path. */
  readDir(rel: string): Promise<string[] | null>;
  /** What the root is, for messages. */
  readonly label: string;
}

const MAX_LINKS = 40;

type Node<T> = { kind: 'dir'; dir: T } | { kind: 'file'; file: T } | { kind: 'link'; target: string };

/**
 * Resolves `rel` component by component below a root whose nodes `step` looks up; returns the
 * final node (links followed) or null.
 */
function resolve<T>(root: T, rel: string, step: (dir: T, name: string) => Node<T> | null): Node<T> | null {
  let pending = rel.split('/').filter((s) => s !== '' && s !== '.');
  let stack: T[] = [root];
  let links = 0;
  let cur: Node<T> = { kind: 'dir', dir: root };
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (cur.kind !== 'dir') return null;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      cur = { kind: 'dir', dir: stack[stack.length - 1]! };
      continue;
    }
    const n = step(cur.dir, name);
    if (!n) return null;
    if (n.kind === 'link') {
      if (++links > MAX_LINKS) return null;
      const parts = n.target.split('/').filter((s) => s !== '' && s !== '.');
      if (n.target.startsWith('/')) stack = [root];
      pending = [...parts, ...pending];
      cur = { kind: 'dir', dir: stack[stack.length - 1]! };
      continue;
    }
    if (n.kind === 'dir') stack.push(n.dir);
    cur = n;
  }
  return cur;
}

/** A directory on this machine as the root. */
export function directoryReader(root: string): TreeReader {
  const step = (dir: string, name: string): Node<string> | null => {
    const p = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) return { kind: 'link', target: fs.readlinkSync(p, 'utf8') };
    if (st.isDirectory()) return { kind: 'dir', dir: p };
    if (st.isFile()) return { kind: 'file', file: p };
    return null;
  };
  return {
    label: root,
    async readFile(rel) {
      const n = resolve(root, rel, step);
      return n?.kind === 'file' ? fs.readFileSync(n.file) : null;
    },
    async readDir(rel) {
      const n = resolve(root, rel, step);
      return n?.kind === 'dir' ? fs.readdirSync(n.dir).sort() : null;
    },
  };
}

/** A commit's tree as the root, read from the repository's objects (no checkout). */
export function commitReader(repo: Repo, checksum: string, commit: Commit = repo.loadCommit(checksum)): TreeReader {
  type D = { tree: string };
  const step = (dir: D, name: string): Node<D | string> | null => {
    const t = repo.loadDirTree(dir.tree);
    const d = t.dirs.find((x) => x.name === name);
    if (d) return { kind: 'dir', dir: { tree: d.tree } };
    const f = t.files.find((x) => x.name === name);
    if (!f) return null;
    const info = readContentInfo(repo, f.checksum);
    if ((info.mode & S_IFMT) === S_IFLNK) return { kind: 'link', target: info.symlinkTarget };
    return { kind: 'file', file: f.checksum };
  };
  const root: D = { tree: commit.rootTree };
  const res = (rel: string) => resolve<D | string>(root, rel, step as (dir: D | string, name: string) => Node<D | string> | null);
  return {
    label: `commit ${checksum}`,
    async readFile(rel) {
      const n = res(rel);
      if (n?.kind !== 'file') return null;
      const sum = n.file as string;
      return readContentDataSync(repo, readContentInfo(repo, sum), sum);
    },
    async readDir(rel) {
      const n = res(rel);
      if (n?.kind !== 'dir') return null;
      const t = repo.loadDirTree((n.dir as D).tree);
      return [...t.dirs.map((x) => x.name), ...t.files.map((x) => x.name)].sort();
    },
  };
}

/** Files and symlinks collected from somewhere else (image layers), keyed by root-relative path. */
export interface CollectedEntry {
  type: 'file' | 'symlink' | 'dir';
  data?: Buffer;
  target?: string;
}

export function collectedReader(entries: ReadonlyMap<string, CollectedEntry>, label: string): TreeReader {
  // Directories are implied by the paths below them.
  const dirs = new Map<string, Set<string>>();
  const addDir = (p: string): Set<string> => {
    let s = dirs.get(p);
    if (!s) dirs.set(p, (s = new Set()));
    return s;
  };
  addDir('');
  for (const [p, e] of entries) {
    if (e.type === 'dir') addDir(p);
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const parent = parts.slice(0, i - 1).join('/');
      addDir(parent).add(parts[i - 1]!);
    }
  }
  const step = (dir: string, name: string): Node<string> | null => {
    const p = dir ? `${dir}/${name}` : name;
    const e = entries.get(p);
    if (e?.type === 'symlink') return { kind: 'link', target: e.target ?? '' };
    if (e?.type === 'file') return { kind: 'file', file: p };
    if (dirs.has(p)) return { kind: 'dir', dir: p };
    return null;
  };
  return {
    label,
    async readFile(rel) {
      const n = resolve('', rel, step);
      return n?.kind === 'file' ? entries.get(n.file)?.data ?? null : null;
    },
    async readDir(rel) {
      const n = resolve('', rel, step);
      return n?.kind === 'dir' ? [...(dirs.get(n.dir) ?? [])].sort() : null;
    },
  };
}
