/**
 * Deploying a commit: a hardlinked checkout from the sysroot's bare repository into
 * ostree/deploy/STATEROOT/deploy/CHECKSUM.SERIAL, a fresh /etc copied from usr/etc with the
 * merge deployment's local changes applied, the origin file, then the new list written
 * through the bootversion swap (swap.ts) and cleanup. Nothing names the new directory until
 * the swap, so a failure before it leaves the running deployment and its entries untouched
 * (the leftover directory is removed by the next cleanup).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';
import { KeyFile } from '../codecs/ostree/keyfile.js';
import { checkout } from '../repo/checkout.js';
import type { Repo } from '../repo/repo.js';
import { atomicWrite, rmQuiet } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { KernelArgs } from './bls.js';
import {
  assertStaterootExists,
  deploymentDir,
  deploymentRel,
  loadSysroot,
  mergeDeployment,
  openSysrootRepo,
  originPath,
  removeTree,
  setImmutable,
  withSysrootLock,
  type Deployment,
  type SysrootState,
} from './layout.js';
import { allocateSerial, planDeploy } from './plan.js';
import { bootChecksum, commitKernelVersion, findKernel, noKernel } from './kernel.js';
import { copyEntry, mergeEtc, type EtcConflictPolicy, type EtcMergeResult } from './etc-merge.js';
import { writeDeployments, type WriteResult } from './swap.js';
import { cleanupSysroot, tidyAfterFailure, type CleanupResult } from './cleanup.js';

export interface DeployOptions {
  stateroot: string;
  /** `--karg`: set (replace by key) on top of the merge deployment's arguments. */
  karg?: string[];
  /** `--karg-append`: append on top of the merge deployment's arguments. */
  kargAppend?: string[];
  retain?: boolean;
  notAsDefault?: boolean;
  etcConflict?: EtcConflictPolicy;
  /** The origin to record; default `[origin] refspec=REV`. */
  origin?: KeyFile;
  /** Skip pruning the repository after the swap. */
  noPrune?: boolean;
}

export interface DeployResult {
  deployment: { stateroot: string; checksum: string; serial: number; bootcsum: string; index: number; path: string };
  etc: EtcMergeResult | null;
  write: WriteResult;
  cleanup: CleanupResult;
}

/** Parses the origin file text of a deployment; the transient group is not inherited. */
export function originFor(refspec: string, base?: KeyFile | null): KeyFile {
  const kf = base ? KeyFile.parse(base.toString()) : new KeyFile();
  kf.deleteGroup('libostree-transient');
  if (!base) kf.set('origin', 'refspec', refspec);
  return kf;
}

/** Kernel arguments of the new deployment, by ostree admin deploy's rules. */
export function newKargs(merge: Deployment | null, karg: string[] = [], append: string[] = []): string {
  if (!karg.length && !append.length) return merge?.kargs ?? '';
  const k = KernelArgs.parse(merge?.kargs ?? '');
  for (const a of karg) k.replace(a);
  for (const a of append) k.append(a);
  return k.toString();
}

/** Makes the deployment's /etc: a copy of usr/etc (or the commit's /etc moved there first). */
function prepareEtc(dir: string): void {
  const usrEtc = path.join(dir, 'usr', 'etc');
  const etc = path.join(dir, 'etc');
  const hasUsrEtc = fs.existsSync(usrEtc);
  if (fs.existsSync(etc)) {
    if (hasUsrEtc) {
      throw new IngotError('DEPLOY_TREE_INVALID', `the commit has both /etc and /usr/etc (${dir})`, {
        hint: 'ship configuration defaults in /usr/etc only (ingot compose does)',
        data: { path: dir },
      });
    }
    fs.renameSync(etc, usrEtc);
  }
  if (fs.existsSync(usrEtc)) copyEntry(usrEtc, etc);
  for (const p of ['etc/.updated', 'var/.updated']) rmQuiet(path.join(dir, p));
}

