/**
 * The `ingot` command line. This file owns the one mapping from errors to exit statuses:
 * an IngotError exits with its code's status (docs/errors.md), a usage error with 2, and
 * anything else is a bug: INTERNAL, status 70, with the stack only when INGOT_DEBUG is set.
 */
import { Command, CommanderError } from 'commander';
import { IngotError } from '../core/errors.js';
import { renderError } from './output.js';
import { register as repoInit } from './commands/repo/init.js';
import { register as repoCommit } from './commands/repo/commit.js';
import { register as repoCheckout } from './commands/repo/checkout.js';
import { register as repoLs } from './commands/repo/ls.js';
import { register as repoCat } from './commands/repo/cat.js';
import { register as repoLog } from './commands/repo/log.js';
import { register as repoShow } from './commands/repo/show.js';
import { register as repoRefs } from './commands/repo/refs.js';
import { register as repoRevParse } from './commands/repo/rev-parse.js';
import { register as repoDiff } from './commands/repo/diff.js';
import { register as repoSummary } from './commands/repo/summary.js';
import { register as repoFsck } from './commands/repo/fsck.js';
import { register as repoPrune } from './commands/repo/prune.js';
import { register as demo } from './commands/demo.js';
import { register as pkgVercmp } from './commands/pkg/vercmp.js';
import { register as pkgInfo } from './commands/pkg/info.js';
import { register as pkgContents } from './commands/pkg/contents.js';
import { VERSION } from '../version.js';

export function buildProgram(opts: { json?: boolean } = {}): Command {
  const program = new Command('ingot')
    .description('Compose RPM and Debian packages into OSTree commits and OCI images')
    .version(VERSION)
    .option('--json', 'print results as JSON')
    .showHelpAfterError()
    .exitOverride()
    // With --json, usage errors are reported as one JSON object (by main), nothing else.
    .configureOutput({ writeErr: (s) => (opts.json ? undefined : process.stderr.write(s)) });
  const repo = program.command('repo').description('an OSTree-compatible repository');
  for (const r of [repoInit, repoCommit, repoCheckout, repoLs, repoCat, repoLog, repoShow, repoRefs, repoRevParse, repoDiff, repoSummary, repoFsck, repoPrune]) {
    r(repo);
  }
  // Package verbs (RPM and Debian): add each `register` of src/cli/commands/pkg/*.ts here.
  const pkg = program.command('pkg').description('RPM and Debian packages: compare versions, inspect packages');
  for (const r of [pkgVercmp, pkgInfo, pkgContents]) {
    r(pkg);
  }
  demo(program);
  const exit = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(exit);
  };
  exit(program);
  return program;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

/** A system error (errno code) that reached the top: an I/O failure, not a bug. */
function systemError(e: unknown): IngotError | null {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return null;
  const p = (e as { path?: unknown }).path;
  return new IngotError('IO_ERROR', `${(e as Error).message}`, {
    hint: code === 'ENOSPC' ? 'free some disk space and retry' : 'see the message for the failing operation and path',
    data: { errno: code, ...(typeof p === 'string' ? { path: p } : {}) },
  });
}

export async function main(argv: string[] = process.argv): Promise<number> {
  // Output piped into a program that stops reading (| head) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const program = buildProgram({ json: wantsJson(argv) });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const json = wantsJson(argv);
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (json) process.stderr.write(renderError(new IngotError('USAGE', e.message.replace(/^error: /, '')), true));
      return 2;
    }
    if (e instanceof IngotError) {
      process.stderr.write(renderError(e, json));
      if (process.env['INGOT_DEBUG'] && e.stack) process.stderr.write(e.stack + '\n');
      return e.exitCode;
    }
    const sysErr = systemError(e);
    if (sysErr) {
      process.stderr.write(renderError(sysErr, json));
      return sysErr.exitCode;
    }
    const err = new IngotError('INTERNAL', `unexpected error: ${(e as Error)?.message ?? String(e)}`, {
      hint: 'this is a bug in ingot; rerun with INGOT_DEBUG=1 for a stack trace and report it',
    });
    process.stderr.write(renderError(err, json));
    if (process.env['INGOT_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return err.exitCode;
  }
}
