/**
 * The deployments of an OSTree sysroot, read from its on-disk layout (ostree's
 * docs/deployment.md and ostree-sysroot.c), in the order `ostree admin status` lists them:
 *
 * - `boot/loader` is a symlink to `loader.0` or `loader.1`; its `entries/*.conf` are the BLS
 *   entries, one per deployment. Each has `version N` (the first deployment has the highest)
 *   and `options … ostree=/ostree/boot.B/STATEROOT/BOOTCSUM/SERIAL`, a path through the
 *   `ostree/boot.B` symlinks to `ostree/deploy/STATEROOT/deploy/CHECKSUM.SERIAL`.
 * - Without boot entries (a sysroot whose bootloader config ingot cannot see), the deployment
 *   directories themselves are listed, by stateroot then name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError } from '../core/errors.js';

export interface DeploymentInfo {
  index: number;
  stateroot: string;
  checksum: string;
  serial: number;
  /** The deployment's root directory. */
  path: string;
}

function notFound(msg: string, sysroot: string): IngotError {
  return new IngotError('TARGET_NOT_FOUND', msg, { hint: "list the deployments with 'ostree admin status --sysroot SYSROOT'", data: { sysroot } });
}

const DEPLOY_RE = /^([0-9a-f]{64})\.(\d+)$/;

export function listDeployments(sysroot: string): DeploymentInfo[] {
  const deployBase = path.join(sysroot, 'ostree', 'deploy');
  if (!fs.existsSync(deployBase)) throw notFound(`${sysroot} is not an OSTree sysroot (no ostree/deploy)`, sysroot);
  const loader = path.join(sysroot, 'boot', 'loader');
  const entriesDir = path.join(loader, 'entries');
  const out: DeploymentInfo[] = [];
  if (fs.existsSync(entriesDir)) {
    const entries: { version: number; target: string }[] = [];
    for (const n of fs.readdirSync(entriesDir).filter((x) => x.endsWith('.conf'))) {
      const text = fs.readFileSync(path.join(entriesDir, n), 'utf8');
      const version = Number(/^version\s+(\d+)\s*$/m.exec(text)?.[1] ?? NaN);
      const opt = /^options\s+(.*)$/m.exec(text)?.[1] ?? '';
      const target = /(?:^|\s)ostree=(\S+)/.exec(opt)?.[1];
      if (target) entries.push({ version, target });
    }
    entries.sort((a, b) => (Number.isNaN(b.version) ? -1 : b.version) - (Number.isNaN(a.version) ? -1 : a.version));
    for (const e of entries) {
      let real: string;
      try {
        real = fs.realpathSync(path.join(sysroot, e.target));
      } catch {
        continue;
      }
      const m = DEPLOY_RE.exec(path.basename(real));
      const stateroot = path.basename(path.dirname(path.dirname(real)));
      if (m) out.push({ index: out.length, stateroot, checksum: m[1]!, serial: Number(m[2]), path: real });
    }
  }
  if (out.length === 0) {
    for (const st of fs.readdirSync(deployBase).sort()) {
      const d = path.join(deployBase, st, 'deploy');
      if (!fs.existsSync(d)) continue;
      for (const n of fs.readdirSync(d).sort()) {
        const m = DEPLOY_RE.exec(n);
        if (m && fs.statSync(path.join(d, n)).isDirectory()) out.push({ index: out.length, stateroot: st, checksum: m[1]!, serial: Number(m[2]), path: path.join(d, n) });
      }
    }
  }
  return out;
}

/** One deployment by index (default 0, the default boot entry) or by `CHECKSUM[.SERIAL]` prefix. */
export function findDeployment(sysroot: string, which: string | undefined): DeploymentInfo {
  const all = listDeployments(sysroot);
  if (all.length === 0) throw notFound(`${sysroot} has no deployments`, sysroot);
  if (which === undefined || which === '') return all[0]!;
  if (/^\d+$/.test(which) && which.length < 8) {
    const d = all[Number(which)];
    if (!d) throw notFound(`${sysroot} has ${all.length} deployment(s); there is no index ${which}`, sysroot);
    return d;
  }
  const hits = all.filter((d) => `${d.checksum}.${d.serial}`.startsWith(which));
  if (hits.length !== 1) throw notFound(`${hits.length === 0 ? 'no' : 'more than one'} deployment in ${sysroot} matches '${which}'`, sysroot);
  return hits[0]!;
}
