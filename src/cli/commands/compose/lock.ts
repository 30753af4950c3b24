/**
 * `ingot compose lock MANIFEST`: resolve a manifest against its repositories and write the
 * exact package set (versions, architectures, repositories, digests) to a lockfile.
 */
import type { Command } from 'commander';
import * as path from 'node:path';
import { loadManifest } from '../../../compose/manifest.js';
import { loadManifestRepos, planFromManifest } from '../../../compose/plan.js';
import { createLockfile, defaultLockfilePath, serializeLockfile, writeLockfile } from '../../../compose/lockfile.js';
import { action, humanBytes } from '../../util.js';
import { defaultCacheDir } from '../resolve.js';

interface Opts {
  output?: string;
  cachedir?: string;
}

export function register(compose: Command): void {
  compose
    .command('lock')
    .description('resolve a manifest and write its exact package set to a lockfile')
    .argument('<manifest>', 'YAML or JSON compose manifest')
    .option('--output <file>', "where to write the lockfile ('-' for standard output; default: MANIFEST's name with .lock.json)")
    .option('--cachedir <dir>', 'cache for verified indexes and packages (default: $INGOT_CACHE_DIR or ~/.cache/ingot)')
    .action(
      action(async (manifestPath: string, opts: Opts) => {
        const lm = loadManifest(manifestPath);
        const { specs, repos } = await loadManifestRepos(lm, { cacheDir: opts.cachedir ?? defaultCacheDir() });
        const plan = planFromManifest(lm, repos);
        const lock = createLockfile(plan, specs);
        const toStdout = opts.output === '-';
        const out = toStdout ? null : (opts.output ?? defaultLockfilePath(manifestPath));
        if (out !== null) writeLockfile(out, lock);
        const data = {
          lockfile: out === null ? null : path.resolve(out),
          family: plan.family,
          arch: plan.arch,
          count: plan.packages.length,
          downloadSize: plan.downloadSize,
          inputHash: plan.inputHash,
          packages: plan.packages.map((p) => ({ name: p.name, version: p.evr, arch: p.arch, repo: p.repo, size: p.size, digest: p.digest, reason: p.reason })),
        };
        if (toStdout) return { data: JSON.parse(serializeLockfile(lock)) as unknown, text: () => serializeLockfile(lock) };
        return {
          data,
          text: (): string =>
            data.packages.map((p) => `${p.name.padEnd(32)} ${p.version.padEnd(28)} ${p.arch.padEnd(8)} ${humanBytes(p.size).padStart(9)}  ${p.reason}`).join('\n') +
            `\n${data.count} packages, ${humanBytes(data.downloadSize)} to download\nwrote ${out}`,
        };
      }),
    );
}
