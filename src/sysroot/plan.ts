/**
 * Pure planners over deployment lists: where a new deployment goes and what is kept
 * (ostree's simple_write_deployment), rollback, undeploy, deploy serials, boot serials and
 * whether the boot entries must change. Tested with tables; no I/O.
 */
import { IngotError } from '../core/errors.js';
import { isPinned, sameDeployment, userKargs, type Deployment } from './layout.js';

export interface PlanDeployOptions {
  stateroot: string;
  booted: Deployment | null;
  merge: Deployment | null;
  /** Keep every existing deployment. */
  retain?: boolean;
  /** Put the new deployment after the booted (or merge) one instead of first. */
  notAsDefault?: boolean;
}

/**
 * The list after deploying `next`: first (or after the booted/merge deployment with
 * `notAsDefault`); kept are the booted and merge deployments, pinned ones, other stateroots'
 * and, with `retain`, all.
 */
export function planDeploy(current: readonly Deployment[], next: Deployment, o: PlanDeployOptions): Deployment[] {
  const out: Deployment[] = [];
  let added = false;
  if (!o.notAsDefault) {
    out.push(next);
    added = true;
  }
  let beforeBooted = true;
  let beforeMerge = true;
  for (const d of current) {
    const isBooted = sameDeployment(d, o.booted);
    const isMerge = sameDeployment(d, o.merge);
    if (isBooted) beforeBooted = false;
    if (isMerge) beforeMerge = false;
    const crossed = o.booted ? !beforeBooted : !beforeMerge;
    if (o.retain || isPinned(d) || d.stateroot !== o.stateroot || isBooted || isMerge) out.push(d);
    if (!added && crossed) {
      out.push(next);
      added = true;
    }
  }
  if (!added) out.push(next);
  return out;
}

/** The next free serial for `checksum` in `stateroot`: one above the highest listed. */
export function allocateSerial(current: readonly Deployment[], stateroot: string, checksum: string): number {
  let n = 0;
  for (const d of current) if (d.stateroot === stateroot && d.checksum === checksum) n = Math.max(n, d.serial + 1);
  return n;
}

/**
 * Rollback: the deployment that becomes the default. With a booted deployment that is not the
 * default (an update is pending), the booted one; otherwise the one after the default.
 */
export function planRollback(current: readonly Deployment[], booted: number): { list: Deployment[]; target: number } {
  if (current.length < 2) {
    throw new IngotError('NO_ROLLBACK_TARGET', `there is ${current.length === 0 ? 'no deployment' : 'only one deployment'}, nothing to roll back to`, {
      hint: 'deploy another commit first (or keep one with --retain / pin)',
    });
  }
  const target = booted > 0 ? booted : 1;
  const list = [current[target]!, ...current.filter((_, i) => i !== target)];
  return { list, target };
}

export function planUndeploy(current: readonly Deployment[], index: number, booted: number): Deployment[] {
  if (!Number.isInteger(index) || index < 0 || index >= current.length) {
    throw new IngotError('DEPLOYMENT_NOT_FOUND', `there is no deployment ${index} (the list has ${current.length})`, {
      hint: "list them with 'ingot admin status'",
      data: { index },
    });
  }
  if (index === booted) {
    throw new IngotError('DEPLOYMENT_BOOTED', `deployment ${index} is the booted one and cannot be removed`, {
      hint: 'boot another deployment first',
      data: { index },
    });
  }
  return current.filter((_, i) => i !== index);
}

/** Boot serials: the position of each deployment among those sharing its bootcsum. */
export function bootSerials(list: readonly Deployment[]): number[] {
  const seen = new Map<string, number>();
  return list.map((d) => {
    const n = seen.get(d.bootcsum) ?? 0;
    seen.set(d.bootcsum, n + 1);
    return n;
  });
}

/**
 * Whether the new list needs new boot entries (a bootversion swap) or only a new set of
 * ostree/boot.N links (a subbootversion swap): the entries stay valid only when the list has
 * the same length and each position has the same kernel, kernel arguments, version and
 * stateroot.
 */
export function needsBootswap(old: readonly Deployment[], next: readonly Deployment[], versionOf: (d: Deployment) => string | null): boolean {
  if (old.length !== next.length) return true;
  for (let i = 0; i < old.length; i++) {
    const a = old[i]!;
    const b = next[i]!;
    if (a.bootcsum !== b.bootcsum || userKargs(a) !== userKargs(b) || a.stateroot !== b.stateroot || versionOf(a) !== versionOf(b)) return true;
  }
  return false;
}

/** Whether the stateroot names differ across the list (then entry titles name the stateroot). */
export function showStateroot(list: readonly Deployment[]): boolean {
  return list.some((d) => d.stateroot !== list[0]!.stateroot);
}
