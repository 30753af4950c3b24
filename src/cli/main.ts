/**
 * The `ingot` command line. This file owns the one mapping from errors to exit statuses:
 * an IngotError exits with its code's status (docs/errors.md), a usage error with 2, and
 * anything else is a bug: INTERNAL, status 70, with the stack only when INGOT_DEBUG is set.
 */
import { Command, CommanderError } from 'commander';
import { IngotError } from '../core/errors.js';
import { renderError } from './output.js';
import { VERSION } from '../version.js';

type Registrar = (parent: Command) => void;

/**
 * The repo group's verbs, each loadable alone: `ingot repo checkout` registers (and, bundled,
 * initialises) only its own command, a measurable part of a short command's start-up.
 */
const REPO_VERBS: Record<string, () => Promise<{ register: Registrar }>> = {
  init: () => import('./commands/repo/init.js'),
  commit: () => import('./commands/repo/commit.js'),
  checkout: () => import('./commands/repo/checkout.js'),
  ls: () => import('./commands/repo/ls.js'),
  cat: () => import('./commands/repo/cat.js'),
  log: () => import('./commands/repo/log.js'),
  show: () => import('./commands/repo/show.js'),
  refs: () => import('./commands/repo/refs.js'),
  'rev-parse': () => import('./commands/repo/rev-parse.js'),
  diff: () => import('./commands/repo/diff.js'),
  summary: () => import('./commands/repo/summary.js'),
  fsck: () => import('./commands/repo/fsck.js'),
  prune: () => import('./commands/repo/prune.js'),
};

/**
 * Command groups, each loaded on demand: starting `ingot repo ...` must not pay for loading the
 * package readers, OpenPGP and compression libraries that only `pkg`, `resolve` or `compose` use.
 * A group with `verbs` can also load one verb alone (when the command line names it).
 */
const GROUPS: { name: string; description?: string; load: () => Promise<Registrar[]>; verbs?: typeof REPO_VERBS }[] = [
  {
    name: 'repo',
    description: 'an OSTree-compatible repository',
    verbs: REPO_VERBS,
    load: async () => Promise.all(Object.values(REPO_VERBS).map((f) => f())).then((m) => m.map((x) => x.register)),
  },
  {
    name: 'pkg',
    description: 'RPM and Debian packages: compare versions, inspect packages',
    load: async () =>
      Promise.all([import('./commands/pkg/vercmp.js'), import('./commands/pkg/info.js'), import('./commands/pkg/contents.js')]).then((m) =>
        m.map((x) => x.register),
      ),
  },
  // Top-level verbs (no group).
  { name: 'resolve', load: async () => [(await import('./commands/resolve.js')).register] },
  {
    name: 'compose',
    description: 'compose packages into OSTree commits from a manifest',
    // `tree` (the apply step) registers here too.
    load: async () => Promise.all([import('./commands/compose/lock.js'), import('./commands/compose/tree.js'), import('./commands/compose/image.js')]).then((m) => m.map((x) => x.register)),
  },
  {
    name: 'db',
    description: 'the package inventory of commits, deployments, images and directories: list, diff',
    load: async () => Promise.all([import('./commands/db/list.js'), import('./commands/db/diff.js')]).then((m) => m.map((x) => x.register)),
  },
  // delivery (issue 5): top-level serve, keygen, sign, pull, groups remote and static-delta go here.
  {
    name: 'remote',
    description: 'remotes of the repository: add, list, delete',
    load: async () =>
      Promise.all([import('./commands/remote/add.js'), import('./commands/remote/list.js'), import('./commands/remote/delete.js')]).then((m) =>
        m.map((x) => x.register),
      ),
  },
  { name: 'pull', load: async () => [(await import('./commands/pull.js')).register] },
  { name: 'serve', load: async () => [(await import('./commands/serve.js')).register] },
  { name: 'keygen', load: async () => [(await import('./commands/keygen.js')).register] },
  { name: 'sign', load: async () => [(await import('./commands/sign.js')).register] },
  {
    name: 'static-delta',
    description: 'static deltas in ostree format: generate, list',
    load: async () =>
      Promise.all([import('./commands/static-delta/generate.js'), import('./commands/static-delta/list.js')]).then((m) => m.map((x) => x.register)),
  },
  // hosts (issue 6): the admin group goes here.
  {
    name: 'admin',
    description: 'hosts: deploy, upgrade and roll back commits in an OSTree-compatible sysroot',
    load: async () =>
      Promise.all([
        import('./commands/admin/init-fs.js'),
        import('./commands/admin/os-init.js'),
        import('./commands/admin/deploy.js'),
        import('./commands/admin/upgrade.js'),
        import('./commands/admin/rollback.js'),
        import('./commands/admin/status.js'),
        import('./commands/admin/pin.js'),
        import('./commands/admin/undeploy.js'),
        import('./commands/admin/cleanup.js'),
        import('./commands/admin/config-diff.js'),
        import('./commands/admin/kargs.js'),
      ]).then((m) => m.map((x) => x.register)),
  },
  // images (issue 7): the image group goes here (compose image registers in the compose group above).
  {
    name: 'image',
    description: 'OCI images: build, copy between registries, layouts and archives, inspect, import',
    // The builder's verbs (build, inspect, pull, import) join copy in this list.
    load: async () =>
      Promise.all([
        import('./commands/image/build.js'),
        import('./commands/image/copy.js'),
        import('./commands/image/inspect.js'),
        import('./commands/image/import.js'),
      ]).then((m) => m.map((x) => x.register)),
  },
  // inventory (issue 8): sbom, scan, and the advisories and index groups go here.
  { name: 'sbom', load: async () => [(await import('./commands/sbom.js')).register] },
  { name: 'scan', load: async () => [(await import('./commands/scan.js')).register] },
  {
    name: 'advisories',
    description: 'the local advisory database: OSV, Debian security tracker, updateinfo',
    load: async () => Promise.all([import('./commands/advisories/sync.js'), import('./commands/advisories/list.js')]).then((m) => m.map((x) => x.register)),
  },
  {
    name: 'index',
    description: 'the fleet index: inventories of many targets, queried by package version or CVE',
    load: async () =>
      Promise.all([import('./commands/index/add.js'), import('./commands/index/list.js'), import('./commands/index/query.js'), import('./commands/index/affected.js')]).then((m) =>
        m.map((x) => x.register),
      ),
  },
  { name: 'demo', load: async () => [(await import('./commands/demo.js')).register] },
];

