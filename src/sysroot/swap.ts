/**
 * Writing a deployment list, the one way the set of bootable deployments changes. Either the
 * entries stay valid (same length, kernels, kernel arguments, versions) and only a new
 * ostree/boot.B.M link farm is made and ostree/boot.B retargeted; or a full bootversion swap:
 * entries, kernels and a link farm for the other bootversion are written, everything is
 * flushed, and one rename of the boot/loader symlink makes them current. A crash before that
 * rename leaves the old list bootable and untouched; after it, the new one complete. The
 * deployment-keeping refs (ostree/B/M/I) are rewritten last.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, ioError } from '../core/errors.js';
import type { Repo } from '../repo/repo.js';
import { fsyncDir, mkdirp, rmQuiet, syncFs, tmpName } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { readFileOrNull } from '../platform/fs.js';
import { serializeBls, KernelArgs, parseOsRelease, type BlsEntry } from './bls.js';
import { bootcsumDir, corrupt, deploymentDir, deploymentRel, type Deployment, type SysrootState } from './layout.js';
import { bootSerials, needsBootswap, showStateroot } from './plan.js';
import { findKernel, type KernelLayout } from './kernel.js';

export interface WriteResult {
  bootversion: 0 | 1;
  subbootversion: 0 | 1;
  bootswap: boolean;
}

/** Replaces symlink `p` atomically (temp link + rename). */
export function replaceSymlink(target: string, p: string): void {
  const tmp = tmpName(path.dirname(p), path.basename(p));
  try {
    fs.symlinkSync(target, tmp);
    fs.renameSync(tmp, p);
  } catch (e) {
    rmQuiet(tmp);
    throw ioError(e, 'cannot replace the link', p);
  }
}

export function commitVersion(repo: Repo, checksum: string): string | null {
  try {
    const v = repo.loadCommit(checksum).metadata.find(([k]) => k === 'version')?.[1];
    return v && v.type === 's' ? (v.value as string) : null;
  } catch {
    return null;
  }
}

function readOsRelease(dir: string): Map<string, string> {
  const text = readFileOrNull(path.join(dir, 'usr/lib/os-release')) ?? readFileOrNull(path.join(dir, 'etc/os-release'));
  return text ? parseOsRelease(text.toString('utf8')) : new Map();
}

/** Hardlinks (or copies, across file systems) a boot file into place unless present. */
function installBootFile(src: string, dest: string): void {
  if (fs.existsSync(dest)) return;
  try {
    fs.linkSync(src, dest);
    return;
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'EEXIST') return;
    if (c !== 'EXDEV' && c !== 'EMLINK' && c !== 'EPERM') throw ioError(e, 'cannot install boot file', dest);
  }
  const tmp = tmpName(path.dirname(dest), path.basename(dest));
  try {
    fs.copyFileSync(src, tmp);
    fs.chmodSync(tmp, 0o644);
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, dest);
  } catch (e) {
    rmQuiet(tmp);
    throw ioError(e, 'cannot install boot file', dest);
  }
}

function linkFarm(root: string, bootversion: number, sub: number, list: readonly Deployment[], serials: number[]): string {
  const dir = path.join(root, 'ostree', `boot.${bootversion}.${sub}`);
  rmQuiet(dir);
  for (let i = 0; i < list.length; i++) {
    const d = list[i]!;
    const parent = path.join(dir, d.stateroot, d.bootcsum);
    mkdirp(parent);
    fs.symlinkSync(`../../../deploy/${d.stateroot}/deploy/${d.checksum}.${d.serial}`, path.join(parent, String(serials[i])));
  }
  mkdirp(dir);
  return dir;
}

/** The full kernel command line of an entry: the deployment's arguments with ostree= set. */
export function entryOptions(d: Deployment, bootversion: number, bootserial: number, hasInitramfs: boolean): string {
  let k = KernelArgs.parse(d.kargs);
  if (hasInitramfs && /(?:^|\s)init=\/ostree\/boot\./.test(d.kargs)) k = k.without('init');
  if (!hasInitramfs) k.replace(`init=/ostree/boot.${bootversion}/${d.stateroot}/${d.bootcsum}/${bootserial}/usr/lib/ostree/ostree-prepare-root`);
  k.replace(`ostree=/ostree/boot.${bootversion}/${d.stateroot}/${d.bootcsum}/${bootserial}`);
  return k.toString();
}

