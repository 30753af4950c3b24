/**
 * Where package and postprocess scripts run. The build root's files are hard links into the
 * package tree cache (pkgcache.ts), so a script that wrote into one of them in place (`echo >>
 * /etc/shells`, `chmod`, `sed -i` on a system without rename) would change the cache, and
 * every later compose with it. Scripts therefore never get the root itself:
 *
 * - with overlayfs (platform/overlay-mount.ts): the root is the lower layer of an overlay
 *   mounted for one run of scripts; whatever the scripts change lands, copied up whole, in a
 *   fresh upper layer; after the run the overlay is unmounted and the upper layer is moved
 *   into the root entry by entry (`mergeUpper`): a changed file replaces the link (a new
 *   inode: the cache object is untouched), a whiteout removes the path, an opaque directory
 *   replaces the directory, a copied-up directory gives its owner, mode and xattrs. The
 *   overlay's own xattrs (trusted.overlay.*) are removed on the way, so the commit sees
 *   exactly what the scripts left. The upper layers live on a tmpfs when one can be mounted
 *   (dpkg fsyncs its database after every step; on a tmpfs that costs nothing), and are then
 *   copied rather than renamed into the root;
 * - without (no permission to mount, an old kernel): `copyOnly` is true before anything is
 *   unpacked, the caller builds the root from private copies, and scripts run on it directly.
 *
 * The root must not change while an overlay is mounted (overlayfs forbids changes to a lower
 * layer); `run` mounts and unmounts around each run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { sys } from '../platform/sys.js';
import { rmQuiet } from '../platform/fs.js';
import { mountOverlay, mountTmpfs, unmountStale, type OverlayMount } from '../platform/overlay-mount.js';

const OVERLAY_XATTR = 'trusted.overlay.';
/** Room for what one run of scripts writes (a tmpfs takes memory only for what is written). */
const TMPFS_BYTES = 4 * 1024 ** 3;

export class ScriptView {
  readonly copyOnly: boolean;
  private mount: OverlayMount | null = null;
  private tmpfs: { unmount(): void } | null = null;
  private runs = 0;
  private readonly onChange: ChangeRecorder | undefined;

  /** `scratch` is a directory of its own on the root's file system (for the upper layers). */
  /**
   * `probe: false` skips the trial mount: the caller needs no copies because it has another
   * way should the first run's mount fail (that run throws SANDBOX_FAILED).
   */
  constructor(
    private readonly root: string,
    private readonly scratch: string,
    opts: { overlay?: boolean; probe?: boolean; onChange?: ChangeRecorder } = {},
  ) {
    this.onChange = opts.onChange;
    fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
    const probe = opts.overlay === false || opts.probe === false ? null : this.mountOnce();
    this.copyOnly = opts.overlay === false || (opts.probe !== false && probe === null);
    if (!this.copyOnly) {
      if (probe) this.unmountAndMerge(probe);
      // Upper layers in memory when possible: dpkg fsyncs its database after every step,
      // which on a busy disk costs more than the scripts themselves. (The scripts' output is
      // small; it is copied into the root after each run.)
      this.tmpfs = mountTmpfs(scratch, TMPFS_BYTES);
    }
  }

  private layer(): { upper: string; work: string; merged: string } {
    const n = this.runs++;
    const d = path.join(this.scratch, String(n));
    const l = { upper: path.join(d, 'upper'), work: path.join(d, 'work'), merged: path.join(d, 'merged') };
    for (const p of Object.values(l)) fs.mkdirSync(p, { recursive: true, mode: 0o755 });
    return l;
  }

  private mountOnce(): (OverlayMount & { upper: string; dir: string }) | null {
    const l = this.layer();
    const m = mountOverlay(this.root, l.upper, l.work, l.merged);
    if (!m) {
      rmQuiet(path.dirname(l.upper));
      return null;
    }
    this.mount = m;
    return Object.assign(m, { upper: l.upper, dir: path.dirname(l.upper) });
  }

  private unmountAndMerge(m: OverlayMount & { upper: string; dir: string }): void {
    m.unmount();
    this.mount = null;
    mergeUpper(m.upper, this.root, this.onChange);
    rmQuiet(m.dir);
  }

