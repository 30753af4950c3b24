/**
 * prune: delete objects that nothing keeps. Roots are every commit in the repository, or with
 * `refsOnly` the commits that refs reach (following parents up to `depth`, -1 = all). With
 * `keepYoungerThan`, commits older than that date which no ref points at are deleted first.
 * Runs under the exclusive repository lock, so no commit or pull is writing meanwhile; the plan
 * (what to delete) is computed before anything is deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Checksum, ObjectType } from '../core/checksum.js';
import { rmQuiet } from '../platform/fs.js';
import { Transaction, type Repo } from './repo.js';
import { reachableObjects, objectKey } from './traverse.js';

export interface PruneOptions {
  refsOnly?: boolean;
  depth?: number;
  /** Seconds since the epoch. */
  keepYoungerThan?: number;
  dryRun?: boolean;
}

export interface PruneResult {
  objectsTotal: number;
  objectsDeleted: number;
  bytesFreed: number;
  commitsDeleted: Checksum[];
  dryRun: boolean;
}

export async function prune(repo: Repo, opts: PruneOptions = {}): Promise<PruneResult> {
  return repo.withLock('exclusive', () => {
    const res: PruneResult = { objectsTotal: 0, objectsDeleted: 0, bytesFreed: 0, commitsDeleted: [], dryRun: !!opts.dryRun };
    const refTips = new Set(repo.listRefs().values());
    let commits = [...repo.listObjects(new Set(['commit']))].map((o) => o.checksum);

    if (opts.keepYoungerThan !== undefined) {
      for (const c of commits) {
        if (refTips.has(c)) continue;
        let ts: number;
        try {
          ts = Number(repo.loadCommit(c).timestamp);
        } catch {
          continue;
        }
        if (ts < opts.keepYoungerThan) res.commitsDeleted.push(c);
      }
      const gone = new Set<string>(res.commitsDeleted);
      commits = commits.filter((c) => !gone.has(c));
    }

    // Commits older than the cut-off are not kept, even as history of a ref: the walk stops there.
    const cut = new Set<string>(res.commitsDeleted);
    const roots = opts.refsOnly ? [...refTips].filter((c) => repo.hasObject(c, 'commit')) : commits;
    const keep = reachableObjects(repo, roots, {
      depth: opts.refsOnly ? (opts.depth ?? -1) : 0,
      onMissing: () => undefined,
      stopAt: cut,
    });
    res.commitsDeleted = res.commitsDeleted.filter((c) => !keep.has(objectKey(c, 'commit')));
    // Partial commits keep what they already have.
    const doomed: { key: string; type: ObjectType; path: string }[] = [];
    for (const o of repo.listObjects()) {
      res.objectsTotal++;
      const key = objectKey(o.checksum, o.type);
      if (keep.has(key)) continue;
      if (o.type === 'commitmeta' && keep.has(objectKey(o.checksum, 'commit'))) continue;
      doomed.push({ key, type: o.type, path: o.path });
    }
    for (const d of doomed) {
      if (d.type === 'commit') {
        const c = path.basename(path.dirname(d.path)) + path.basename(d.path).slice(0, 62);
        if (!res.commitsDeleted.includes(c as Checksum)) res.commitsDeleted.push(c as Checksum);
      }
      try {
        res.bytesFreed += fs.lstatSync(d.path).size;
      } catch {
        /* raced */
      }
      res.objectsDeleted++;
      if (!opts.dryRun) rmQuiet(d.path);
    }
    if (!opts.dryRun) {
      for (const c of res.commitsDeleted) {
        rmQuiet(repo.objectPath(c, 'commitmeta'));
        rmQuiet(repo.commitPartialPath(c));
      }
      cleanTmp(repo);
    }
    return res;
  });
}

/** Removes ingot's leftover temp files (the exclusive lock guarantees no writer is running). */
function cleanTmp(repo: Repo): void {
  const dir = repo.tmpDir();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  // Temp files are `.BASE-PID-RANDOM` (BASE may itself contain dashes).
  for (const n of names) if (/^\..+-\d+-[0-9a-f]{12}$/.test(n)) rmQuiet(path.join(dir, n));
  Transaction.removeStale(repo);
}
