/**
 * `ingot compose image MANIFEST --output IMAGE`: compose the manifest into a commit (in
 * `--repo`, or a scratch repository), then build its image with the manifest's `image:` settings.
 * As rpm-ostree's `compose image`, an existing image at the output is the previous build
 * (its layer grouping is kept) unless `--previous` names another one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { composeTree } from '../../../compose/tree.js';
import { loadManifest } from '../../../compose/manifest.js';
import { Repo } from '../../../repo/repo.js';
import { buildImage } from '../../../oci/build.js';
import { openImageSource } from '../../../oci/transports.js';
import { IngotError } from '../../../core/errors.js';
import { action } from '../../util.js';
import { defaultCacheDir } from '../resolve.js';
import { addBuildOptions, checkSbomOption, compressionOf, renderBuild, sbomOf, settingsOf, type BuildCliOpts } from '../image/options.js';

interface Opts extends BuildCliOpts {
  repo?: string;
  cachedir?: string;
  lockfile?: string;
  output: string;
}

async function imageExists(ref: string): Promise<boolean> {
  try {
    const s = await openImageSource(ref);
    try {
      await s.manifest();
      return true;
    } finally {
      await s.close();
    }
  } catch (e) {
    if (e instanceof IngotError && (e.code === 'IMAGE_NOT_FOUND' || e.code.endsWith('NOT_FOUND'))) return false;
    throw e;
  }
}

export function register(compose: Command): void {
  addBuildOptions(
    compose
      .command('image')
      .description('compose a manifest and build its OCI image in one step')
      .argument('<manifest>', 'YAML or JSON compose manifest (its image: section sets the container config)')
      .requiredOption('--output <image>', 'where to write: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker://HOST/NAME[:TAG]')
      .option('--repo <dir>', 'repository for the commit (default: $INGOT_REPO, else a scratch repository removed afterwards)')
      .option('--cachedir <dir>', 'cache for verified indexes and packages (default: $INGOT_CACHE_DIR or ~/.cache/ingot)')
      .option('--lockfile <file>', 'compose exactly the package set of this lockfile'),
  ).action(
    action(async (manifest: string, opts: Opts) => {
      checkSbomOption(opts, opts.output);
      const lm = loadManifest(manifest);
      const repoPath = opts.repo ?? process.env['INGOT_REPO'];
      let scratch: string | null = null;
      let repo: Repo;
      if (repoPath) repo = Repo.open(repoPath);
      else {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ingot-compose-image-'));
        repo = Repo.init(path.join(scratch, 'repo'), 'archive');
      }
      try {
        const log = (l: string): void => {
          if (process.stderr.isTTY) process.stderr.write(`${l}\n`);
        };
        const tree = await composeTree(manifest, { repo: repo.path, cacheDir: opts.cachedir ?? defaultCacheDir(), ...(opts.lockfile !== undefined && { lockfile: opts.lockfile }), log });
        const previous = opts.previous ?? ((await imageExists(opts.output)) ? opts.output : null);
        const sbom = await sbomOf(opts, repo.path, tree.commit, opts.output);
        const res = await buildImage({
          sbom,
          repo,
          rev: tree.commit,
          output: opts.output,
          previous,
          base: opts.base ?? null,
          ...(opts.maxLayers !== undefined && { maxLayers: opts.maxLayers }),
          compression: compressionOf(opts.compression),
          ...(opts.level !== undefined && { level: opts.level }),
          bootable: !!opts.bootable,
          settings: settingsOf(opts, lm.manifest.image),
          ...(opts.cacheDir !== undefined && { cacheDir: opts.cacheDir }),
          ...(opts.jobs !== undefined && { jobs: opts.jobs }),
          log,
        });
        return { data: { ...res, ref: tree.ref, previous }, text: renderBuild };
      } finally {
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
      }
    }),
  );
}