  /** Runs `fn` with the directory a sandbox is to take as `/`; the root has the changes afterwards. */
  async run<T>(fn: (sandboxRoot: string) => Promise<T>): Promise<T> {
    if (this.copyOnly) return fn(this.root);
    const m = this.mountOnce();
    if (!m) {
      throw new IngotError('SANDBOX_FAILED', `cannot mount an overlay over the build root ${this.root}`, {
        hint: 'the same mount worked when the compose started; check the kernel log (dmesg)',
        data: { path: this.root },
      });
    }
    let ok = false;
    try {
      const r = await fn(m.merged);
      ok = true;
      return r;
    } finally {
      if (ok) this.unmountAndMerge(m);
      else {
        // A failed run: the compose stops and the root is thrown away; no merge needed.
        m.unmount();
        this.mount = null;
      }
    }
  }

  close(): void {
    this.mount?.unmount();
    this.mount = null;
    this.tmpfs?.unmount();
    this.tmpfs = null;
    rmQuiet(this.scratch);
  }
}

/** True when `pid` is not a running node process (a compose that was killed). */
function gone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return true;
  }
}

/**
 * Removes what a killed compose left in `tmpDir`: its mounts (overlays, the tmpfs), then its
 * work directory (`ingot-compose-PID-...`, PID no longer running).
 */