/**
 * Builds the command tree. With `only`, just that group (or top-level verb) is loaded; unknown
 * or absent names load everything (help, completion, the docs test).
 */
export async function buildProgram(opts: { json?: boolean; only?: string; verb?: string } = {}): Promise<Command> {
  const program = new Command('ingot')
    .description('Compose RPM and Debian packages into OSTree commits and OCI images')
    .version(VERSION)
    .option('--json', 'print results as JSON')
    .showHelpAfterError()
    .exitOverride()
    // With --json, usage errors are reported as one JSON object (by main), nothing else.
    .configureOutput({ writeErr: (s) => (opts.json ? undefined : process.stderr.write(s)) });
  const selected = GROUPS.some((g) => g.name === opts.only) ? GROUPS.filter((g) => g.name === opts.only) : GROUPS;
  for (const g of GROUPS) {
    const one = selected.length === 1 && opts.verb !== undefined && g.verbs && Object.hasOwn(g.verbs, opts.verb) ? g.verbs[opts.verb]! : null;
    const registrars = !selected.includes(g) ? null : one ? [(await one()).register] : await g.load();
    if (g.description === undefined) {
      if (registrars) registrars.forEach((r) => r(program));
      continue;
    }
    const group = program.command(g.name).description(g.description);
    registrars?.forEach((r) => r(group));
  }
  const exit = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(exit);
  };
  exit(program);
  return program;
}

/** The first non-option argument: the command group being run. */
function groupOf(argv: string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/** The non-option argument after the group: the verb, if the group has verbs. */
function verbOf(argv: string[]): string | undefined {
  return argv.slice(2).filter((a) => !a.startsWith('-'))[1];
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
  // `ingot --version` alone needs no command group: print it as commander would, loading none.
  const rest = argv.slice(2);
  if (rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const only = groupOf(argv);
  const verb = verbOf(argv);
  const program = await buildProgram({ json: wantsJson(argv), ...(only !== undefined && { only }), ...(verb !== undefined && { verb }) });
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
