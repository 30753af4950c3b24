/** Small helpers shared by CLI commands: option parsing, action wrapping. */
import type { Command } from 'commander';
import { IngotError } from '../core/errors.js';
import { Repo } from '../repo/repo.js';
import { renderResult, type Rendered } from './output.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseIntOption(name: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) {
      throw new IngotError('INVALID_ARGUMENT', `${name} must be an integer, got '${v}'`);
    }
    return Number(v);
  };
}

/** `@SECONDS` or an ISO 8601 / RFC 2822 date, as ostree's --timestamp accepts. */
export function parseTimestamp(v: string, what = '--timestamp'): bigint {
  const t = v.trim();
  if (/^@-?\d+$/.test(t)) return BigInt(t.slice(1));
  if (/^\d+$/.test(t)) return BigInt(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) {
    throw new IngotError('INVALID_ARGUMENT', `${what}: cannot parse '${v}' as a date`, {
      hint: "give '@SECONDS-SINCE-EPOCH' or an ISO 8601 date like 2026-11-26T12:00:00Z",
    });
  }
  return BigInt(Math.floor(ms / 1000));
}

export function splitKeyValue(s: string, what: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) {
    throw new IngotError('INVALID_ARGUMENT', `${what}: expected KEY=VALUE, got '${s}'`);
  }
  return [s.slice(0, i), s.slice(i + 1)];
}

export function openRepo(opts: { repo?: string }): Repo {
  const p = opts.repo ?? process.env['INGOT_REPO'];
  if (!p) {
    throw new IngotError('USAGE', 'no repository given', { hint: 'pass --repo DIR (or set INGOT_REPO)' });
  }
  return Repo.open(p);
}

export function addRepoOption(cmd: Command): Command {
  return cmd.option('--repo <dir>', 'repository path (default: $INGOT_REPO)');
}

export function jsonWanted(cmd: Command): boolean {
  return !!(cmd.optsWithGlobals() as { json?: boolean }).json;
}

/** Wraps a command action: renders its result for people or as JSON. */
export function action<A extends unknown[], T>(fn: (...args: A) => Promise<Rendered<T> | void> | Rendered<T> | void) {
  return async (...args: unknown[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const r = await fn(...(args as A));
    if (!r) return;
    process.stdout.write(renderResult(r, jsonWanted(cmd)));
    if (r.exitCode) process.exitCode = r.exitCode;
  };
}

export function fmtMode(mode: number): string {
  return mode.toString(8).padStart(6, '0');
}

export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
