/**
 * Walking commits and trees: path lookup inside a commit, recursive listing, and the set of
 * objects a set of commits reaches (fsck, prune, sizes, pull).
 */
import { IngotError } from '../core/errors.js';
import type { Checksum, ObjectType } from '../core/checksum.js';
import type { Commit } from '../codecs/ostree/objects.js';
import type { Repo } from './repo.js';

export type PathTarget = { kind: 'dir'; tree: Checksum; meta: Checksum } | { kind: 'file'; checksum: Checksum };

export function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/** Finds `p` ('/usr/bin') inside a commit. */
export function resolvePath(repo: Repo, c: Commit, p: string): PathTarget {
  let cur: PathTarget = { kind: 'dir', tree: c.rootTree, meta: c.rootMeta };
  const parts = splitPath(p);
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i]!;
    if (name === '..') {
      throw new IngotError('PATH_INVALID', `path '${p}' must not contain '..'`, { data: { path: p } });
    }
    if (cur.kind !== 'dir') {
      throw new IngotError('PATH_NOT_FOUND', `'/${parts.slice(0, i).join('/')}' is not a directory`, { data: { path: p } });
    }
    const t = repo.loadDirTree(cur.tree);
    const d = t.dirs.find((x) => x.name === name);
    if (d) {
      cur = { kind: 'dir', tree: d.tree, meta: d.meta };
      continue;
    }
    const f = t.files.find((x) => x.name === name);
    if (f) {
      cur = { kind: 'file', checksum: f.checksum };
      continue;
    }
    throw new IngotError('PATH_NOT_FOUND', `no '/${parts.slice(0, i + 1).join('/')}' in the commit`, {
      hint: "list the commit with 'ingot repo ls -R REF'",
      data: { path: p },
    });
  }
  return cur;
}

export type ObjectKey = `${string}.${ObjectType}`;

export function objectKey(checksum: string, type: ObjectType): ObjectKey {
  return `${checksum}.${type}`;
}

export interface ReachableOptions {
  /** Parent commits to include: 0 = none, -1 = all (default -1). */
  depth?: number;
  /** Called for a missing metadata object instead of throwing; return to skip it. */
  onMissing?: (checksum: string, type: ObjectType, err: IngotError) => void;
  /** Skip commits whose tree is incomplete (state/*.commitpartial). */
  skipPartial?: boolean;
  /** Parent commits at which the history walk stops (they are not included). */
  stopAt?: ReadonlySet<string>;
}

/**
 * Every object reachable from `commits` (commit, commitmeta if present, dirtrees, dirmetas,
 * content). Metadata objects are read (not verified) to find their children.
 */
export function reachableObjects(repo: Repo, commits: Iterable<Checksum>, opts: ReachableOptions = {}): Map<ObjectKey, ObjectType> {
  const out = new Map<ObjectKey, ObjectType>();
  const depth = opts.depth ?? -1;
  const guard = <T>(checksum: string, type: ObjectType, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (opts.onMissing && e instanceof IngotError && (e.code === 'OBJECT_MISSING' || e.code === 'OBJECT_CORRUPT' || e.code === 'OBJECT_INVALID' || e.code === 'GVARIANT_INVALID')) {
        opts.onMissing(checksum, type, e);
        return undefined;
      }
      throw e;
    }
  };
  const walkTree = (tree: Checksum, meta: Checksum): void => {
    out.set(objectKey(meta, 'dirmeta'), 'dirmeta');
    const key = objectKey(tree, 'dirtree');
    if (out.has(key)) return;
    out.set(key, 'dirtree');
    const t = guard(tree, 'dirtree', () => repo.loadDirTree(tree));
    if (!t) return;
    for (const f of t.files) out.set(objectKey(f.checksum, 'file'), 'file');
    for (const d of t.dirs) walkTree(d.tree, d.meta);
  };
  for (const start of commits) {
    let c: Checksum | null = start;
    let level = 0;
    while (c) {
      const key = objectKey(c, 'commit');
      if (out.has(key)) break;
      out.set(key, 'commit');
      const cur: Checksum = c;
      const commit = guard(cur, 'commit', () => repo.loadCommit(cur));
      if (!commit) break;
      if (repo.hasObject(cur, 'commitmeta')) out.set(objectKey(cur, 'commitmeta'), 'commitmeta');
      if (!(opts.skipPartial && repo.isCommitPartial(cur))) walkTree(commit.rootTree, commit.rootMeta);
      if (depth >= 0 && level >= depth) break;
      level++;
      c = commit.parent;
      if (c && opts.stopAt?.has(c)) break;
      if (c && !repo.hasObject(c, 'commit')) break; // history may be shallow
    }
  }
  return out;
}
