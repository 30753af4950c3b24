/**
 * Failpoints for crash-safety tests. INGOT_FAILPOINT is a comma-separated list of
 * `name` or `name=action` where action is `kill` (SIGKILL the process, the default),
 * `error` (throw an IngotError FAILPOINT) or `enospc` (throw ENOSPC as the disk would).
 * A name may end with `@N` to fire on the N-th hit only.
 */
import { IngotError } from '../core/errors.js';

interface Spec {
  action: string;
  nth: number;
}

let parsed: Map<string, Spec> | null = null;
const hits = new Map<string, number>();

function specs(): Map<string, Spec> {
  if (parsed) return parsed;
  parsed = new Map();
  const env = process.env['INGOT_FAILPOINT'];
  if (env) {
    for (const item of env.split(',')) {
      const [lhs, action = 'kill'] = item.split('=');
      const [name, nth] = lhs!.split('@');
      parsed.set(name!.trim(), { action: action.trim(), nth: nth ? Number(nth) : 1 });
    }
  }
  return parsed;
}

export function failpointsActive(): boolean {
  return specs().size > 0;
}

export function failpoint(name: string): void {
  const s = specs().get(name);
  if (!s) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (n !== s.nth) return;
  switch (s.action) {
    case 'error':
      throw new IngotError('FAILPOINT', `failpoint '${name}' fired`);
    case 'enospc': {
      const e = new Error(`ENOSPC: no space left on device (failpoint '${name}')`) as NodeJS.ErrnoException;
      e.code = 'ENOSPC';
      throw e;
    }
    default:
      process.kill(process.pid, 'SIGKILL');
  }
}
