import type { Command } from 'commander';
import { cleanup } from '../../../sysroot/ops.js';
import { action } from '../../util.js';
import { addSysrootOption } from './common.js';

export function register(admin: Command): void {
  addSysrootOption(admin.command('cleanup'))
    .description('remove unreferenced deployments, boot files, old boot versions and repository objects')
    .action(
      action(async (opts: { sysroot: string }) => ({
        data: await cleanup(opts.sysroot),
        text: (d) =>
          `Removed ${d.deploymentsRemoved.length} deployment(s), ${d.bootDirsRemoved.length} kernel dir(s); freed ${d.objectsDeleted} objects (${d.bytesFreed} bytes)`,
      })),
    );
}
