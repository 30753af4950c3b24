import type { Command } from 'commander';
import { configDiff } from '../../../sysroot/ops.js';
import { action } from '../../util.js';
import { addSysrootOption } from './common.js';

const LETTER = { modified: 'M', removed: 'D', added: 'A' } as const;

export function register(admin: Command): void {
  addSysrootOption(admin.command('config-diff'))
    .description("list the local changes of the merge deployment's /etc against its defaults (usr/etc)")
    .option('--os <stateroot>', 'stateroot (default: the booted or only one)')
    .action(
      action(async (opts: { sysroot: string; os?: string }) => ({
        data: configDiff(opts.sysroot, opts.os),
        text: (d) => d.changes.map((c) => `${LETTER[c.kind]}    ${c.path}\n`).join(''),
      })),
    );
}
