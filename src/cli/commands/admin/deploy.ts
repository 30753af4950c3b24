import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { deploy } from '../../../sysroot/deploy.js';
import { defaultStateroot, loadSysroot } from '../../../sysroot/layout.js';
import type { EtcConflictPolicy } from '../../../sysroot/etc-merge.js';
import { action, collect } from '../../util.js';
import { addSysrootOption } from './common.js';

interface Opts {
  sysroot: string;
  os?: string;
  karg: string[];
  kargAppend: string[];
  retain?: boolean;
  notAsDefault?: boolean;
  etcConflict?: string;
  prune: boolean;
}

export function etcPolicy(v: string | undefined): EtcConflictPolicy {
  if (v === undefined) return 'fail';
  if (v === 'keep-local' || v === 'take-new') return v;
  throw new IngotError('INVALID_ARGUMENT', `--etc-conflict must be keep-local or take-new, got '${v}'`);
}

export function register(admin: Command): void {
  addSysrootOption(admin.command('deploy'))
    .description('check out a commit as a new deployment and make it the default boot entry')
    .argument('<rev>', 'ref or commit in the sysroot repository')
    .option('--os <stateroot>', 'stateroot to deploy into (default: the booted or only one)')
    .option('--karg <key=value>', 'set a kernel argument (replaces one of the same name)', collect, [])
    .option('--karg-append <key=value>', 'append a kernel argument', collect, [])
    .option('--retain', 'keep all existing deployments')
    .option('--not-as-default', 'add the deployment after the booted (or merge) one instead of first')
    .option('--etc-conflict <policy>', 'resolve /etc file-against-directory conflicts: keep-local or take-new')
    .option('--no-prune', 'do not prune the repository afterwards')
    .action(
      action(async (rev: string, opts: Opts) => {
        const policy = etcPolicy(opts.etcConflict);
        const stateroot = defaultStateroot(loadSysroot(opts.sysroot), opts.os);
        const r = await deploy(opts.sysroot, rev, {
          stateroot,
          karg: opts.karg,
          kargAppend: opts.kargAppend,
          retain: !!opts.retain,
          notAsDefault: !!opts.notAsDefault,
          etcConflict: policy,
          noPrune: !opts.prune,
        });
        return {
          data: r,
          text: (d) =>
            (d.etc ? `Copying /etc changes: ${d.etc.modified} modified, ${d.etc.removed} removed, ${d.etc.added} added\n` : '') +
            (d.etc?.conflicts ?? []).map((c) => `  conflict /etc/${c.path}: ${c.resolution}\n`).join('') +
            `Deployed ${d.deployment.stateroot} ${d.deployment.checksum}.${d.deployment.serial} (index ${d.deployment.index}); bootversion ${d.write.bootversion}.${d.write.subbootversion}\n` +
            (d.cleanup.deploymentsRemoved.length ? `Removed ${d.cleanup.deploymentsRemoved.length} deployment(s)\n` : '') +
            (d.cleanup.objectsDeleted ? `Freed ${d.cleanup.objectsDeleted} objects (${d.cleanup.bytesFreed} bytes)\n` : ''),
        };
      }),
    );
}