export function writeDeployments(s: SysrootState, repo: Repo, list: Deployment[]): WriteResult {
  const root = s.root;
  const versions = new Map<string, string | null>();
  const versionOf = (d: Deployment): string | null => {
    if (!versions.has(d.checksum)) versions.set(d.checksum, commitVersion(repo, d.checksum));
    return versions.get(d.checksum)!;
  };
  const serials = bootSerials(list);
  let result: WriteResult;
  if (!needsBootswap(s.deployments, list, versionOf) && s.deployments.length > 0) {
    const B = s.bootversion;
    const M = (1 - s.subbootversion) as 0 | 1;
    linkFarm(root, B, M, list, serials);
    failpoint('swap-bootlinks');
    syncFs(root);
    replaceSymlink(`boot.${B}.${M}`, path.join(root, 'ostree', `boot.${B}`));
    fsyncDir(path.join(root, 'ostree'));
    failpoint('swap-after-bootlink');
    result = { bootversion: B, subbootversion: M, bootswap: false };
  } else {
    const B = (1 - s.bootversion) as 0 | 1;
    const bootDir = path.join(root, 'boot');
    mkdirp(bootDir);
    if (!fs.existsSync(path.join(bootDir, 'boot'))) {
      try {
        fs.symlinkSync('.', path.join(bootDir, 'boot'));
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw ioError(e, 'cannot create', path.join(bootDir, 'boot'));
      }
    }
    const loaderDir = path.join(bootDir, `loader.${B}`);
    rmQuiet(loaderDir);
    const entries = path.join(loaderDir, 'entries');
    mkdirp(entries);
    const show = showStateroot(list);
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      const dir = deploymentDir(root, d);
      const k: KernelLayout | null = findKernel(dir);
      if (!k) throw corrupt(dir, `the deployment ${deploymentRel(d)} has no kernel in usr/lib/modules`);
      const bdir = bootcsumDir(root, d.stateroot, d.bootcsum);
      mkdirp(bdir);
      installBootFile(k.vmlinuz, path.join(bdir, k.kernelName));
      if (k.initramfs) installBootFile(k.initramfs, path.join(bdir, k.initramfsName!));
      if (k.devicetree) installBootFile(k.devicetree, path.join(bdir, k.devicetreeName!));
      if (i === 0) failpoint('swap-kernel');
      const os = readOsRelease(dir);
      const name = os.get('PRETTY_NAME') ?? os.get('ID') ?? 'Linux';
      const version = versionOf(d);
      let title = name;
      if (version && !name.includes(version)) title += ` ${version}`;
      title += ` (ostree${show ? `:${d.stateroot}` : ''}:${i})`;
      const bprefix = `/ostree/${d.stateroot}-${d.bootcsum}/`;
      const e: BlsEntry = [
        ['title', title],
        ['version', String(list.length - i)],
        ['options', entryOptions(d, B, serials[i]!, !!k.initramfs)],
        ['linux', bprefix + k.kernelName],
      ];
      if (k.initramfsName) e.push(['initrd', bprefix + k.initramfsName]);
      if (k.devicetreeName) e.push(['devicetree', bprefix + k.devicetreeName]);
      fs.writeFileSync(path.join(entries, `ostree-${list.length - i}-${d.stateroot}.conf`), serializeBls(e), { mode: 0o644 });
      failpoint('swap-entry');
    }
    const prev = (() => {
      try {
        return fs.readlinkSync(path.join(root, 'ostree', `boot.${B}`));
      } catch {
        return null;
      }
    })();
    const M = (prev && /\.0$/.test(prev) ? 1 : prev ? 0 : 1) as 0 | 1;
    linkFarm(root, B, M, list, serials);
    failpoint('swap-bootlinks');
    replaceSymlink(`boot.${B}.${M}`, path.join(root, 'ostree', `boot.${B}`));
    failpoint('swap-before-sync');
    // Everything written so far (deployments, entries, kernels, links) reaches the disk before
    // the one rename that makes it current; /boot is flushed too when it is another file system.
    syncFs(root);
    if (fs.statSync(bootDir).dev !== fs.statSync(root).dev) syncFs(bootDir);
    failpoint('swap-before-loader');
    replaceSymlink(`loader.${B}`, path.join(bootDir, 'loader'));
    fsyncDir(bootDir);
    failpoint('swap-after-loader');
    result = { bootversion: B, subbootversion: M, bootswap: true };
  }
  s.bootversion = result.bootversion;
  s.subbootversion = result.subbootversion;
  s.deployments = list;
  writeDeploymentRefs(repo, result.bootversion, result.subbootversion, list);
  return result;
}

/** ostree/B/M/I refs for the current list (and none for the other versions), as ostree keeps them. */
export function writeDeploymentRefs(repo: Repo, B: number, M: number, list: readonly Deployment[]): void {
  const keep = new Set(list.map((_, i) => `ostree/${B}/${M}/${i}`));
  for (const name of repo.listRefs().keys()) {
    if (/^ostree\/[01]\/[01]\/\d+$/.test(name) && !keep.has(name)) repo.writeRef(name, null);
  }
  for (let i = 0; i < list.length; i++) {
    const name = `ostree/${B}/${M}/${i}`;
    if (repo.readRef(name) !== list[i]!.checksum) repo.writeRef(name, list[i]!.checksum as never);
    if (i === 0) failpoint('refs-write');
  }
}
