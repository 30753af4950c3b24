/**
 * `ingot compose tree MANIFEST --repo DIR`: compose the manifest's packages into a commit on
 * its ref. Debian packages are unpacked once into the package tree cache under --cachedir
 * (src/compose/pkgcache.ts) and linked into the build root from there; when only a few
 * packages changed since the ref's last compose, its configured root (kept in that cache) is
 * upgraded by the tree's own dpkg instead (src/compose/state.ts; --from-scratch: never). Exit status 0 both when a commit was made and when the inputs were unchanged (then
 * no commit is made and the output says so; `--json` has `"unchanged": true`).
 */
import type { Command } from 'commander';
import { composeTree } from '../../../compose/tree.js';
import { action, humanBytes, openRepo } from '../../util.js';
import { defaultCacheDir } from '../resolve.js';

interface Opts {
  repo?: string;
  cachedir?: string;
  lockfile?: string;
  force?: boolean;
  fromScratch?: boolean;
  keepRoot?: boolean;
}

export function register(compose: Command): void {
  compose
    .command('tree')
    .description('compose a manifest into an OSTree commit on its ref')
    .argument('<manifest>', 'YAML or JSON compose manifest')
    .option('--repo <dir>', 'the OSTree repository to commit into (default: $INGOT_REPO)')
    .option('--cachedir <dir>', 'cache for verified indexes, packages and their unpacked trees (default: $INGOT_CACHE_DIR or ~/.cache/ingot)')
    .option('--lockfile <file>', 'compose exactly the package set of this lockfile')
    .option('--force', 'commit even when the inputs equal those of the ref\'s current commit')
    .option('--from-scratch', 'compose the whole package set anew, never from the configured root of the ref\'s last compose (the reproducible result)')
    .option('--keep-root', 'keep the build root (for debugging)')
    .action(
      action(async (manifest: string, opts: Opts) => {
        const repo = openRepo(opts);
        const res = await composeTree(manifest, {
          repo: repo.path,
          cacheDir: opts.cachedir ?? defaultCacheDir(),
          ...(opts.lockfile !== undefined && { lockfile: opts.lockfile }),
          force: !!opts.force,
          fromScratch: !!opts.fromScratch,
          keepRoot: !!opts.keepRoot,
          log: (l) => {
            if (process.stderr.isTTY) process.stderr.write(`${l}\n`);
          },
        });
        return {
          data: res,
          text: (d) =>
            d.unchanged
              ? `${d.commit}\nunchanged: ${d.ref} already holds a commit of the same inputs (no commit made; --force to commit anyway)`
              : `${d.commit}\n${d.ref}${d.version ? ` ${d.version}` : ''}: ${d.packages} packages (${humanBytes(d.downloadSize)}), composed in ${d.seconds.toFixed(1)} s${
                  d.packageCache ? `; ${d.packageCache.imported} unpacked into the package cache, ${d.packageCache.cached} taken from it` : ''
                }${
                  d.incremental
                    ? `; incrementally from ${d.incremental.base.slice(0, 12)} (${d.incremental.added.length} added, ${d.incremental.changed.length} changed, ${d.incremental.removed.length} removed)`
                    : ''
                }`,
        };
      }),
    );
}
