/**
 * Mounting an overlay file system (the kernel's overlayfs) so that a program can change a
 * directory tree without touching it: LOWER is read only, every change lands in UPPER (files
 * copied up whole before their first change, deletions as whiteouts), and MERGED shows both.
 * Used to run package scripts over a build root whose files are hard links into a content
 * store (see compose/script-view.ts): nothing written through MERGED can reach a link's inode.
 *
 * Options: `index=off` (a copy-up breaks hard links), `metacopy=off` (a copy-up always copies
 * the data, so UPPER is complete on its own), `redirect_dir=off` (renaming a lower directory
 * fails with EXDEV, which tools answer by copying), `xino=off`. Returns null when the kernel or
 * the caller's privileges allow no such mount; the caller then needs another way.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface OverlayMount {
  merged: string;
  /** Unmounts (lazily when busy); safe to call twice. */
  unmount(): void;
}

export function mountOverlay(lower: string, upper: string, work: string, merged: string): OverlayMount | null {
  // The option string separates with ',' and ':'; such paths are not for us to escape.
  if ([lower, upper, work].some((p) => /[,:\\\n]/.test(p))) return null;
  const base = `lowerdir=${lower},upperdir=${upper},workdir=${work},index=off`;
  for (const opts of [`${base},metacopy=off,redirect_dir=off,xino=off`, `${base},redirect_dir=off`]) {
    const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, merged], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    if (!r.error && r.status === 0) {
      let mounted = true;
      return {
        merged,
        unmount(): void {
          if (!mounted) return;
          mounted = false;
          const u = spawnSync('umount', [merged], { stdio: 'ignore', timeout: 30_000 });
          if (u.error || u.status !== 0) spawnSync('umount', ['-l', merged], { stdio: 'ignore', timeout: 30_000 });
        },
      };
    }
  }
  return null;
}

/**
 * Mounts a tmpfs at `dir` (for overlay upper layers: a program's fsyncs there cost nothing,
 * and its scratch never reaches the disk). Returns null when it cannot be mounted.
 */
export function mountTmpfs(dir: string, sizeBytes: number): { unmount(): void } | null {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `mode=0700,size=${Math.max(1, Math.floor(sizeBytes / 1048576))}m`, 'ingot-scratch', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 30_000,
  });
  if (r.error || r.status !== 0) return null;
  let mounted = true;
  return {
    unmount(): void {
      if (!mounted) return;
      mounted = false;
      const u = spawnSync('umount', [dir], { stdio: 'ignore', timeout: 30_000 });
      if (u.error || u.status !== 0) spawnSync('umount', ['-l', dir], { stdio: 'ignore', timeout: 30_000 });
    },
  };
}

/**
 * Mount points under `dir` (from /proc/self/mountinfo, deepest first) for which `stale` says
 * yes are unmounted lazily: mounts left behind by a process that was killed mid-run.
 */
export function unmountStale(dir: string, stale: (mountpoint: string) => boolean): number {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return 0;
  }
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p.startsWith(prefix) && stale(p))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p], { stdio: 'ignore', timeout: 30_000 });
  return points.length;
}
