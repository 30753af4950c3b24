import type { Command } from 'commander';
import { pin } from '../../../sysroot/ops.js';
import { action, parseIntOption } from '../../util.js';
import { addSysrootOption } from './common.js';

export function register(admin: Command): void {
  addSysrootOption(admin.command('pin'))
    .description('keep a deployment through cleanups (or release it with --unpin)')
    .argument('<index>', 'deployment index', parseIntOption('index'))
    .option('-u, --unpin', 'remove the pin')
    .action(
      action(async (index: number, opts: { sysroot: string; unpin?: boolean }) => ({
        data: await pin(opts.sysroot, index, !!opts.unpin),
        text: (d) => `Deployment ${d.deployment} is ${d.pinned ? 'now pinned' : 'now unpinned'}${d.changed ? '' : ' (unchanged)'}`,
      })),
    );
}
