/**
 * Making a composed root deployable the OSTree way (as rpm-ostree and bootc expect a tree):
 * - `/etc` moves to `/usr/etc` (a deployment's /etc is made from it, then merged);
 * - the content of `/var` becomes systemd-tmpfiles entries (directories `d`, symlinks `L`,
 *   files copied from `/usr/share/factory/var` with `C`), because /var is per machine and
 *   shared by deployments;
 * - `/home`, `/root`, `/opt`, `/srv`, `/mnt` and `/usr/local` become links into /var as
 *   ostree systems lay them out, their content kept in the factory tree;
 * - a kernel shipped by a package lands in `usr/lib/modules/KVER/vmlinuz`, with
 *   `initramfs.img` when one was built or shipped; `/boot` is left empty;
 * - API file systems (`/proc`, `/sys`, `/dev`, `/run`, `/tmp`) are empty mount points.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode } from '../core/errors.js';

export interface NormalizeReport {
  tmpfilesEntries: number;
  factoryFiles: number;
  kernels: string[];
  movedEtc: boolean;
}

const VAR_LINKS: [string, string][] = [
  ['home', 'var/home'],
  ['root', 'var/roothome'],
  ['opt', 'var/opt'],
  ['srv', 'var/srv'],
  ['mnt', 'var/mnt'],
  ['usr/local', '../var/usrlocal'],
];

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** systemd-tmpfiles escapes: spaces and backslashes in paths. */
function tfPath(p: string): string {
  return p.replace(/\\/g, '\\\\').replace(/ /g, '\\x20');
}

class TmpfilesWriter {
  lines: string[] = [];
  factory = 0;

  constructor(private readonly root: string) {}

  /** Records everything under root/`rel` (a /var path) and moves files into the factory. */
  capture(rel: string): void {
    const abs = path.join(this.root, rel);
    const st = lstat(abs);
    if (!st) return;
    const target = '/' + rel;
    if (st.isDirectory()) {
      this.lines.push(`d ${tfPath(target)} ${octal(st.mode)} ${st.uid} ${st.gid} - -`);
      for (const n of fs.readdirSync(abs).sort()) this.capture(path.posix.join(rel, n));
    } else if (st.isSymbolicLink()) {
      this.lines.push(`L ${tfPath(target)} - - - - ${fs.readlinkSync(abs)}`);
    } else if (st.isFile()) {
      const fpath = path.posix.join('usr/share/factory', rel);
      const dest = path.join(this.root, fpath);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.renameSync(abs, dest);
      this.lines.push(`C ${tfPath(target)} ${octal(st.mode)} ${st.uid} ${st.gid} - /${fpath}`);
      this.factory++;
    }
    // Sockets, FIFOs and devices in /var are runtime state: left out.
  }
}

