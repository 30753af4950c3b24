/**
 * Cleanup after (or instead of) a list change, in ostree's order: the other bootversion's
 * entries and link farms, deployment directories that no entry names (a crashed deploy's
 * checkout included), kernels no deployment uses, the deployment-keeping refs, then the
 * repository objects that neither a ref nor a deployment reaches. Everything it removes is
 * unreachable from boot/loader, so a crash at any point leaves the sysroot bootable and the
 * rerun finishes the job.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, ioError } from '../core/errors.js';
import type { ObjectType } from '../core/checksum.js';
import type { Repo } from '../repo/repo.js';
import { Transaction } from '../repo/repo.js';
import { reachableObjects, objectKey } from '../repo/traverse.js';
import { rmQuiet } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { deploymentName, loadSysroot, removeTree, type SysrootState } from './layout.js';
import { writeDeploymentRefs } from './swap.js';

export interface CleanupResult {
  deploymentsRemoved: string[];
  bootDirsRemoved: string[];
  objectsDeleted: number;
  bytesFreed: number;
}

function ls(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
    throw ioError(e, 'cannot list', dir);
  }
}

export async function cleanupSysroot(s: SysrootState, repo: Repo, opts: { prune?: boolean } = {}): Promise<CleanupResult> {
  const root = s.root;
  const res: CleanupResult = { deploymentsRemoved: [], bootDirsRemoved: [], objectsDeleted: 0, bytesFreed: 0 };
  const B = s.bootversion;
  const other = 1 - B;
  // Other bootversions: the entries, and the link farms the current link does not name.
  rmQuiet(path.join(root, 'boot', `loader.${other}`));
  for (const n of ls(path.join(root, 'boot'))) if (/^loader\.tmp|^\.loader-/.test(n)) rmQuiet(path.join(root, 'boot', n));
  for (const n of ls(path.join(root, 'ostree'))) {
    const m = /^boot\.([01])(?:\.([01]))?$/.exec(n);
    if (!m) {
      if (/^\.boot\.[01]-/.test(n)) rmQuiet(path.join(root, 'ostree', n));
      continue;
    }
    const keep = Number(m[1]) === B && (m[2] === undefined || Number(m[2]) === s.subbootversion);
    if (!keep) rmQuiet(path.join(root, 'ostree', n));
  }
  failpoint('cleanup-bootversions');

  // Deployment directories and origins no entry names.
  const active = new Set(s.deployments.map((d) => `${d.stateroot}/${deploymentName(d)}`));
  for (const os of ls(path.join(root, 'ostree', 'deploy'))) {
    const dir = path.join(root, 'ostree', 'deploy', os, 'deploy');
    for (const n of ls(dir)) {
      const base = n.endsWith('.origin') ? n.slice(0, -'.origin'.length) : n;
      if (!/^[0-9a-f]{64}\.\d+$/.test(base) || active.has(`${os}/${base}`)) continue;
      if (n.endsWith('.origin')) continue;
      // The directory goes first: an origin without its directory is never read.
      removeTree(path.join(dir, n));
      failpoint('cleanup-deployment');
      rmQuiet(path.join(dir, n + '.origin'));
      res.deploymentsRemoved.push(`${os}/${n}`);
    }
    for (const n of ls(dir)) {
      if (n.endsWith('.origin') && !fs.existsSync(path.join(dir, n.slice(0, -7)))) rmQuiet(path.join(dir, n));
      // Temp files of an interrupted origin write (atomicWrite's `.NAME-PID-RANDOM`).
      else if (/^\.[0-9a-f]{64}\.\d+\.origin-\d+-[0-9a-f]+$/.test(n)) rmQuiet(path.join(dir, n));
    }
  }

  // Kernels no deployment uses.
  const bootcsums = new Set(s.deployments.map((d) => `${d.stateroot}-${d.bootcsum}`));
  const bootOstree = path.join(root, 'boot', 'ostree');
  for (const n of ls(bootOstree)) {
    if (bootcsums.has(n)) continue;
    rmQuiet(path.join(bootOstree, n));
    res.bootDirsRemoved.push(n);
  }
  failpoint('cleanup-bootfs');

  writeDeploymentRefs(repo, B, s.subbootversion, s.deployments);
  if (opts.prune !== false) {
    const p = await pruneSysrootRepo(repo, s.deployments.map((d) => d.checksum));
    res.objectsDeleted = p.objectsDeleted;
    res.bytesFreed = p.bytesFreed;
  }
  return res;
}

/**
 * Deletes the objects that no ref (local or remote, tip commits only) and no deployment
 * reaches, as ostree_sysroot_cleanup_prune_repo does; under the exclusive repository lock.
 */
export async function pruneSysrootRepo(repo: Repo, deployed: string[]): Promise<{ objectsDeleted: number; bytesFreed: number }> {
  return repo.withLock('exclusive', () => {
    const roots = new Set<string>([...repo.listRefs().values(), ...deployed]);
    const keep = reachableObjects(repo, [...roots].filter((c) => repo.hasObject(c, 'commit')) as never[], { depth: 0, onMissing: () => undefined });
    let objectsDeleted = 0;
    let bytesFreed = 0;
    const doomed: { type: ObjectType; path: string; checksum: string }[] = [];
    for (const o of repo.listObjects()) {
      if (keep.has(objectKey(o.checksum, o.type))) continue;
      if (o.type === 'commitmeta' && keep.has(objectKey(o.checksum, 'commit'))) continue;
      doomed.push(o);
    }
    // Commits first: a commit is never left without the objects it reaches.
    doomed.sort((a, b) => (a.type === 'commit' ? 0 : 1) - (b.type === 'commit' ? 0 : 1));
    for (const d of doomed) {
      try {
        bytesFreed += fs.lstatSync(d.path).size;
      } catch {
        /* raced */
      }
      rmQuiet(d.path);
      objectsDeleted++;
      if (objectsDeleted === 2) failpoint('cleanup-prune');
      if (d.type === 'commit') rmQuiet(repo.commitPartialPath(d.checksum));
    }
    Transaction.removeStale(repo);
    return { objectsDeleted, bytesFreed };
  });
}

/**
 * After a failed list write: removes what the attempt made that the current list does not name
 * (the other loader.N, link farms, the new deployment), without pruning. Best effort: the next
 * cleanup does the same.
 */
export async function tidyAfterFailure(root: string, repo: Repo): Promise<void> {
  try {
    await cleanupSysroot(loadSysroot(root), repo, { prune: false });
  } catch {
    /* left for the next cleanup */
  }
}
