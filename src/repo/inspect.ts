/**
 * Read-only views of a repository: ls, cat, log, show, diff, rev-parse, refs.
 */
import type { Readable } from 'node:stream';
import { IngotError } from '../core/errors.js';
import { toChecksum, type Checksum } from '../core/checksum.js';
import { contentChecksum, S_IFLNK, S_IFMT, type Commit } from '../codecs/ostree/objects.js';
import { printValue } from '../codecs/gvariant/text.js';
import { assertRefName } from '../codecs/ostree/refs.js';
import type { Repo } from './repo.js';
import { readContentInfo, openContentData } from './content.js';
import { resolvePath, splitPath } from './traverse.js';

export interface LsEntry {
  path: string;
  type: 'dir' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  checksum: string;
  /** dirmeta checksum for directories. */
  meta?: string;
  target?: string;
  xattrs?: { name: string; value: string }[];
}

export interface LsOptions {
  recursive?: boolean;
  /** Include xattrs (hex values). */
  xattrs?: boolean;
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Lists a path of a commit like `ostree ls`: the entry itself, then (for a directory) its children. */
export function ls(repo: Repo, rev: string, p = '/', opts: LsOptions = {}): LsEntry[] {
  const commit = repo.loadCommit(repo.resolveRev(rev));
  const norm = '/' + splitPath(p).join('/');
  const target = resolvePath(repo, commit, norm);
  const out: LsEntry[] = [];
  const fileEntry = (path: string, checksum: string): LsEntry => {
    const info = readContentInfo(repo, checksum);
    const link = (info.mode & S_IFMT) === S_IFLNK;
    const e: LsEntry = {
      path,
      type: link ? 'symlink' : 'file',
      mode: info.mode,
      uid: info.uid,
      gid: info.gid,
      size: Number(info.size),
      checksum,
    };
    if (link) e.target = info.symlinkTarget;
    if (opts.xattrs) e.xattrs = info.xattrs.map((x) => ({ name: x.name, value: Buffer.from(x.value).toString('hex') }));
    return e;
  };
  const dirEntry = (path: string, tree: string, meta: string): LsEntry => {
    const m = repo.loadDirMeta(meta);
    const e: LsEntry = { path, type: 'dir', mode: m.mode, uid: m.uid, gid: m.gid, size: 0, checksum: tree, meta };
    if (opts.xattrs) e.xattrs = m.xattrs.map((x) => ({ name: x.name, value: Buffer.from(x.value).toString('hex') }));
    return e;
  };
  if (target.kind === 'file') {
    out.push(fileEntry(norm, target.checksum));
    return out;
  }
  out.push(dirEntry(norm, target.tree, target.meta));
  const walk = (dir: string, tree: string, depthFirst: boolean): void => {
    const t = repo.loadDirTree(tree);
    // ostree ls enumerates a directory as ostree's GFile does: its files (in dirtree order),
    // then its subdirectories, each followed at once by its own listing when recursive.
    for (const f of t.files) out.push(fileEntry(joinPath(dir, f.name), f.checksum));
    for (const d of t.dirs) {
      const path = joinPath(dir, d.name);
      out.push(dirEntry(path, d.tree, d.meta));
      if (depthFirst) walk(path, d.tree, true);
    }
  };
  walk(norm, target.tree, !!opts.recursive);
  return out;
}

/** The data of a regular file in a commit. */
export function cat(repo: Repo, rev: string, p: string): Readable {
  const commit = repo.loadCommit(repo.resolveRev(rev));
  const target = resolvePath(repo, commit, p);
  if (target.kind !== 'file') {
    throw new IngotError('PATH_INVALID', `'${p}' is a directory`, { hint: "use 'ingot repo ls' for directories", data: { path: p } });
  }
  const info = readContentInfo(repo, target.checksum);
  if ((info.mode & S_IFMT) === S_IFLNK) {
    throw new IngotError('PATH_INVALID', `'${p}' is a symlink to '${info.symlinkTarget}'`, { data: { path: p } });
  }
  return openContentData(repo, info, target.checksum);
}

export interface CommitView {
  checksum: Checksum;
  parent: Checksum | null;
  subject: string;
  body: string;
  timestamp: number;
  date: string;
  contentChecksum: Checksum;
  rootTree: Checksum;
  rootMeta: Checksum;
  version: string | null;
  /** Metadata in GVariant text form, by key, in stored order. */
  metadata: [string, string][];
  /** Detached metadata keys (signatures) when present. */
  detachedMetadata: string[];
  partial: boolean;
}

export function commitView(repo: Repo, checksum: Checksum, c: Commit = repo.loadCommit(checksum)): CommitView {
  const version = c.metadata.find(([k]) => k === 'version')?.[1];
  const detached = repo.loadCommitMeta(checksum);
  return {
    checksum,
    parent: c.parent,
    subject: c.subject,
    body: c.body,
    timestamp: Number(c.timestamp),
    date: new Date(Number(c.timestamp) * 1000).toISOString().replace('.000Z', 'Z'),
    contentChecksum: contentChecksum(c),
    rootTree: c.rootTree,
    rootMeta: c.rootMeta,
    version: version && version.type === 's' ? (version.value as string) : null,
    metadata: c.metadata.map(([k, v]) => [k, k === 'ostree.sizes' ? `<${(v.value as unknown[]).length} entries>` : printValue(v.type, v.value)]),
    detachedMetadata: detached ? detached.map(([k]) => k) : [],
    partial: repo.isCommitPartial(checksum),
  };
}

export function show(repo: Repo, rev: string): CommitView {
  return commitView(repo, repo.resolveRev(rev));
}

/** The history of a rev, newest first, until a root commit or a parent that is not present. */
export function log(repo: Repo, rev: string, limit = Infinity): { commits: CommitView[]; truncatedAt: Checksum | null } {
  const commits: CommitView[] = [];
  let c: Checksum | null = repo.resolveRev(rev);
  let truncatedAt: Checksum | null = null;
  while (c && commits.length < limit) {
    if (!repo.hasObject(c, 'commit')) {
      truncatedAt = c;
      break;
    }
    const view = commitView(repo, c);
    commits.push(view);
    c = view.parent;
  }
  return { commits, truncatedAt };
}

export interface DiffResult {
  from: Checksum;
  to: Checksum;
  added: string[];
  removed: string[];
  modified: string[];
}

/**
 * Paths added, removed and modified between two commits, as `ostree diff` reports them (same
 * entries, same order): each directory's files, then its subdirectories, are compared by
 * checksum (a directory by its dirmeta; the root itself is never reported); a changed type is
 * "modified"; a removed directory is listed alone, an added one with everything under it.
 * Equal subtrees are skipped by checksum.
 */
export function diff(repo: Repo, revA: string, revB: string): DiffResult {
  const a = repo.resolveRev(revA);
  const b = repo.resolveRev(revB);
  const ca = repo.loadCommit(a);
  const cb = repo.loadCommit(b);
  const res: DiffResult = { from: a, to: b, added: [], removed: [], modified: [] };
  const addAll = (dir: string, tree: string): void => {
    const t = repo.loadDirTree(tree);
    for (const f of t.files) res.added.push(joinPath(dir, f.name));
    for (const d of t.dirs) {
      const p = joinPath(dir, d.name);
      res.added.push(p);
      addAll(p, d.tree);
    }
  };
  const cmp = (dir: string, ta: string, tb: string): void => {
    if (ta === tb) return;
    const A = repo.loadDirTree(ta);
    const B = repo.loadDirTree(tb);
    const fa = new Map(A.files.map((f) => [f.name, f.checksum]));
    const fb = new Map(B.files.map((f) => [f.name, f.checksum]));
    const da = new Map(A.dirs.map((d) => [d.name, d]));
    const db = new Map(B.dirs.map((d) => [d.name, d]));
    for (const f of A.files) {
      const p = joinPath(dir, f.name);
      if (fb.has(f.name)) {
        if (fb.get(f.name) !== f.checksum) res.modified.push(p);
      } else if (db.has(f.name)) res.modified.push(p);
      else res.removed.push(p);
    }
    for (const d of A.dirs) {
      const p = joinPath(dir, d.name);
      const e = db.get(d.name);
      if (e) {
        if (e.meta !== d.meta) res.modified.push(p);
        cmp(p, d.tree, e.tree);
      } else if (fb.has(d.name)) res.modified.push(p);
      else res.removed.push(p);
    }
    for (const f of B.files) if (!fa.has(f.name) && !da.has(f.name)) res.added.push(joinPath(dir, f.name));
    for (const d of B.dirs) {
      if (fa.has(d.name) || da.has(d.name)) continue;
      const p = joinPath(dir, d.name);
      res.added.push(p);
      addAll(p, d.tree);
    }
  };
  cmp('/', ca.rootTree, cb.rootTree);
  return res;
}

/** Creates or moves refs (`NAME=COMMIT`) and deletes refs. */
export function updateRefs(repo: Repo, create: [string, string][], del: string[]): { created: [string, Checksum][]; deleted: string[] } {
  const created: [string, Checksum][] = [];
  for (const [name, rev] of create) {
    assertRefName(name);
    const c = repo.resolveRev(rev);
    if (!repo.hasObject(c, 'commit')) {
      throw new IngotError('REF_NOT_FOUND', `commit ${c} is not in the repository`, { data: { rev } });
    }
    repo.writeRef(name, c);
    created.push([name, c]);
  }
  const deleted: string[] = [];
  for (const spec of del) {
    const i = spec.indexOf(':');
    const remote = i >= 0 ? spec.slice(0, i) : null;
    const name = i >= 0 ? spec.slice(i + 1) : spec;
    assertRefName(name);
    if (repo.readRef(name, remote) === null) {
      throw new IngotError('REF_NOT_FOUND', `no ref named '${spec}'`, { data: { ref: spec } });
    }
    repo.writeRef(name, null, remote);
    deleted.push(spec);
  }
  return { created, deleted };
}

export function revParse(repo: Repo, rev: string): Checksum {
  return toChecksum(repo.resolveRev(rev));
}