/** Creates the checkout of a new deployment (not yet referenced by anything). */
export async function prepareDeployment(
  s: SysrootState,
  repo: Repo,
  commit: string,
  o: DeployOptions,
): Promise<{ d: Deployment; etc: EtcMergeResult | null }> {
  assertStaterootExists(s.root, o.stateroot);
  if (!repo.hasObject(commit, 'commit')) {
    throw new IngotError('OBJECT_MISSING', `commit ${commit} is not in the sysroot repository ${repo.path}`, {
      hint: 'pull or commit it into the sysroot repository first',
      data: { checksum: commit, type: 'commit' },
    });
  }
  if (repo.isCommitPartial(commit)) {
    throw new IngotError('OBJECT_MISSING', `commit ${commit} is only partially present in ${repo.path}`, {
      hint: 'pull it again to complete it',
      data: { checksum: commit, type: 'commit' },
    });
  }
  if (commitKernelVersion(repo, commit) === null) throw noKernel(commit);
  const merge = mergeDeployment(s, o.stateroot);
  const d: Deployment = {
    stateroot: o.stateroot,
    checksum: commit,
    serial: allocateSerial(s.deployments, o.stateroot, commit),
    bootcsum: '',
    kargs: newKargs(merge, o.karg, o.kargAppend),
    origin: o.origin ?? originFor(commit),
  };
  const dir = deploymentDir(s.root, d);
  // A directory of this name is a crashed earlier attempt: nothing names it.
  removeTree(dir);
  removeTree(dir + '.origin');
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o775 });
  failpoint('deploy-before-checkout');
  await checkout(repo, commit, dir, { requireHardlinks: false });
  failpoint('deploy-after-checkout');
  const k = findKernel(dir);
  if (!k) throw noKernel(commit);
  d.bootcsum = bootChecksum(k);
  prepareEtc(dir);
  failpoint('deploy-etc-copied');
  let etc: EtcMergeResult | null = null;
  if (merge) {
    const mdir = deploymentDir(s.root, merge);
    if (fs.existsSync(path.join(mdir, 'etc')) && fs.existsSync(path.join(mdir, 'usr', 'etc'))) etc = mergeEtc(mdir, dir, o.etcConflict ?? 'fail');
  }
  failpoint('deploy-etc-merged');
  // Stamp that the shared /var was set up (ostree relabels it once; there is no SELinux here).
  const stamp = path.join(s.root, 'ostree', 'deploy', o.stateroot, 'var', '.ostree-selabeled');
  if (!fs.existsSync(stamp)) fs.writeFileSync(stamp, '');
  atomicWrite(originPath(s.root, d), d.origin!.toString());
  failpoint('deploy-origin-written');
  setImmutable(dir, true);
  return { d, etc };
}

export async function deploy(root: string, rev: string, o: DeployOptions): Promise<DeployResult> {
  const s0 = loadSysroot(root);
  const repo = openSysrootRepo(s0.root);
  return withSysrootLock(s0.root, async () => {
    const s = loadSysroot(root);
    const commit = repo.resolveRev(rev);
    const origin = o.origin ?? originFor(rev);
    let prepared: { d: Deployment; etc: EtcMergeResult | null };
    try {
      prepared = await prepareDeployment(s, repo, commit, { ...o, origin });
    } catch (e) {
      // Nothing names the half-made deployment: remove it now rather than at the next cleanup.
      const serial = allocateSerial(s.deployments, o.stateroot, commit);
      const dir = deploymentDir(s.root, { stateroot: o.stateroot, checksum: commit, serial });
      if (!(e instanceof IngotError && (e.code === 'STATEROOT_NOT_FOUND' || e.code === 'INVALID_ARGUMENT'))) {
        try {
          removeTree(dir);
          rmQuiet(dir + '.origin');
        } catch {
          /* the next cleanup removes it */
        }
      }
      throw e;
    }
    const { d, etc } = prepared;
    const booted = s.booted >= 0 ? s.deployments[s.booted]! : null;
    const list = planDeploy(s.deployments, d, {
      stateroot: o.stateroot,
      booted,
      merge: mergeDeployment(s, o.stateroot),
      retain: !!o.retain,
      notAsDefault: !!o.notAsDefault,
    });
    let write: WriteResult;
    try {
      // (The swap flushes the file system once before it makes the list current.)
      failpoint('deploy-before-write');
      write = writeDeployments(s, repo, list);
    } catch (e) {
      await tidyAfterFailure(s.root, repo);
      throw e;
    }
    failpoint('deploy-after-write');
    const cleanup = await cleanupSysroot(s, repo, { prune: !o.noPrune });
    return {
      deployment: {
        stateroot: d.stateroot,
        checksum: d.checksum,
        serial: d.serial,
        bootcsum: d.bootcsum,
        index: list.indexOf(d),
        path: deploymentRel(d),
      },
      etc,
      write,
      cleanup,
    };
  });
}
