import type { Command } from 'commander';
import { undeploy } from '../../../sysroot/ops.js';
import { action, parseIntOption } from '../../util.js';
import { addSysrootOption } from './common.js';

export function register(admin: Command): void {
  addSysrootOption(admin.command('undeploy'))
    .description('remove a deployment by its index, with what nothing else uses')
    .argument('<index>', 'deployment index (0 is the default)', parseIntOption('index'))
    .action(
      action(async (index: number, opts: { sysroot: string }) => ({
        data: await undeploy(opts.sysroot, index),
        text: (d) => `Deleted deployment ${d.removed}` + (d.cleanup.objectsDeleted ? `\nFreed ${d.cleanup.objectsDeleted} objects (${d.cleanup.bytesFreed} bytes)` : ''),
      })),
    );
}
