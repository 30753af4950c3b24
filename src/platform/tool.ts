/**
 * Running a tool of the host (outside any sandbox), for the few places that use one on
 * purpose: `ingot demo` builds its sample packages with dpkg-deb. Output is captured; a tool
 * that is not installed is a PATH_NOT_FOUND error naming it.
 */
import { spawnSync } from 'node:child_process';
import { IngotError } from '../core/errors.js';

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runTool(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; hint?: string } = {}): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new IngotError('PATH_NOT_FOUND', `'${cmd}' is not installed`, { hint: opts.hint ?? `install the package that provides ${cmd}`, data: { path: cmd } });
    }
    throw new IngotError('IO_ERROR', `cannot run ${cmd}: ${r.error.message}`, { cause: r.error });
  }
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a tool and fails with its output when it exits non-zero. */
export function runToolOk(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; hint?: string } = {}): string {
  const r = runTool(cmd, args, opts);
  if (r.status !== 0) {
    throw new IngotError('IO_ERROR', `${cmd} ${args.join(' ')} exited with status ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`, {
      data: { status: r.status },
    });
  }
  return r.stdout;
}
