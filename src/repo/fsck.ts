/**
 * fsck: verify every object that a commit in the repository reaches. Metadata objects must hash
 * to their name, parse, and be in GVariant normal form; content objects are re-hashed from their
 * stored form (decompressed for archive, by worker threads; bare modes by native hashing on the
 * thread pool, see verify-file.ts). Refs must name present commits.
 * With `delete`, corrupt objects are removed and the commits that reach them are marked partial
 * (state/COMMIT.commitpartial) so that a later pull fetches them again.
 */
import * as fs from 'node:fs';
import type { Checksum, ObjectType } from '../core/checksum.js';
import { IngotError } from '../core/errors.js';
import { isNormalForm } from '../codecs/gvariant/parse.js';
import {
  COMMIT_TYPE,
  DIRMETA_TYPE,
  DIRTREE_TYPE,
  decodeCommit,
  decodeDirMeta,
  decodeDirTree,
  encodeDirTree,
  sha256,
  type DirTree,
} from '../codecs/ostree/objects.js';
import { atomicWrite } from '../platform/fs.js';
import type { Repo } from './repo.js';
import { BareVerifier, type VerifyResult } from './verify-file.js';
import { reachableObjects } from './traverse.js';

export interface FsckProblem {
  checksum: string;
  type: ObjectType | 'ref';
  code: string;
  message: string;
  /** For refs: the ref name. */
  ref?: string;
}

export interface FsckResult {
  commits: number;
  partialCommits: number;
  objects: number;
  problems: FsckProblem[];
  deleted: string[];
  markedPartial: string[];
}

export interface FsckOptions {
  delete?: boolean;
  threads?: number;
}

export async function fsck(repo: Repo, opts: FsckOptions = {}): Promise<FsckResult> {
  return repo.withLock(opts.delete ? 'exclusive' : 'shared', () => fsckLocked(repo, opts));
}

