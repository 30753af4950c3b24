/**
 * The sysroot on disk, as ostree lays it out (docs/sysroot-format.md): reading the current
 * deployment list from the boot entries of the current bootversion, the paths of
 * deployments, origins and boot files, and `init-fs` / `os-init`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { KeyFile } from '../codecs/ostree/keyfile.js';
import { Repo } from '../repo/repo.js';
import { FileLock } from '../platform/lock.js';
import { exists, mkdirp, readFileOrNull } from '../platform/fs.js';
import { sys, FS_IMMUTABLE_FL } from '../platform/sys.js';
import { KernelArgs, blsGet, compareBlsVersion, parseBls } from './bls.js';

export interface Deployment {
  stateroot: string;
  /** The commit checked out. */
  checksum: string;
  /** Distinguishes several deployments of one commit in one stateroot. */
  serial: number;
  /** sha256 of the kernel, initramfs and devicetree (names boot/ostree/STATEROOT-BOOTCSUM). */
  bootcsum: string;
  /**
   * The kernel command line as the entry has it; `ostree=` (and the `init=` added without an
   * initramfs) are regenerated in place whenever entries are written. See userKargs.
   */
  kargs: string;
  /** The origin key file, or null when the deployment has none. */
  origin: KeyFile | null;
}

export interface SysrootState {
  root: string;
  bootversion: 0 | 1;
  subbootversion: 0 | 1;
  /** In boot order: index 0 is the default. */
  deployments: Deployment[];
  /** Index of the booted deployment, or -1 (not booted from this sysroot). */
  booted: number;
}

const STATEROOT_RE = /^[A-Za-z0-9_][-._A-Za-z0-9_]*$/;

export function assertStateroot(name: string): void {
  if (!STATEROOT_RE.test(name)) {
    throw new IngotError('INVALID_ARGUMENT', `'${name}' is not a valid stateroot name`, {
      hint: "a stateroot is letters, digits, '_', '-' and '.', not starting with '-' or '.'",
      data: { stateroot: name },
    });
  }
}

export const deploymentName = (d: Pick<Deployment, 'checksum' | 'serial'>): string => `${d.checksum}.${d.serial}`;
export const deploymentRel = (d: Pick<Deployment, 'stateroot' | 'checksum' | 'serial'>): string =>
  `ostree/deploy/${d.stateroot}/deploy/${deploymentName(d)}`;
export const deploymentDir = (root: string, d: Pick<Deployment, 'stateroot' | 'checksum' | 'serial'>): string => path.join(root, deploymentRel(d));
export const originPath = (root: string, d: Pick<Deployment, 'stateroot' | 'checksum' | 'serial'>): string => deploymentDir(root, d) + '.origin';
export const bootcsumDir = (root: string, stateroot: string, bootcsum: string): string => path.join(root, 'boot', 'ostree', `${stateroot}-${bootcsum}`);
export const repoPath = (root: string): string => path.join(root, 'ostree', 'repo');

export function sameDeployment(a: Deployment | null | undefined, b: Deployment | null | undefined): boolean {
  return !!a && !!b && a.stateroot === b.stateroot && a.checksum === b.checksum && a.serial === b.serial;
}

export function isPinned(d: Deployment): boolean {
  return d.origin?.getBool('libostree-transient', 'pinned', false) ?? false;
}

export function originRefspec(d: Deployment): string | null {
  return d.origin?.get('origin', 'refspec') ?? null;
}

function notInitialized(root: string, why: string): IngotError {
  return new IngotError('SYSROOT_NOT_INITIALIZED', `'${root}' is not an initialised sysroot: ${why}`, {
    hint: "run 'ingot admin init-fs DIR' and 'ingot admin os-init STATEROOT --sysroot DIR' first",
    data: { path: root },
  });
}

export function corrupt(where: string, why: string): IngotError {
  return new IngotError('SYSROOT_CORRUPT', `${where}: ${why}`, {
    hint: "the deployment list (boot/loader entries and ostree/boot.N links) is damaged; restore it from the other loader.N or re-deploy",
    data: { path: where },
  });
}

function readlinkOrNull(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    if (errnoCode(e) === 'EINVAL') throw corrupt(p, 'is not a symbolic link');
    throw ioError(e, 'cannot read link', p);
  }
}

export function openSysrootRepo(root: string): Repo {
  const r = Repo.open(repoPath(root));
  if (r.mode !== 'bare') {
    throw new IngotError('REPO_MODE_UNSUPPORTED', `the sysroot repository ${r.path} is in mode ${r.mode}, not bare`, {
      hint: 'deployments hardlink their files from the repository, which needs mode bare (as ostree admin init-fs makes it)',
      data: { path: r.path },
    });
  }
  return r;
}