export function cleanStaleComposes(tmpDir: string): void {
  unmountStale(tmpDir, (p) => {
    const m = /\/ingot-compose-(\d+)-[0-9a-f]+\//.exec(p);
    return !!m && gone(Number(m[1]));
  });
  let names: string[];
  try {
    names = fs.readdirSync(tmpDir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^ingot-compose-(\d+)-[0-9a-f]+$/.exec(n);
    if (m && gone(Number(m[1]))) rmQuiet(path.join(tmpDir, n));
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw ioError(e, 'cannot stat', p);
  }
}

function overlayXattrs(p: string): string[] {
  try {
    return sys().llistxattr(p).filter((n) => n.startsWith(OVERLAY_XATTR));
  } catch {
    return [];
  }
}

function stripOverlayXattrs(p: string): void {
  for (const n of overlayXattrs(p)) {
    try {
      sys().lremovexattr(p, n);
    } catch (e) {
      if (errnoCode(e) !== 'ENODATA') throw ioError(e, 'cannot remove the overlay xattrs of', p);
    }
  }
}

function stripTree(p: string): void {
  stripOverlayXattrs(p);
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return;
  for (const n of fs.readdirSync(p)) stripTree(path.join(p, n));
}

/** A directory that was copied up keeps its place in the root; it takes the upper one's owner, mode and xattrs. */
function applyDirMeta(from: string, st: fs.Stats, to: string): void {
  const s = sys();
  const want = new Map<string, Buffer>();
  for (const n of s.llistxattr(from)) {
    if (n.startsWith(OVERLAY_XATTR)) continue;
    const v = s.lgetxattr(from, n);
    if (v) want.set(n, v);
  }
  for (const n of s.llistxattr(to)) if (!want.has(n)) s.lremovexattr(to, n);
  for (const [n, v] of want) {
    const cur = s.lgetxattr(to, n);
    if (!cur || !cur.equals(v)) s.lsetxattr(to, n, v);
  }
  const cur = fs.lstatSync(to);
  if (cur.uid !== st.uid || cur.gid !== st.gid) fs.lchownSync(to, st.uid, st.gid);
  if ((cur.mode & 0o7777) !== (st.mode & 0o7777)) fs.chmodSync(to, st.mode & 0o7777);
}

/**
 * Told of every path (relative to the root, no leading slash) that a merge changed: `subtree`
 * when whatever is at it now (or nothing) replaced what was there, else a directory whose
 * owner, mode or xattrs may have changed and whose changed entries are told separately.
 */
export type ChangeRecorder = (rel: string, subtree: boolean) => void;

/** Moves an unmounted overlay's upper layer into its lower directory (see the file comment). */
export function mergeUpper(upper: string, lower: string, record?: ChangeRecorder): void {
  const links = new Map<number, string>();
  const walk = (u: string, l: string, rel: string): void => {
    for (const name of fs.readdirSync(u)) {
      const up = `${u}/${name}`;
      const lp = `${l}/${name}`;
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(up);
      const lst = lstatOrNull(lp);
      try {
        if (st.isCharacterDevice() && st.rdev === 0) {
          // A whiteout: the scripts removed this path.
          if (lst) fs.rmSync(lp, { recursive: true, force: true });
          record?.(r, true);
          continue;
        }
        if (st.isDirectory()) {
          const opaque = sys().lgetxattr(up, `${OVERLAY_XATTR}opaque`)?.toString() === 'y';
          if (lst?.isDirectory() && !opaque) {
            record?.(r, false);
            walk(up, lp, r);
            applyDirMeta(up, st, lp);
            continue;
          }
          if (lst) fs.rmSync(lp, { recursive: true, force: true });
          record?.(r, true);
          moveEntry(up, lp, links);
          continue;
        }
        if (lst?.isDirectory()) fs.rmSync(lp, { recursive: true, force: true });
        // Replacing a file or symlink at lp drops the old link; its inode stays untouched.
        record?.(r, true);
        moveEntry(up, lp, links);
      } catch (e) {
        throw e instanceof IngotError ? e : ioError(e, 'cannot take over the scripts\' change of', lp);
      }
    }
  };
  walk(upper, lower, '');
}

/**
 * Moves one upper-layer entry (a whole directory tree for a directory) to `dest`, without the
 * overlay's xattrs: by rename(2) on the same file system, else as a copy with the owner, mode
 * and xattrs (hard links within the layer stay links). Device nodes, FIFOs and sockets that
 * scripts made are left out, as a commit leaves them out.
 */
function moveEntry(src: string, dest: string, links: Map<number, string>): void {
  stripTree(src);
  try {
    fs.renameSync(src, dest);
    return;
  } catch (e) {
    if (errnoCode(e) !== 'EXDEV') throw e;
  }
  copyTree(src, dest, links);
}

function copyXattrs(src: string, dest: string): void {
  const s = sys();
  for (const n of s.llistxattr(src)) {
    if (n.startsWith(OVERLAY_XATTR)) continue;
    const v = s.lgetxattr(src, n);
    if (v) s.lsetxattr(dest, n, v);
  }
}

function copyTree(src: string, dest: string, links: Map<number, string>): void {
  const st = fs.lstatSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dest, { mode: 0o700 });
    for (const n of fs.readdirSync(src)) copyTree(`${src}/${n}`, `${dest}/${n}`, links);
    fs.lchownSync(dest, st.uid, st.gid);
    fs.chmodSync(dest, st.mode & 0o7777);
    copyXattrs(src, dest);
    return;
  }
  if (st.isSymbolicLink()) {
    fs.rmSync(dest, { force: true });
    fs.symlinkSync(fs.readlinkSync(src), dest);
    fs.lchownSync(dest, st.uid, st.gid);
    copyXattrs(src, dest);
    return;
  }
  if (!st.isFile()) return;
  fs.rmSync(dest, { force: true });
  const first = st.nlink > 1 ? links.get(st.ino) : undefined;
  if (first) {
    fs.linkSync(first, dest);
    return;
  }
  fs.copyFileSync(src, dest);
  fs.chownSync(dest, st.uid, st.gid);
  fs.chmodSync(dest, st.mode & 0o7777);
  copyXattrs(src, dest);
  fs.utimesSync(dest, st.atime, st.mtime);
  if (st.nlink > 1) links.set(st.ino, dest);
}

/**
 * Removes a directory tree that this process made (a build root, a work directory): one
 * readdir per directory and no stat per entry (fs.rmSync stats every entry and tries every
 * directory's rmdir twice), the unlinks and rmdirs issued many at a time on the thread pool
 * (a build root is thousands of entries, each a journalled metadata change). Mount points
 * under it must be gone. Missing: nothing to do.
 */
export async function removeTree(dir: string): Promise<void> {
  const files: string[] = [];
  const levels: string[][] = [];
  const list = (d: string, depth: number): void => {
    (levels[depth] ??= []).push(d);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) list(p, depth + 1);
      else files.push(p);
    }
  };
  const inParallel = async (paths: readonly string[], op: (p: string) => Promise<void>): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) await op(paths[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(32, paths.length) }, worker));
  };
  try {
    list(dir, 0);
    await inParallel(files, (p) => fs.promises.unlink(p));
    for (let i = levels.length - 1; i >= 0; i--) await inParallel(levels[i]!, (p) => fs.promises.rmdir(p));
  } catch {
    // Whatever the fast way could not remove (gone already, permissions, a busy mount): the
    // thorough way.
    rmQuiet(dir);
  }
}
