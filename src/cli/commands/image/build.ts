/** `ingot image build --repo DIR REF --output IMAGE`: an OCI image from a composed commit. */
import type { Command } from 'commander';
import { buildImage } from '../../../oci/build.js';
import { action, openRepo } from '../../util.js';
import { addBuildOptions, compressionOf, renderBuild, sbomOf, settingsOf, type BuildCliOpts } from './options.js';

interface Opts extends BuildCliOpts {
  repo?: string;
  output: string;
}

export function register(image: Command): void {
  addBuildOptions(
    image
      .command('build')
      .description('build an OCI image from a composed commit, one layer per package group')
      .argument('<ref>', 'the commit (ref or checksum)')
      .option('--repo <dir>', 'the repository holding the commit (default: $INGOT_REPO)')
      .requiredOption('--output <image>', 'where to write: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker://HOST/NAME[:TAG]'),
  ).action(
    action(async (ref: string, opts: Opts) => {
      const repo = openRepo(opts);
      const sbom = await sbomOf(opts, repo.path, repo.resolveRev(ref), opts.output);
      const res = await buildImage({
        sbom,
        repo,
        rev: ref,
        output: opts.output,
        previous: opts.previous ?? null,
        base: opts.base ?? null,
        ...(opts.maxLayers !== undefined && { maxLayers: opts.maxLayers }),
        compression: compressionOf(opts.compression),
        ...(opts.level !== undefined && { level: opts.level }),
        bootable: !!opts.bootable,
        settings: settingsOf(opts),
        ...(opts.cacheDir !== undefined && { cacheDir: opts.cacheDir }),
        ...(opts.jobs !== undefined && { jobs: opts.jobs }),
        log: (l) => {
          if (process.stderr.isTTY) process.stderr.write(`${l}\n`);
        },
      });
      return { data: res, text: renderBuild };
    }),
  );
}