/** Reads the deployment list of the current bootversion. */
export function loadSysroot(rootArg: string): SysrootState {
  const root = path.resolve(rootArg);
  if (!fs.existsSync(path.join(root, 'ostree', 'repo', 'config'))) throw notInitialized(root, 'ostree/repo has no config');
  if (!fs.existsSync(path.join(root, 'ostree', 'deploy'))) throw notInitialized(root, 'ostree/deploy is missing');
  const loader = readlinkOrNull(path.join(root, 'boot', 'loader'));
  let bootversion: 0 | 1 = 0;
  if (loader !== null) {
    if (loader === 'loader.0') bootversion = 0;
    else if (loader === 'loader.1') bootversion = 1;
    else throw corrupt(path.join(root, 'boot', 'loader'), `points at '${loader}', not loader.0 or loader.1`);
  }
  const sub = readlinkOrNull(path.join(root, 'ostree', `boot.${bootversion}`));
  let subbootversion: 0 | 1 = 0;
  if (sub !== null) {
    const m = /^boot\.([01])\.([01])$/.exec(sub);
    if (!m || Number(m[1]) !== bootversion) throw corrupt(path.join(root, 'ostree', `boot.${bootversion}`), `points at '${sub}'`);
    subbootversion = Number(m[2]) as 0 | 1;
  }
  const entriesDir = path.join(root, 'boot', `loader.${bootversion}`, 'entries');
  let names: string[] = [];
  try {
    names = fs.readdirSync(entriesDir).filter((n) => n.endsWith('.conf'));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'cannot list', entriesDir);
    if (loader !== null) throw corrupt(entriesDir, `boot/loader points at loader.${bootversion}, which has no entries directory`);
  }
  const entries = names.map((n) => {
    const p = path.join(entriesDir, n);
    const e = parseBls(fs.readFileSync(p, 'utf8'), p);
    return { p, e, version: blsGet(e, 'version') ?? '' };
  });
  entries.sort((a, b) => compareBlsVersion(b.version, a.version));
  const deployments: Deployment[] = [];
  for (const { p, e } of entries) {
    const kargs = KernelArgs.parse(blsGet(e, 'options'));
    const ostreeArg = /(?:^|\s)ostree=(\S+)/.exec(blsGet(e, 'options') ?? '')?.[1];
    if (!ostreeArg) throw corrupt(p, 'the entry has no ostree= kernel argument');
    const m = /^\/ostree\/boot\.[01]\/([^/]+)\/([0-9a-f]{64})\/(\d+)$/.exec(ostreeArg);
    if (!m) throw corrupt(p, `ostree=${ostreeArg} is not /ostree/boot.N/STATEROOT/BOOTCSUM/SERIAL`);
    const link = path.join(root, ostreeArg);
    const target = readlinkOrNull(link);
    if (target === null) throw corrupt(p, `${ostreeArg} does not exist`);
    const t = /^\.\.\/\.\.\/\.\.\/deploy\/([^/]+)\/deploy\/([0-9a-f]{64})\.(\d+)$/.exec(target);
    if (!t || t[1] !== m[1]) throw corrupt(link, `points at '${target}', not ../../../deploy/${m[1]}/deploy/CHECKSUM.SERIAL`);
    const d: Deployment = {
      stateroot: t[1]!,
      checksum: t[2]!,
      serial: Number(t[3]),
      bootcsum: m[2]!,
      kargs: kargs.toString(),
      origin: null,
    };
    const dir = deploymentDir(root, d);
    if (!fs.existsSync(dir)) throw corrupt(p, `its deployment ${deploymentRel(d)} does not exist`);
    const o = readFileOrNull(originPath(root, d));
    if (o !== null) d.origin = KeyFile.parse(o.toString('utf8'), originPath(root, d));
    deployments.push(d);
  }
  return { root, bootversion, subbootversion, deployments, booted: findBooted(root, deployments) };
}

/** The kernel arguments without those ostree generates (ostree=, and init= without an initramfs). */
export function userKargs(d: Pick<Deployment, 'kargs'>): string {
  const k = KernelArgs.parse(d.kargs);
  let out = k.without('ostree');
  if (/(?:^|\s)init=\/ostree\/boot\./.test(out.toString())) out = out.without('init');
  return out.toString();
}

/** The booted deployment: only on a running ostree system, the one whose root is `/`. */
function findBooted(root: string, ds: Deployment[]): number {
  if (!fs.existsSync('/run/ostree-booted')) return -1;
  let rootSt: fs.Stats;
  try {
    rootSt = fs.statSync('/');
  } catch {
    return -1;
  }
  return ds.findIndex((d) => {
    try {
      const st = fs.statSync(deploymentDir(root, d));
      return st.dev === rootSt.dev && st.ino === rootSt.ino;
    } catch {
      return false;
    }
  });
}

/**
 * The deployment whose configuration (/etc changes, kernel arguments) a new deployment of
 * `stateroot` inherits: the booted one when it belongs to that stateroot, else the first of it.
 */
