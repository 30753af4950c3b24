import type { Command } from 'commander';
import { rollback } from '../../../sysroot/ops.js';
import { action } from '../../util.js';
import { addSysrootOption } from './common.js';

export function register(admin: Command): void {
  addSysrootOption(admin.command('rollback'))
    .description('make the previous deployment the default boot entry')
    .action(
      action(async (opts: { sysroot: string }) => ({
        data: await rollback(opts.sysroot),
        text: (d) => `Moved deployment ${d.from} (${d.deployment}) to be the default; bootversion ${d.write.bootversion}.${d.write.subbootversion}`,
      })),
    );
}