/** Normalises the build root in place. */
export function normalizeTree(root: string): NormalizeReport {
  const report: NormalizeReport = { tmpfilesEntries: 0, factoryFiles: 0, kernels: [], movedEtc: false };
  const abs = (rel: string): string => path.join(root, rel);

  // /etc -> /usr/etc
  const etc = lstat(abs('etc'));
  if (etc) {
    if (lstat(abs('usr/etc'))) {
      throw new IngotError('COMPOSE_TREE_INVALID', `the tree has both /etc and /usr/etc`, {
        hint: 'packages or add-files put content into /usr/etc; ship configuration in /etc only',
        data: { path: '/usr/etc' },
      });
    }
    if (!etc.isDirectory()) throw new IngotError('COMPOSE_TREE_INVALID', '/etc is not a directory', { data: { path: '/etc' } });
    fs.mkdirSync(abs('usr'), { recursive: true });
    fs.renameSync(abs('etc'), abs('usr/etc'));
    report.movedEtc = true;
  }

  const tf = new TmpfilesWriter(root);
  // Links into /var for the per-machine directories; their content goes to the factory.
  for (const [from, to] of VAR_LINKS) {
    const p = abs(from);
    const st = lstat(p);
    const varRel = path.posix.join(path.posix.dirname(from), to).replace(/^(\.\.\/)+/, '');
    if (st && st.isDirectory()) {
      // Keep its content by moving it under /var, where the tmpfiles capture picks it up.
      const dest = abs(varRel);
      if (!lstat(dest)) {
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.renameSync(p, dest);
      } else {
        fs.rmSync(p, { recursive: true, force: true });
      }
    } else if (st) {
      fs.rmSync(p, { force: true });
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.symlinkSync(to, p);
    if (!lstat(abs(varRel))) tf.lines.push(`d /${varRel} ${from === 'root' ? '0700' : '0755'} 0 0 - -`);
  }

  // /var -> tmpfiles.d
  const varSt = lstat(abs('var'));
  if (varSt && varSt.isDirectory()) {
    for (const n of fs.readdirSync(abs('var')).sort()) tf.capture(path.posix.join('var', n));
    fs.rmSync(abs('var'), { recursive: true, force: true });
  }
  fs.mkdirSync(abs('var'), { mode: 0o755 });
  if (tf.lines.length) {
    const dir = abs('usr/lib/tmpfiles.d');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'ingot-var.conf'), '# Generated by ingot compose from the content of /var.\n' + tf.lines.join('\n') + '\n', { mode: 0o644 });
  }
  report.tmpfilesEntries = tf.lines.length;
  report.factoryFiles = tf.factory;

  // Kernels.
  report.kernels = placeKernels(root);

  // Mount points.
  for (const [d, mode] of [
    ['proc', 0o555],
    ['sys', 0o555],
    ['dev', 0o755],
    ['run', 0o755],
    ['tmp', 0o1777],
    ['boot', 0o755],
    ['sysroot', 0o755],
  ] as [string, number][]) {
    const p = abs(d);
    const st = lstat(p);
    if (st && st.isDirectory()) {
      if (d !== 'boot') fs.rmSync(p, { recursive: true, force: true });
    } else if (st) fs.rmSync(p, { force: true });
    fs.mkdirSync(p, { recursive: true });
    fs.chmodSync(p, mode);
  }
  // ostree convention: /ostree points into the sysroot.
  if (!lstat(abs('ostree'))) fs.symlinkSync('sysroot/ostree', abs('ostree'));
  return report;
}

/**
 * Moves kernels into usr/lib/modules/KVER/: Debian ships /boot/vmlinuz-KVER (and
 * initrd.img-KVER once built); Fedora's kernel-core ships usr/lib/modules/KVER/vmlinuz already.
 */
function placeKernels(root: string): string[] {
  const found: string[] = [];
  const boot = path.join(root, 'boot');
  const modules = path.join(root, 'usr/lib/modules');
  if (fs.existsSync(boot)) {
    for (const n of fs.readdirSync(boot)) {
      const m = /^vmlinuz-(.+)$/.exec(n);
      if (!m) continue;
      const kver = m[1]!;
      const dir = path.join(modules, kver);
      fs.mkdirSync(dir, { recursive: true });
      fs.renameSync(path.join(boot, n), path.join(dir, 'vmlinuz'));
      for (const initrd of [`initrd.img-${kver}`, `initramfs-${kver}.img`]) {
        const p = path.join(boot, initrd);
        if (fs.existsSync(p)) fs.renameSync(p, path.join(dir, 'initramfs.img'));
      }
      for (const extra of [`System.map-${kver}`, `config-${kver}`]) {
        const p = path.join(boot, extra);
        if (fs.existsSync(p)) fs.renameSync(p, path.join(dir, extra.split('-')[0]!));
      }
      found.push(kver);
    }
    // Whatever else is in /boot (loader files, symlinks) is not part of the commit.
    for (const n of fs.readdirSync(boot)) fs.rmSync(path.join(boot, n), { recursive: true, force: true });
  }
  if (fs.existsSync(modules)) {
    for (const kver of fs.readdirSync(modules)) {
      if (fs.existsSync(path.join(modules, kver, 'vmlinuz')) && !found.includes(kver)) found.push(kver);
    }
  }
  return found.sort();
}
