import type { Command } from 'commander';
import { kargs } from '../../../sysroot/ops.js';
import { action, collect, parseIntOption } from '../../util.js';
import { addSysrootOption } from './common.js';

interface Opts {
  sysroot: string;
  append: string[];
  delete: string[];
  replace: string[];
  deployment?: number;
}

export function register(admin: Command): void {
  addSysrootOption(admin.command('kargs'))
    .description("show or change a deployment's kernel arguments (a change writes new boot entries)")
    .option('--append <key=value>', 'append an argument', collect, [])
    .option('--delete <key[=value]>', 'delete an argument', collect, [])
    .option('--replace <key=value>', 'set an argument, replacing any of the same name', collect, [])
    .option('--deployment <index>', 'deployment index (default 0, the default one)', parseIntOption('--deployment'))
    .action(
      action(async (opts: Opts) => ({
        data: await kargs(opts.sysroot, {
          append: opts.append,
          delete: opts.delete,
          replace: opts.replace,
          ...(opts.deployment !== undefined && { index: opts.deployment }),
        }),
        text: (d) => d.kargs,
      })),
    );
}
