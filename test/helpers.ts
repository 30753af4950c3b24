/**
 * Shared test helpers: temporary folders, running the ingot CLI and the real peer tools, and
 * a bit-for-bit description of a directory tree for comparisons.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sys } from '../src/platform/sys.js';

/** The package root (dist/test/helpers.js -> ../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const INGOT = path.join(ROOT, 'bin', 'ingot.js');

/**
 * The real Debian 12 archive as a compose manifest's `repos` (the mirror comes from this
 * machine's apt sources: `mirror: debian`; signatures checked with Debian's keyring), and amd64.
 */
export const DEBIAN_BOOKWORM_REPOS = `repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [bookworm]
    components: [main]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
arch: amd64
`;

/** A fresh temporary folder under $INGOT_TEST_TMP (or the OS temp dir), removed by `cleanup`. */
export function tmpdir(prefix = 'ingot-test-'): string {
  const base = process.env['INGOT_TEST_TMP'] ?? os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, prefix));
}

export function cleanup(dir: string): void {
  spawnSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

function result(r: SpawnSyncReturns<string>): RunResult {
  if (r.error) throw r.error;
  return { status: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout, stderr: r.stderr };
}

/** Runs `ingot ARGS`; never throws on a non-zero exit. */
export function ingot(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): RunResult {
  return result(
    spawnSync(process.execPath, [INGOT, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...opts.env },
      input: opts.input,
      cwd: opts.cwd,
      maxBuffer: 256 * 1024 * 1024,
    }),
  );
}

/** Runs `ingot ARGS` and fails the test with its stderr when it exits non-zero. */
export function ingotOk(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  const r = ingot(args, opts);
  if (r.status !== 0) throw new Error(`ingot ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Runs any tool; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): RunResult {
  return result(
    spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, cwd: opts.cwd, input: opts.input, maxBuffer: 256 * 1024 * 1024 }),
  );
}

export function runOk(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function ostree(repo: string, args: string[]): RunResult {
  return run('ostree', [`--repo=${repo}`, ...args]);
}

export function ostreeOk(repo: string, args: string[]): string {
  return runOk('ostree', [`--repo=${repo}`, ...args]);
}

export interface TreeEntry {
  type: 'dir' | 'file' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  target?: string;
  xattrs: Record<string, string>;
}

/**
 * Describes every entry under `root` (relative path -> type, permission bits, owner, size,
 * content hash, symlink target, xattrs). `ignoreXattrs` drops named xattrs (e.g. user.ostreemeta).
 */
export function describeTree(root: string, opts: { ignoreXattrs?: string[]; owners?: boolean } = {}): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const ignore = new Set(opts.ignoreXattrs ?? []);
  const walk = (abs: string, rel: string): void => {
    const st = fs.lstatSync(abs);
    const xattrs: Record<string, string> = {};
    for (const n of sys().llistxattr(abs)) {
      if (ignore.has(n)) continue;
      xattrs[n] = (sys().lgetxattr(abs, n) ?? Buffer.alloc(0)).toString('hex');
    }
    const e: TreeEntry = {
      type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other',
      mode: st.mode & 0o7777,
      uid: opts.owners === false ? 0 : st.uid,
      gid: opts.owners === false ? 0 : st.gid,
      size: st.isFile() ? st.size : 0,
      xattrs,
    };
    if (st.isFile()) e.sha256 = hashFile(abs);
    if (st.isSymbolicLink()) {
      e.target = fs.readlinkSync(abs, 'utf8');
      e.mode = 0o777;
    }
    out.set(rel || '/', e);
    if (st.isDirectory()) {
      for (const n of fs.readdirSync(abs).sort()) walk(path.join(abs, n), `${rel}/${n}`);
    }
  };
  walk(root, '');
  return out;
}

export function hashFile(p: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Lists differences between two tree descriptions (empty when identical). */
export function treeDiff(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>, limit = 20): string[] {
  const diffs: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) diffs.push(`only in first: ${k}`);
    else if (JSON.stringify(v) !== JSON.stringify(w)) diffs.push(`differs: ${k}: ${JSON.stringify(v)} vs ${JSON.stringify(w)}`);
    if (diffs.length >= limit) return diffs;
  }
  for (const k of b.keys()) {
    if (!a.has(k)) diffs.push(`only in second: ${k}`);
    if (diffs.length >= limit) break;
  }
  return diffs;
}

/** Parses the 64-hex checksum from the first line of `ingot repo commit` output. */
export function firstChecksum(s: string): string {
  const m = /[0-9a-f]{64}/.exec(s);
  if (!m) throw new Error(`no checksum in: ${s}`);
  return m[0];
}

/** A small deterministic PRNG (mulberry32): the same sequence for a seed, so a failing random run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
