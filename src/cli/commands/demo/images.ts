/**
 * The demo's images part: the second composed commit built into an OCI image at DIR/image
 * (one layer per package group), then a rebuild of the first commit with the second image as
 * `--previous` (only the layers of what differs are built), and the package versions of the
 * host commit and of the image compared through `ingot db diff`'s targets: the same.
 */
import * as path from 'node:path';
import type { DemoPart } from './context.js';
import { buildImage } from '../../../oci/build.js';
import { resolveTarget } from '../../targets.js';
import { diffTargets, dbDiffText } from '../db/diff.js';

export const imagesPart: DemoPart = async (ctx) => {
  const layout = path.join(ctx.dir, 'image');
  const cacheDir = path.join(ctx.dir, 'layer-cache');
  const ref = `oci:${layout}:os2`;
  const b = await buildImage({ repo: ctx.repo, rev: ctx.commits.os2, output: ref, cacheDir, jobs: 1, settings: { cmd: ['/bin/sh'] } });
  const groups = b.layers.filter((l) => l.kind === 'packages').map((l) => l.components.join('+'));
  ctx.step(`ingot image build ${ctx.commits.os2.slice(0, 12)} --output oci:image:os2: ${b.layers.length} layers (${groups.join(', ')}, then the files no package owns), manifest ${b.manifestDigest.slice(0, 19)}`);

  const again = await buildImage({ repo: ctx.repo, rev: ctx.commits.os1, output: `oci:${layout}:os1`, cacheDir, jobs: 1, previous: ref, settings: { cmd: ['/bin/sh'] } });
  const built = again.layers.filter((l) => l.origin === 'built');
  ctx.step(`ingot image build ${ctx.commits.os1.slice(0, 12)} --previous oci:image:os2: ${built.length} of ${again.layers.length} layers built (${built.map((l) => (l.kind === 'packages' ? l.components.join('+') : l.kind)).join(', ')}), the rest reused byte for byte`);

  const host = await resolveTarget(ctx.commits.os2, { repo: ctx.repo.path });
  const image = await resolveTarget(ref);
  const versions = (t: typeof host): string => t.inventory.packages.map((p) => `${p.name} ${p.version}${p.release ? `-${p.release}` : ''}`).join(', ');
  ctx.step(`the host commit carries ${versions(host)}; the image carries ${versions(image)}; ingot db diff ${ctx.commits.os2.slice(0, 12)} oci:image:os2:`);
  for (const l of dbDiffText(diffTargets(host, image)).split('\n')) ctx.out(`      ${l}`);
};
