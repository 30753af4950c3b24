/** Shared parts of the `ingot admin` commands: the --sysroot option and status rendering. */
import type { Command } from 'commander';
import type { SysrootStatus } from '../../../sysroot/status.js';

export function addSysrootOption(cmd: Command): Command {
  return cmd.option('--sysroot <dir>', 'the sysroot to act on', '/');
}

/** Text like `ostree admin status`: one block per deployment in boot order. */
export function statusText(s: SysrootStatus): string {
  if (s.deployments.length === 0) return 'No deployments.\n';
  let out = '';
  for (const d of s.deployments) {
    const flags = d.pending ? ' (pending)' : d.rollback ? ' (rollback)' : '';
    out += `${d.booted ? '*' : ' '} ${d.stateroot} ${d.name}${flags}\n`;
    if (d.version) out += `    Version: ${d.version}\n`;
    if (d.pinned) out += `    Pinned: yes\n`;
    out += d.refspec ? `    origin refspec: ${d.refspec}\n` : `    origin: none\n`;
  }
  return out;
}
