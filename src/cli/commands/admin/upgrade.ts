/**
 * `ingot admin upgrade`: pull the merge deployment's origin ref from its remote (transport),
 * then deploy the new commit (sysroot) when it changed. Orchestrated here because the sysroot
 * layer does not depend on transport. `--check` pulls the commit object alone and prints the
 * package diff from its metadata, without downloading the tree.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { parseRefSpec } from '../../../codecs/ostree/refs.js';
import { deploy, originFor, type DeployResult } from '../../../sysroot/deploy.js';
import { defaultStateroot, loadSysroot, mergeDeployment, openSysrootRepo, originPath, originRefspec } from '../../../sysroot/layout.js';
import { cleanup as cleanupSysroot } from '../../../sysroot/ops.js';
import { action } from '../../util.js';
import { dbDiffData, dbDiffText } from '../db/diff.js';
import { addSysrootOption } from './common.js';
import { etcPolicy } from './deploy.js';

interface Opts {
  sysroot: string;
  os?: string;
  check?: boolean;
  pullOnly?: boolean;
  deployOnly?: boolean;
  retain?: boolean;
  etcConflict?: string;
}

export interface UpgradeResult {
  stateroot: string;
  refspec: string;
  from: string;
  to: string;
  changed: boolean;
  pulled: boolean;
  diff: ReturnType<typeof dbDiffData> | null;
  deployed: DeployResult | null;
}

export async function upgrade(opts: Opts): Promise<UpgradeResult> {
  if (opts.pullOnly && opts.deployOnly) throw new IngotError('USAGE', '--pull-only and --deploy-only exclude each other');
  const policy = etcPolicy(opts.etcConflict);
  const s = loadSysroot(opts.sysroot);
  const repo = openSysrootRepo(s.root);
  const stateroot = defaultStateroot(s, opts.os);
  const merge = mergeDeployment(s, stateroot);
  if (!merge) {
    throw new IngotError('DEPLOYMENT_NOT_FOUND', `stateroot '${stateroot}' has no deployment to upgrade`, {
      hint: "deploy a commit first with 'ingot admin deploy'",
      data: { stateroot },
    });
  }
  const where = originPath(s.root, merge);
  const refspec = originRefspec(merge);
  if (!refspec) {
    throw new IngotError('ORIGIN_INVALID', `${where} has no [origin] refspec`, {
      hint: "deploy a ref (not a bare commit) to have something to upgrade, e.g. 'ingot admin deploy REMOTE:REF'",
      data: { path: where },
    });
  }
  const { remote, ref } = parseRefSpec(refspec);
  if (remote !== null && repo.config.get(`remote "${remote}"`, 'url') === undefined) {
    throw new IngotError('ORIGIN_INVALID', `${where} names remote '${remote}', which ${path.join(repo.path, 'config')} does not define`, {
      hint: `add it with 'ingot remote add --repo ${repo.path} ${remote} URL' or deploy from another origin`,
      data: { path: where, remote },
    });
  }
  let pulled = false;
  if (remote !== null && !opts.deployOnly) {
    // Loaded here: the other admin verbs need no network code.
    const { pull } = await import('../../../transport/pull.js');
    await pull(repo, remote, [ref], { commitMetadataOnly: !!opts.check });
    pulled = true;
  }
  const to = remote !== null ? repo.readRef(ref, remote) : /^[0-9a-f]{64}$/.test(ref) ? ref : repo.readRef(ref);
  if (to === null) {
    throw new IngotError('REF_NOT_FOUND', `the origin ref '${refspec}' is not in ${repo.path}`, {
      hint: remote !== null ? 'run the upgrade without --deploy-only to pull it' : 'commit or pull that ref into the sysroot repository',
      data: { ref: refspec },
    });
  }
  const res: UpgradeResult = { stateroot, refspec, from: merge.checksum, to, changed: to !== merge.checksum, pulled, diff: null, deployed: null };
  if (res.changed) {
    try {
      res.diff = dbDiffData(repo, merge.checksum, to);
    } catch (e) {
      if (!(e instanceof IngotError)) throw e;
    }
  }
  if (opts.check || opts.pullOnly) return res;
  if (!res.changed) {
    // Nothing new, but an earlier upgrade may have been interrupted after its swap: finish its cleanup.
    await cleanupSysroot(s.root);
    return res;
  }
  res.deployed = await deploy(s.root, to, { stateroot, origin: originFor(refspec, merge.origin), retain: !!opts.retain, etcConflict: policy });
  return res;
}

export function register(admin: Command): void {
  addSysrootOption(admin.command('upgrade'))
    .description("pull the origin's ref and deploy it when it changed")
    .option('--os <stateroot>', 'stateroot (default: the booted or only one)')
    .option('--check', 'pull only the commit object and print the package changes; deploy nothing')
    .option('--pull-only', 'pull, but do not deploy')
    .option('--deploy-only', 'deploy what was pulled before; no network')
    .option('--retain', 'keep all existing deployments')
    .option('--etc-conflict <policy>', 'resolve /etc file-against-directory conflicts: keep-local or take-new')
    .action(
      action(async (opts: Opts) => ({
        data: await upgrade(opts),
        text: (d: UpgradeResult) => {
          if (!d.changed) return `No upgrade available: ${d.refspec} is ${d.to}`;
          let out = d.diff ? dbDiffText(d.diff) + '\n' : `${d.from} → ${d.to}\n`;
          if (d.deployed) {
            const e = d.deployed.etc;
            if (e) out += `Copying /etc changes: ${e.modified} modified, ${e.removed} removed, ${e.added} added\n`;
            out += `Deployed ${d.stateroot} ${d.deployed.deployment.checksum}.${d.deployed.deployment.serial}; bootversion ${d.deployed.write.bootversion}.${d.deployed.write.subbootversion}\n`;
          } else out += `Upgrade available (${d.to}); not deployed\n`;
          return out;
        },
      })),
    );
}
