/**
 * The compose state: the configured build root of a ref's last Debian compose (packages
 * unpacked, maintainer scripts run, the dpkg database at var/lib/dpkg; before add-files,
 * remove-files, postprocess and the OSTree normalisation), kept so that the next compose of
 * the same ref can start from it instead of from nothing when only a few packages changed.
 *
 * It lives in the package tree cache's repository (pkgcache.ts), so that it shares objects
 * with the cached package trees (a file still linked into the cache costs nothing to keep) and
 * checks out by hard links: a commit whose metadata `ingot.compose-state` (JSON) names the
 * target repository commit made from it, the package set it holds, the architecture and the
 * merged-/usr layout. Its ref is `compose-state/v1/REF/H` (H: a hash of the target
 * repository's path), written only after the target commit is on its ref, so a state never
 * names a commit that was not made; a state whose target is not the ref's current commit is
 * not used (the ref moved, the repository was recreated, another compose came in between).
 *
 * Objects of replaced states are not removed (the cache repository is never pruned); they are
 * small next to the package trees: the files the scripts changed and the dpkg database.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { Checksum } from '../core/checksum.js';
import { variant } from '../codecs/gvariant/value.js';
import { encodeCommit, type Commit } from '../codecs/ostree/objects.js';
import { fsyncDir, syncFs } from '../platform/fs.js';
import type { PlannedPackage } from './plan.js';
import type { PackageTreeCache } from './pkgcache.js';

const STATE_FORMAT = 1;
const META_KEY = 'ingot.compose-state';

export interface StatePackage {
  name: string;
  arch: string;
  evr: string;
  digest: string;
  essential: boolean;
}

export interface ComposeStateMeta {
  format: number;
  /** The commit in the target repository that was made from this state. */
  target: string;
  arch: string;
  layout: string[];
  /** True when the tree has /usr/bin/dpkg (the incremental path runs it). */
  dpkg: boolean;
  packages: StatePackage[];
  /**
   * Paths (root-relative) that add-files, remove-files and postprocess wrote or removed in
   * the compose of `target`: its commit differs from this state there. [''] stands for
   * everywhere.
   */
  manifestPaths: string[];
}

export interface ComposeState {
  commit: Checksum;
  meta: ComposeStateMeta;
}

/** What changes between a state's package set and a plan's, keyed by name and architecture. */
export interface StateDiff {
  added: PlannedPackage[];
  removed: StatePackage[];
  /** Same name and architecture, another package file (upgrade, downgrade or rebuild). */
  changed: { from: StatePackage; to: PlannedPackage }[];
}

/** The state's ref for `ref` composed into the repository at `repoPath`. */
export function composeStateRef(repoPath: string, ref: string): string {
  let real = path.resolve(repoPath);
  try {
    real = fs.realpathSync(repoPath);
  } catch {
    /* the path as given */
  }
  return `compose-state/v${STATE_FORMAT}/${ref}/${createHash('sha256').update(real).digest('hex').slice(0, 16)}`;
}

export function statePackages(plan: readonly PlannedPackage[]): StatePackage[] {
  return plan.map((p) => ({ name: p.name, arch: p.arch, evr: p.evr, digest: p.digest, essential: !!p.info.essential }));
}

/** The state on `stateRef`, or null when there is none or it cannot be read. */
export function loadComposeState(cache: PackageTreeCache, stateRef: string): ComposeState | null {
  const commit = cache.lookup(stateRef);
  if (!commit) return null;
  try {
    const v = cache.repo.loadCommit(commit).metadata.find(([k]) => k === META_KEY)?.[1];
    if (!v || typeof v.value !== 'string') return null;
    const meta = JSON.parse(v.value) as ComposeStateMeta;
    if (meta.format !== STATE_FORMAT || !Array.isArray(meta.packages) || typeof meta.target !== 'string') return null;
    return { commit, meta };
  } catch {
    return null;
  }
}

export function diffState(state: readonly StatePackage[], plan: readonly PlannedPackage[]): StateDiff {
  const key = (p: { name: string; arch: string }): string => `${p.name}:${p.arch}`;
  const old = new Map(state.map((p) => [key(p), p]));
  const out: StateDiff = { added: [], removed: [], changed: [] };
  const seen = new Set<string>();
  for (const p of plan) {
    const k = key(p);
    seen.add(k);
    const o = old.get(k);
    if (!o) out.added.push(p);
    else if (o.digest !== p.digest) out.changed.push({ from: o, to: p });
  }
  for (const p of state) if (!seen.has(key(p))) out.removed.push(p);
  return out;
}

/**
 * Writes the state commit (the tree `rootTree`/`rootMeta`, already in the cache repository)
 * and then its ref. `syncedWith`: a directory whose file system was synced (syncfs) after the
 * tree's objects were written; when the cache is on that file system, fsync of the commit
 * object makes everything the ref names durable, else the cache's file system is synced.
 */
export async function saveComposeState(
  cache: PackageTreeCache,
  stateRef: string,
  tree: { rootTree: Checksum; rootMeta: Checksum },
  meta: Omit<ComposeStateMeta, 'format'>,
  syncedWith?: string,
): Promise<Checksum> {
  const repo = cache.repo;
  let sameFs = false;
  try {
    sameFs = syncedWith !== undefined && fs.statSync(syncedWith).dev === fs.statSync(repo.path).dev;
  } catch {
    /* sync the cache */
  }
  return repo.withLock('shared', () => {
    const commit: Commit = {
      metadata: [[META_KEY, variant('s', JSON.stringify({ format: STATE_FORMAT, ...meta }))]],
      parent: null,
      related: [],
      subject: `compose state of ${meta.target}`,
      body: '',
      timestamp: 0n,
      rootTree: tree.rootTree,
      rootMeta: tree.rootMeta,
    };
    const c = repo.writeMetadata('commit', encodeCommit(commit));
    if (sameFs) {
      const obj = repo.objectPath(c, 'commit');
      const fd = fs.openSync(obj, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fsyncDir(path.dirname(obj));
      fsyncDir(path.dirname(path.dirname(obj)));
    } else {
      syncFs(repo.path);
    }
    repo.writeRef(stateRef, c);
    return c;
  });
}
