/** Container settings and build options shared by `image build` and `compose image`. */
import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import type { BuildImageOptions, ContainerSettings } from '../../../oci/build.js';
import { SBOM_FORMATS, sbomDocument, type SbomFormat } from '../../../inventory/sbom.js';
import { VERSION } from '../../../version.js';
import { resolveTarget } from '../../targets.js';
import type { LayerCompression } from '../../../oci/media.js';
import { collect, parseIntOption, splitKeyValue } from '../../util.js';

export interface BuildCliOpts {
  previous?: string;
  base?: string;
  maxLayers?: number;
  compression?: string;
  level?: number;
  bootable?: boolean;
  cacheDir?: string;
  jobs?: number;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  expose?: string[];
  volume?: string[];
  label?: string[];
  sbom?: string;
}

export function addBuildOptions(cmd: Command): Command {
  return cmd
    .option('--previous <image>', 'keep the layer grouping of this earlier image (and reuse its blobs)')
    .option('--base <image>', "put this ingot-built image's layers underneath; its packages are not repeated")
    .option('--max-layers <n>', 'at most this many layers in all (2-127)', parseIntOption('--max-layers'), 64)
    .option('--compression <kind>', 'layer compression: gzip or zstd', 'gzip')
    .option('--level <n>', 'compression level (default: gzip 6, zstd 3)', parseIntOption('--level'))
    .option('--bootable', 'also encapsulate the commit (ostree-native container), for image import')
    .option('--cache-dir <dir>', 'layer cache: layer key to compressed blob (default: ~/.cache/ingot/layers)')
    .option('--jobs <n>', 'worker threads that build layers (default: the number of CPUs)', parseIntOption('--jobs'))
    .option('--entrypoint <arg>', 'config Entrypoint (repeat for each argument)', collect)
    .option('--cmd <arg>', 'config Cmd (repeat for each argument)', collect)
    .option('--env <key=value>', 'config Env entry (repeatable)', collect)
    .option('--workdir <dir>', 'config WorkingDir')
    .option('--user <user>', 'config User')
    .option('--expose <port>', 'config ExposedPorts entry, PORT[/tcp|udp] (repeatable)', collect)
    .option('--volume <path>', 'config Volumes entry (repeatable)', collect)
    .option('--label <key=value>', 'config label (repeatable)', collect)
    .option('--sbom <format>', `attach an SBOM of the image's packages as an OCI artifact: ${SBOM_FORMATS.join(' or ')}`);
}

const SBOM_ARTIFACT: Record<SbomFormat, { artifactType: string; title: string }> = {
  'spdx-json': { artifactType: 'application/spdx+json', title: 'sbom.spdx.json' },
  'cyclonedx-json': { artifactType: 'application/vnd.cyclonedx+json', title: 'sbom.cdx.json' },
};

/** Rejects a bad `--sbom` before anything is composed or built. */
export function checkSbomOption(o: BuildCliOpts, output: string): void {
  if (o.sbom === undefined) return;
  if (!(SBOM_FORMATS as readonly string[]).includes(o.sbom)) {
    throw new IngotError('INVALID_ARGUMENT', `--sbom must be one of ${SBOM_FORMATS.join(', ')}, got '${o.sbom}'`, { hint: 'spdx-json writes SPDX 2.3, cyclonedx-json CycloneDX 1.6' });
  }
  if (output.startsWith('docker-archive:')) {
    throw new IngotError('INVALID_ARGUMENT', `--sbom cannot attach an SBOM to ${output}: the docker-archive format has no place for artifacts`, {
      hint: "write oci:, oci-archive: or docker:// instead, or write the document with 'ingot sbom IMAGE'",
    });
  }
}

/**
 * The `sbom` build option for `--sbom FORMAT`: the inventory of the commit (its metadata, else
 * its package database), described as the image (`identity` = the image manifest digest) with
 * the image's `created` time, so the same commit gives the same document.
 */
export async function sbomOf(o: BuildCliOpts, repo: string, commit: string, output: string): Promise<BuildImageOptions['sbom']> {
  if (o.sbom === undefined) return null;
  checkSbomOption(o, output);
  const format = o.sbom as SbomFormat;
  const t = await resolveTarget(commit, { repo });
  return {
    ...SBOM_ARTIFACT[format],
    document: ({ manifestDigest, created }) => {
      const doc = sbomDocument({ identity: { kind: 'image', name: output, id: manifestDigest }, inventory: t.inventory }, format, { toolVersion: VERSION, created: new Date(created) });
      return Buffer.from(JSON.stringify(doc, null, 2) + '\n');
    },
  };
}

export function compressionOf(v: string | undefined): LayerCompression {
  if (v === undefined || v === 'gzip') return 'gzip';
  if (v === 'zstd') return 'zstd';
  throw new IngotError('INVALID_ARGUMENT', `--compression must be gzip or zstd, got '${v}'`, { hint: 'gzip is read by every client; zstd needs newer ones (umoci 0.4 cannot)' });
}

/** Settings from options, over the manifest's (`base`); options win key by key. */
export function settingsOf(o: BuildCliOpts, base: ContainerSettings = {}): ContainerSettings {
  const s: ContainerSettings = { ...base };
  if (o.entrypoint) s.entrypoint = o.entrypoint;
  if (o.cmd) s.cmd = o.cmd;
  if (o.env) {
    for (const e of o.env) splitKeyValue(e, '--env');
    s.env = [...(base.env ?? []), ...o.env];
  }
  if (o.workdir !== undefined) s.workingDir = o.workdir;
  if (o.user !== undefined) s.user = o.user;
  if (o.expose) s.exposedPorts = [...(base.exposedPorts ?? []), ...o.expose];
  if (o.volume) s.volumes = [...(base.volumes ?? []), ...o.volume];
  if (o.label) s.labels = { ...(base.labels ?? {}), ...Object.fromEntries(o.label.map((l) => splitKeyValue(l, '--label'))) };
  if (s.env && !s.env.some((e) => e.startsWith('PATH='))) s.env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...s.env];
  return s;
}

export function renderBuild(d: { output: string; manifestDigest: string; layers: { origin: string; size: number }[]; packages: number; bytesBuilt: number; sbom?: { artifactType: string; manifestDigest: string } }): string {
  const built = d.layers.filter((l) => l.origin === 'built').length;
  const reused = d.layers.length - built;
  return `${d.manifestDigest}\n${d.output}: ${d.layers.length} layers (${built} built, ${reused} reused), ${d.packages} packages, ${d.bytesBuilt} bytes compressed now${d.sbom ? `\nsbom: ${d.sbom.artifactType} artifact ${d.sbom.manifestDigest}` : ''}`;
}
