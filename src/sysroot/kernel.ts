/**
 * Finding the kernel of a tree the way ostree does for the modern layout:
 * `usr/lib/modules/KVER/vmlinuz`, with `initramfs.img` (or `initramfs`) and `devicetree`
 * beside it; the boot checksum is sha256 over their bytes in that order. In /boot they are
 * named `vmlinuz-KVER`, `initramfs-KVER.img`, `devicetree-KVER`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Repo } from '../repo/repo.js';

export interface KernelLayout {
  kver: string;
  /** Absolute source paths inside the deployment. */
  vmlinuz: string;
  initramfs: string | null;
  devicetree: string | null;
  /** File names in boot/ostree/STATEROOT-BOOTCSUM/. */
  kernelName: string;
  initramfsName: string | null;
  devicetreeName: string | null;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
    throw ioError(e, 'cannot stat', p);
  }
}

/** The kernel of a checked-out tree, or null. */
export function findKernel(dir: string): KernelLayout | null {
  const modules = path.join(dir, 'usr', 'lib', 'modules');
  let kvers: string[];
  try {
    kvers = fs.readdirSync(modules).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw ioError(e, 'cannot list', modules);
  }
  for (const kver of kvers) {
    const base = path.join(modules, kver);
    const vmlinuz = path.join(base, 'vmlinuz');
    if (!isFile(vmlinuz)) continue;
    const initramfs = [path.join(base, 'initramfs.img'), path.join(base, 'initramfs')].find(isFile) ?? null;
    const devicetree = isFile(path.join(base, 'devicetree')) ? path.join(base, 'devicetree') : null;
    return {
      kver,
      vmlinuz,
      initramfs,
      devicetree,
      kernelName: `vmlinuz-${kver}`,
      initramfsName: initramfs ? `initramfs-${kver}.img` : null,
      devicetreeName: devicetree ? `devicetree-${kver}` : null,
    };
  }
  return null;
}

/** sha256 over the kernel, initramfs and devicetree bytes. */
export function bootChecksum(k: KernelLayout): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const p of [k.vmlinuz, k.initramfs, k.devicetree]) {
    if (!p) continue;
    const fd = fs.openSync(p, 'r');
    try {
      let n: number;
      while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex');
}

/** The kernel version a commit ships, read from its trees (no checkout), or null. */
export function commitKernelVersion(repo: Repo, commit: string): string | null {
  const c = repo.loadCommit(commit);
  let tree = repo.loadDirTree(c.rootTree);
  for (const name of ['usr', 'lib', 'modules']) {
    const d = tree.dirs.find((x) => x.name === name);
    if (!d) return null;
    tree = repo.loadDirTree(d.tree);
  }
  for (const d of [...tree.dirs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (repo.loadDirTree(d.tree).files.some((f) => f.name === 'vmlinuz')) return d.name;
  }
  return null;
}

export function noKernel(commit: string): IngotError {
  return new IngotError('KERNEL_NOT_FOUND', `commit ${commit} has no kernel: no usr/lib/modules/KVER/vmlinuz`, {
    hint: 'a deployable commit ships its kernel as usr/lib/modules/KVER/vmlinuz (and initramfs.img beside it); compose a kernel package into it',
    data: { commit },
  });
}
