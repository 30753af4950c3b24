import type { Command } from 'commander';
import { osInit } from '../../../sysroot/layout.js';
import { action } from '../../util.js';
import { addSysrootOption } from './common.js';

export function register(admin: Command): void {
  addSysrootOption(admin.command('os-init'))
    .description('create a stateroot (ostree/deploy/STATEROOT with its shared /var)')
    .argument('<stateroot>', 'the stateroot name')
    .action(
      action(async (stateroot: string, opts: { sysroot: string }) => ({
        data: osInit(opts.sysroot, stateroot),
        text: (d) => `ostree/deploy/${d.stateroot} ${d.created ? 'initialised' : 'already exists'}`,
      })),
    );
}
