/** The deployment list as `ingot admin status` reports it. */
import { commitVersion } from './swap.js';
import { deploymentName, deploymentRel, isPinned, originRefspec, userKargs, type SysrootState } from './layout.js';
import type { Repo } from '../repo/repo.js';

export interface DeploymentStatus {
  index: number;
  stateroot: string;
  checksum: string;
  serial: number;
  name: string;
  path: string;
  version: string | null;
  refspec: string | null;
  pinned: boolean;
  booted: boolean;
  /** Before the booted one in boot order (takes effect at the next boot). */
  pending: boolean;
  /** Right after the booted one (the previous state). */
  rollback: boolean;
  bootcsum: string;
  kargs: string;
}

export interface SysrootStatus {
  sysroot: string;
  bootversion: number;
  subbootversion: number;
  deployments: DeploymentStatus[];
}

export function sysrootStatus(s: SysrootState, repo: Repo): SysrootStatus {
  return {
    sysroot: s.root,
    bootversion: s.bootversion,
    subbootversion: s.subbootversion,
    deployments: s.deployments.map((d, i) => ({
      index: i,
      stateroot: d.stateroot,
      checksum: d.checksum,
      serial: d.serial,
      name: deploymentName(d),
      path: deploymentRel(d),
      version: commitVersion(repo, d.checksum),
      refspec: originRefspec(d),
      pinned: isPinned(d),
      booted: i === s.booted,
      pending: s.booted >= 0 && i < s.booted,
      rollback: s.booted >= 0 && i === s.booted + 1,
      bootcsum: d.bootcsum,
      kargs: userKargs(d),
    })),
  };
}