async function fsckLocked(repo: Repo, opts: FsckOptions): Promise<FsckResult> {
  const res: FsckResult = { commits: 0, partialCommits: 0, objects: 0, problems: [], deleted: [], markedPartial: [] };
  const problem = (checksum: string, type: FsckProblem['type'], code: string, message: string): void => {
    res.problems.push({ checksum, type, code, message });
  };

  // Refs must point at present commits.
  const refs = repo.listRefs();
  for (const [name, c] of refs) {
    if (!repo.hasObject(c, 'commit')) {
      res.problems.push({ checksum: c, type: 'ref', code: 'OBJECT_MISSING', message: `ref '${name}' points at missing commit ${c}`, ref: name });
    }
  }

  const commits = [...repo.listObjects(new Set(['commit']))].map((o) => o.checksum);
  const checkedMeta = new Map<string, boolean>(); // key -> ok
  const contentSet = new Set<string>();

  /**
   * Reads and checks a metadata object once (hash, structure, normal form); returns its bytes and,
   * for a dirtree, its decoded form (so that the walk does not parse it again), or null if bad.
   */
  const readMeta = (checksum: string, type: 'dirtree' | 'dirmeta' | 'commit'): { data: Buffer; tree?: DirTree } | null => {
    const key = `${checksum}.${type}`;
    if (checkedMeta.get(key) === false) return null;
    let data: Buffer;
    try {
      data = repo.readMetadata(checksum, type);
    } catch (e) {
      if (e instanceof IngotError) {
        if (!checkedMeta.has(key)) problem(checksum, type, e.code, e.message);
        checkedMeta.set(key, false);
        return null;
      }
      throw e;
    }
    let tree: DirTree | undefined;
    if (!checkedMeta.has(key)) {
      res.objects++;
      const actual = sha256(data);
      if (actual !== checksum) {
        problem(checksum, type, 'OBJECT_CORRUPT', `${type} ${checksum} hashes to ${actual}`);
        checkedMeta.set(key, false);
        return null;
      }
      const t = type === 'commit' ? COMMIT_TYPE : type === 'dirtree' ? DIRTREE_TYPE : DIRMETA_TYPE;
      try {
        let normal: boolean;
        if (type === 'dirtree') {
          tree = decodeDirTree(data, `dirtree ${checksum}`);
          // Fast path: a sorted tree in normal form re-encodes to the same bytes; otherwise let
          // the generic check decide (an unsorted tree is not an error here, as in ostree).
          normal = encodeDirTree(tree).equals(data) || isNormalForm(t, data);
        } else {
          if (type === 'commit') decodeCommit(data, `commit ${checksum}`);
          else decodeDirMeta(data, `dirmeta ${checksum}`);
          normal = isNormalForm(t, data);
        }
        if (!normal) throw new IngotError('GVARIANT_INVALID', `${type} ${checksum} is not in GVariant normal form`);
      } catch (e) {
        if (!(e instanceof IngotError)) throw e;
        problem(checksum, type, e.code, e.message);
        checkedMeta.set(key, false);
        return null;
      }
      checkedMeta.set(key, true);
    }
    return { data, tree };
  };

  const walkTree = (tree: Checksum, meta: Checksum, seen: Set<string>): void => {
    // Many directories share a dirmeta: check (and read) each one once.
    if (!checkedMeta.has(`${meta}.dirmeta`)) readMeta(meta, 'dirmeta');
    if (seen.has(tree)) return;
    seen.add(tree);
    const r = readMeta(tree, 'dirtree');
    if (!r) return;
    const t: DirTree = r.tree ?? decodeDirTree(r.data);
    for (const f of t.files) contentSet.add(f.checksum);
    for (const d of t.dirs) walkTree(d.tree, d.meta, seen);
  };

  const treeSeen = new Set<string>();
  for (const c of commits) {
    res.commits++;
    const r = readMeta(c, 'commit');
    if (!r) continue;
    if (repo.isCommitPartial(c)) {
      // Its tree is known to be incomplete (an interrupted pull): not an error.
      res.partialCommits++;
      continue;
    }
    const commit = decodeCommit(r.data);
    walkTree(commit.rootTree, commit.rootMeta, treeSeen);
  }

  // Content objects, verified in parallel: bare modes by the main thread with native hashing on
  // the thread pool, archive by worker threads (inflating).
  const badContent: VerifyResult[] = [];
  const settle = (checksum: string, r: VerifyResult | null, e?: unknown): void => {
    res.objects++;
    if (r && r.ok) return;
    badContent.push(r ?? { checksum, ok: false, code: 'INTERNAL', message: String((e as Error)?.message ?? e), size: 0, storedSize: 0 });
  };
  if (repo.mode !== 'archive') {
    const v = new BareVerifier(repo, (r) => settle(r.checksum, r));
    for (const checksum of contentSet) await v.add(checksum);
    await v.finish();
  } else {
    const { WorkerPool, defaultThreads } = await import('./worker-pool.js');
    const pool = new WorkerPool({ verify: { repoPath: repo.path } }, opts.threads ?? defaultThreads(), 64);
    try {
      // A bounded window of jobs in flight keeps memory flat for any number of objects.
      for (const checksum of contentSet) {
        pool.submit<VerifyResult>({ op: 'verify', checksum }).then(
          (r) => settle(checksum, r),
          (e) => settle(checksum, null, e),
        );
        if (pool.backlog > 2048) await pool.waitBelow(512);
      }
      await pool.idle();
    } finally {
      await pool.close();
    }
  }
  for (const r of badContent) {
    const msg = r.message ?? 'corrupt';
    problem(r.checksum, 'file', r.code ?? 'OBJECT_CORRUPT', msg.includes(r.checksum) ? msg : `file ${r.checksum}: ${msg}`);
  }

  if (opts.delete) {
    for (const p of res.problems) {
      if (p.type === 'ref' || p.code === 'OBJECT_MISSING') continue;
      const path = repo.objectPath(p.checksum, p.type);
      try {
        fs.unlinkSync(path);
        res.deleted.push(`${p.checksum}.${p.type}`);
      } catch {
        /* already gone */
      }
    }
    // Commits whose tree is now incomplete become partial, so a pull can complete them.
    const bad = new Set(res.problems.filter((p) => p.type !== 'ref').map((p) => `${p.checksum}.${p.type}`));
    for (const c of commits) {
      if (!repo.hasObject(c, 'commit') || repo.isCommitPartial(c)) continue;
      let incomplete = false;
      const reach = reachableObjects(repo, [c], { depth: 0, onMissing: () => (incomplete = true) });
      if (!incomplete) for (const k of reach.keys()) if (bad.has(k)) incomplete = true;
      if (!incomplete) continue;
      atomicWrite(repo.commitPartialPath(c), '');
      res.markedPartial.push(c);
    }
  }
  return res;
}
