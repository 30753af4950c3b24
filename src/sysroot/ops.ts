/**
 * The list operations besides deploy: rollback, undeploy, pin, kernel arguments, cleanup,
 * and config-diff. Each loads the list under the sysroot lock, plans the new list (plan.ts)
 * and writes it through the same swap as deploy.
 */
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';
import { KeyFile } from '../codecs/ostree/keyfile.js';
import { atomicWrite } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { KernelArgs } from './bls.js';
import {
  defaultStateroot,
  deploymentDir,
  deploymentName,
  isPinned,
  userKargs,
  loadSysroot,
  mergeDeployment,
  openSysrootRepo,
  originPath,
  withSysrootLock,
  type Deployment,
} from './layout.js';
import { planRollback, planUndeploy } from './plan.js';
import { writeDeployments, type WriteResult } from './swap.js';
import { cleanupSysroot, tidyAfterFailure, type CleanupResult } from './cleanup.js';
import { diffEtc, type EtcChange } from './etc-merge.js';

/** Runs `fn` on a fresh read of the list under the sysroot lock; a failure leaves nothing behind. */
async function locked<T>(root: string, fn: (s: ReturnType<typeof loadSysroot>, repo: ReturnType<typeof openSysrootRepo>) => Promise<T>): Promise<T> {
  const s0 = loadSysroot(root);
  const repo = openSysrootRepo(s0.root);
  return withSysrootLock(s0.root, async () => {
    const s = loadSysroot(root);
    try {
      return await fn(s, repo);
    } catch (e) {
      await tidyAfterFailure(s.root, repo);
      throw e;
    }
  });
}

export interface RollbackResult {
  /** The deployment that is now the default. */
  deployment: string;
  from: number;
  write: WriteResult;
}

export async function rollback(root: string): Promise<RollbackResult> {
  return locked(root, async (s, repo) => {
    const { list, target } = planRollback(s.deployments, s.booted);
    failpoint('rollback-before-write');
    const write = writeDeployments(s, repo, list);
    failpoint('rollback-after-write');
    await cleanupSysroot(s, repo, { prune: false });
    return { deployment: deploymentName(list[0]!), from: target, write };
  });
}

export async function undeploy(root: string, index: number): Promise<{ removed: string; write: WriteResult; cleanup: CleanupResult }> {
  return locked(root, async (s, repo) => {
    const d = s.deployments[index];
    const list = planUndeploy(s.deployments, index, s.booted);
    const write = writeDeployments(s, repo, list);
    failpoint('undeploy-after-write');
    const cleanup = await cleanupSysroot(s, repo);
    return { removed: deploymentName(d!), write, cleanup };
  });
}

export async function cleanup(root: string): Promise<CleanupResult> {
  return locked(root, async (s, repo) => cleanupSysroot(s, repo));
}

function checkIndex(ds: readonly Deployment[], index: number): Deployment {
  const d = ds[index];
  if (!Number.isInteger(index) || !d) {
    throw new IngotError('DEPLOYMENT_NOT_FOUND', `there is no deployment ${index} (the list has ${ds.length})`, {
      hint: "list them with 'ingot admin status'",
      data: { index },
    });
  }
  return d;
}

/** Pins or unpins: `[libostree-transient] pinned=true` in the origin, as ostree admin pin. */
export async function pin(root: string, index: number, unpin: boolean): Promise<{ deployment: string; pinned: boolean; changed: boolean }> {
  return locked(root, async (s) => {
    const d = checkIndex(s.deployments, index);
    const was = isPinned(d);
    if (was !== !unpin) {
      const kf = d.origin ? KeyFile.parse(d.origin.toString()) : new KeyFile();
      if (unpin) {
        kf.deleteKey('libostree-transient', 'pinned');
        if (kf.group('libostree-transient')?.entries.length === 0) kf.deleteGroup('libostree-transient');
      } else kf.set('libostree-transient', 'pinned', 'true');
      atomicWrite(originPath(s.root, d), kf.toString());
    }
    return { deployment: deploymentName(d), pinned: !unpin, changed: was === unpin };
  });
}

export interface KargsEdit {
  append?: string[];
  delete?: string[];
  replace?: string[];
  /** Deployment index (default 0). */
  index?: number;
}

/** Shows or changes a deployment's kernel arguments; a change writes new boot entries. */
export async function kargs(root: string, edit: KargsEdit): Promise<{ deployment: string; kargs: string; changed: boolean; write: WriteResult | null }> {
  const change = !!(edit.append?.length || edit.delete?.length || edit.replace?.length);
  return locked(root, async (s, repo) => {
    const index = edit.index ?? 0;
    const d = checkIndex(s.deployments, index);
    if (!change) return { deployment: deploymentName(d), kargs: userKargs(d), changed: false, write: null };
    const k = KernelArgs.parse(d.kargs);
    for (const a of edit.replace ?? []) {
      if (a.startsWith('ostree=')) throw reserved();
      k.replace(a);
    }
    for (const a of edit.append ?? []) {
      if (a.startsWith('ostree=')) throw reserved();
      k.append(a);
    }
    for (const a of edit.delete ?? []) {
      if (a === 'ostree' || a.startsWith('ostree=')) throw reserved();
      if (!k.delete(a)) {
        throw new IngotError('INVALID_ARGUMENT', `kernel argument '${a}' is not set on deployment ${index}`, {
          hint: "show the current arguments with 'ingot admin kargs'",
          data: { karg: a },
        });
      }
    }
    const next = k.toString();
    if (next === d.kargs) return { deployment: deploymentName(d), kargs: userKargs(d), changed: false, write: null };
    const list = s.deployments.map((x) => (x === d ? { ...x, kargs: next } : x));
    const write = writeDeployments(s, repo, list);
    await cleanupSysroot(s, repo, { prune: false });
    return { deployment: deploymentName(d), kargs: userKargs({ kargs: next }), changed: true, write };
  });
}

function reserved(): IngotError {
  return new IngotError('INVALID_ARGUMENT', 'the ostree= kernel argument is generated and cannot be set', {
    hint: 'it names the deployment; ingot writes it with every boot entry',
  });
}

/** The local changes of the merge deployment's /etc against its usr/etc. */
export function configDiff(root: string, stateroot?: string): { deployment: string; changes: EtcChange[] } {
  const s = loadSysroot(root);
  const os = defaultStateroot(s, stateroot);
  const d = mergeDeployment(s, os);
  if (!d) {
    throw new IngotError('DEPLOYMENT_NOT_FOUND', `stateroot '${os}' has no deployment`, {
      hint: "deploy a commit first with 'ingot admin deploy'",
      data: { stateroot: os },
    });
  }
  const dir = deploymentDir(s.root, d);
  const order = { modified: 0, removed: 1, added: 2 } as const;
  // Listed as ostree admin config-diff lists them: modified, removed, added.
  const changes = diffEtc(path.join(dir, 'usr', 'etc'), path.join(dir, 'etc')).sort((a, b) => order[a.kind] - order[b.kind]);
  return { deployment: deploymentName(d), changes };
}
