/** `ingot image inspect IMAGE`: manifest digest, platform, config, labels and layers of an image. */
import type { Command } from 'commander';
import { inspectImage } from '../../../oci/inspect.js';
import { action } from '../../util.js';

export function register(image: Command): void {
  image
    .command('inspect')
    .description('show an image: digest, platform, config, labels, layers')
    .argument('<image>', 'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://HOST/NAME[:TAG]')
    .option('--tls-verify <bool>', 'for docker:// references: verify TLS certificates (true or false)', 'true')
    .action(
      action(async (ref: string, opts: { tlsVerify?: string }) => {
        const r = await inspectImage(ref, { registry: { tlsVerify: opts.tlsVerify !== 'false' } });
        return {
          data: r,
          text: (d) =>
            [
              `Digest: ${d.digest}`,
              `MediaType: ${d.mediaType}`,
              `Platform: ${d.os}/${d.architecture}`,
              `Created: ${d.created ?? '-'}`,
              `Config: ${d.configDigest}`,
              ...(d.packages !== null ? [`Packages: ${d.packages}`] : []),
              `Env: ${d.env.join(' ')}`,
              ...(d.entrypoint ? [`Entrypoint: ${JSON.stringify(d.entrypoint)}`] : []),
              ...(d.cmd ? [`Cmd: ${JSON.stringify(d.cmd)}`] : []),
              'Labels:',
              ...Object.entries(d.labels)
                .filter(([k]) => k !== 'ingot.packages')
                .map(([k, v]) => `  ${k}=${v}`),
              `Layers (${d.layers.length}):`,
              ...d.layers.map((l) => `  ${l.digest} ${l.size} ${l.annotations?.['ingot.components'] ?? l.annotations?.['ingot.layer'] ?? ''}`),
            ].join('\n') + '\n',
        };
      }),
    );
}
