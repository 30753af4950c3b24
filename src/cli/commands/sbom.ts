/** `ingot sbom TARGET --format spdx-json|cyclonedx-json [--output FILE]`: an SBOM of a target's packages. */
import type { Command } from 'commander';
import { IngotError } from '../../core/errors.js';
import { atomicWrite } from '../../platform/fs.js';
import { SBOM_FORMATS, sbomDocument, type SbomFormat } from '../../inventory/sbom.js';
import { VERSION } from '../../version.js';
import { resolveTarget } from '../targets.js';
import { action } from '../util.js';
import type { Rendered } from '../output.js';
import { addTargetRepoOption } from './inventory/common.js';

export function register(program: Command): void {
  addTargetRepoOption(program.command('sbom'))
    .description('write an SPDX 2.3 or CycloneDX 1.6 SBOM of a target (commit, deployment, image, directory)')
    .argument('<target>', 'REV (with --repo), a directory, deployment:SYSROOT[:INDEX], oci:…, oci-archive:…, docker-archive:…, docker://…')
    .requiredOption('--format <format>', `document format: ${SBOM_FORMATS.join(' or ')}`)
    .option('-o, --output <file>', 'write the document to FILE (atomically) instead of standard output')
    .action(
      action(async (target: string, opts: { format: string; output?: string; repo?: string }): Promise<Rendered<unknown>> => {
        if (!(SBOM_FORMATS as readonly string[]).includes(opts.format)) {
          throw new IngotError('INVALID_ARGUMENT', `--format must be one of ${SBOM_FORMATS.join(', ')}, got '${opts.format}'`);
        }
        const t = await resolveTarget(target, opts);
        const doc = sbomDocument(t, opts.format as SbomFormat, { toolVersion: VERSION });
        const text = JSON.stringify(doc, null, 2) + '\n';
        if (opts.output) {
          atomicWrite(opts.output, text);
          const summary = { output: opts.output, format: opts.format, target: t.identity, packages: t.inventory.packages.length };
          return { data: summary, text: () => `${summary.output}: ${summary.format} SBOM of ${summary.target.kind} ${summary.target.id} (${summary.packages} packages)` };
        }
        // The document is JSON either way; --json changes nothing.
        return { data: doc, text: () => text };
      }),
    );
}
