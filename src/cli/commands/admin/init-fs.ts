import type { Command } from 'commander';
import { initFs } from '../../../sysroot/layout.js';
import { action } from '../../util.js';

export function register(admin: Command): void {
  admin
    .command('init-fs')
    .description('create an empty sysroot: top-level directories and a bare repository')
    .argument('<dir>', 'the directory to initialise')
    .action(action(async (dir: string) => ({ data: initFs(dir), text: (d) => `initialised ${d.path}` })));
}
