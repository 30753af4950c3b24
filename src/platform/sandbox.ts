/**
 * Running a program inside a tree with bubblewrap: the tree as `/`, fresh /proc, /dev and /tmp,
 * no network, new IPC, PID, UTS and cgroup namespaces, the process killed with its parent. Package scripts
 * and postprocess scripts run this way, so they see only the tree they configure.
 */
import { spawn } from 'node:child_process';
import { IngotError } from '../core/errors.js';

export interface SandboxResult {
  status: number;
  signal: NodeJS.Signals | null;
  /** Combined stdout and stderr, the last `tailBytes` bytes. */
  output: string;
}

export interface SandboxOptions {
  env?: Record<string, string>;
  /** Bytes of output kept for error messages (default 64 KiB). */
  tailBytes?: number;
  /** Standard input for the program. */
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

const BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LC_ALL: 'C.UTF-8',
  DEBIAN_FRONTEND: 'noninteractive',
  DEBCONF_NONINTERACTIVE_SEEN: 'true',
};

export function runInSandbox(root: string, argv: string[], opts: SandboxOptions = {}): Promise<SandboxResult> {
  const env = { ...BASE_ENV, ...(process.env['SOURCE_DATE_EPOCH'] && { SOURCE_DATE_EPOCH: process.env['SOURCE_DATE_EPOCH'] }), ...opts.env };
  // Every namespace but the user namespace is new: package scripts chown files to the
  // system's users and groups, which a user namespace that maps only root would refuse.
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const args = [
    ...(isRoot ? ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try'] : ['--unshare-all']),
    '--die-with-parent',
    '--bind',
    root,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--clearenv',
    ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
    '--chdir',
    opts.cwd ?? '/',
    '--',
    ...argv,
  ];
  const tail = opts.tailBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn('bwrap', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = Buffer.alloc(0);
    const keep = (c: Buffer): void => {
      out = Buffer.concat([out, c]);
      if (out.length > tail * 2) out = out.subarray(out.length - tail);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(
        new IngotError('SANDBOX_FAILED', `cannot run bubblewrap: ${(e as Error).message}`, {
          hint: 'install bubblewrap (apt-get install bubblewrap); scripts run inside it',
          cause: e,
        }),
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const text = out.subarray(Math.max(0, out.length - tail)).toString('utf8');
      resolve({ status: code ?? 128, signal, output: text });
    });
    // EPIPE when the program exited without reading its input: its status tells what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