export function mergeDeployment(s: SysrootState, stateroot: string): Deployment | null {
  const b = s.booted >= 0 ? s.deployments[s.booted]! : null;
  if (b && b.stateroot === stateroot) return b;
  return s.deployments.find((d) => d.stateroot === stateroot) ?? null;
}

/** The stateroot a command acts on: the given one, else the booted one's, else the default's. */
export function defaultStateroot(s: SysrootState, given?: string): string {
  if (given !== undefined) {
    assertStateroot(given);
    return given;
  }
  if (s.booted >= 0) return s.deployments[s.booted]!.stateroot;
  const first = s.deployments[0];
  if (first) return first.stateroot;
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(s.root, 'ostree', 'deploy'));
  } catch {
    /* checked by loadSysroot */
  }
  if (names.length === 1) return names[0]!;
  throw new IngotError('STATEROOT_NOT_FOUND', names.length === 0 ? `no stateroot in ${s.root}` : `${s.root} has ${names.length} stateroots and none is booted`, {
    hint: names.length === 0 ? "create one with 'ingot admin os-init STATEROOT'" : 'name one with --os',
    data: { path: s.root },
  });
}

export function assertStaterootExists(root: string, stateroot: string): void {
  assertStateroot(stateroot);
  if (!fs.existsSync(path.join(root, 'ostree', 'deploy', stateroot, 'var'))) {
    throw new IngotError('STATEROOT_NOT_FOUND', `stateroot '${stateroot}' does not exist in ${root}`, {
      hint: `create it with 'ingot admin os-init ${stateroot} --sysroot ${root}'`,
      data: { stateroot, path: root },
    });
  }
}

/** Runs `fn` holding the sysroot lock (ostree/lock, an OFD lock as libostree takes it). */
export async function withSysrootLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const lock = FileLock.open(path.join(root, 'ostree', 'lock'));
  try {
    await lock.acquire('exclusive');
    return await fn();
  } finally {
    lock.release();
  }
}

/** Sets or clears the immutable attribute (as ostree does on deployment roots); a no-op where unsupported. */
export function setImmutable(p: string, on: boolean): void {
  try {
    const f = sys().getflags(p);
    const next = on ? f | FS_IMMUTABLE_FL : f & ~FS_IMMUTABLE_FL;
    if (next !== f) sys().setflags(p, next);
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ENOTTY' || c === 'EOPNOTSUPP' || c === 'ENOTSUP' || c === 'EINVAL') return;
    throw ioError(e, 'cannot change the immutable attribute of', p);
  }
}

/** Removes a deployment-like directory tree, clearing the immutable attribute of its root first. */
export function removeTree(p: string): void {
  setImmutable(p, false);
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch (e) {
    throw ioError(e, 'cannot remove', p);
  }
}

export interface InitFsResult {
  path: string;
}

/** `ostree admin init-fs`: the top-level directories and a bare repository. */
export function initFs(dirArg: string): InitFsResult {
  const dir = path.resolve(dirArg);
  mkdirp(dir);
  for (const [d, mode] of [
    ['boot', 0o755],
    ['dev', 0o755],
    ['home', 0o755],
    ['proc', 0o755],
    ['run', 0o755],
    ['sys', 0o755],
    ['root', 0o700],
    ['tmp', 0o1777],
    ['ostree', 0o755],
    ['ostree/deploy', 0o755],
  ] as [string, number][]) {
    const p = path.join(dir, d);
    if (!fs.existsSync(p)) {
      fs.mkdirSync(p, { mode });
      fs.chmodSync(p, mode);
    }
  }
  Repo.init(repoPath(dir), 'bare');
  return { path: dir };
}

/** `ostree admin os-init`: a stateroot with its shared /var. */
export function osInit(rootArg: string, stateroot: string): { stateroot: string; path: string; created: boolean } {
  const root = path.resolve(rootArg);
  assertStateroot(stateroot);
  if (!fs.existsSync(path.join(root, 'ostree', 'deploy'))) throw notInitialized(root, 'ostree/deploy is missing');
  const base = path.join(root, 'ostree', 'deploy', stateroot);
  const created = !fs.existsSync(path.join(base, 'var'));
  const v = path.join(base, 'var');
  mkdirp(v);
  for (const [d, mode] of [
    ['tmp', 0o1777],
    ['lib', 0o755],
    ['log', 0o755],
  ] as [string, number][]) {
    const p = path.join(v, d);
    if (!fs.existsSync(p)) {
      fs.mkdirSync(p, { mode });
      fs.chmodSync(p, mode);
    }
  }
  for (const [l, t] of [
    ['run', '../run'],
    ['lock', '../run/lock'],
  ]) {
    const p = path.join(v, l);
    if (!exists(p)) fs.symlinkSync(t!, p);
  }
  return { stateroot, path: base, created };
}
