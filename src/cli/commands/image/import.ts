/** `ingot image import IMAGE --repo DIR --branch REF`: a bootable image back into a commit. */
import type { Command } from 'commander';
import { importImage } from '../../../oci/import.js';
import { action, openRepo } from '../../util.js';

export function register(image: Command): void {
  image
    .command('import')
    .description('import the commit encapsulated in a bootable image into a repository')
    .argument('<image>', 'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://HOST/NAME[:TAG]')
    .option('--repo <dir>', 'the repository to import into (default: $INGOT_REPO)')
    .requiredOption('--branch <ref>', 'the ref to point at the imported commit')
    .option('--tls-verify <bool>', 'for docker:// references: verify TLS certificates (true or false)', 'true')
    .action(
      action(async (ref: string, opts: { repo?: string; branch: string; tlsVerify?: string }) => {
        const repo = openRepo(opts);
        const r = await importImage({
          repo,
          image: ref,
          branch: opts.branch,
          registry: { tlsVerify: opts.tlsVerify !== 'false' },
          log: (l) => {
            if (process.stderr.isTTY) process.stderr.write(`${l}\n`);
          },
        });
        return { data: r, text: (d) => `${d.commit}\n${d.branch}: imported from ${d.layers} layers (${d.objects} objects)\n` };
      }),
    );
}
