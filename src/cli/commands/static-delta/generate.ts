/** `ingot static-delta generate`: write a static delta in ostree's format. */
import type { Command } from 'commander';
import { generateStaticDelta } from '../../../transport/delta.js';
import { action, addRepoOption, humanBytes, openRepo, parseIntOption } from '../../util.js';

interface Opts {
  repo?: string;
  to: string;
  from?: string;
  inline?: boolean;
  maxChunkSize?: number;
  minFallbackSize?: number;
}

export function register(group: Command): void {
  addRepoOption(group.command('generate'))
    .description('generate a static delta to --to (from --from, or from scratch); updates the delta index and the summary')
    .requiredOption('--to <rev>', 'target commit or ref')
    .option('--from <rev>', 'source commit or ref (default: a delta from scratch)')
    .option('--inline', 'carry the parts inside the superblock (a single file)')
    .option('--max-chunk-size <mb>', 'largest uncompressed part, in MB (default 32)', parseIntOption('--max-chunk-size'))
    .option('--min-fallback-size <mb>', 'files larger than this many MB are fetched as plain objects (default 4; 0 = never)', parseIntOption('--min-fallback-size'))
    .action(
      action(async (opts: Opts) => {
        const repo = openRepo(opts);
        const r = await generateStaticDelta(repo, opts.to, {
          ...(opts.from !== undefined && { from: opts.from }),
          ...(opts.inline && { inline: true }),
          ...(opts.maxChunkSize !== undefined && { maxChunkSize: opts.maxChunkSize * 1000 * 1000 }),
          ...(opts.minFallbackSize !== undefined && { minFallbackSize: opts.minFallbackSize * 1000 * 1000 }),
        });
        return {
          data: r,
          text: (d) =>
            `generated static delta ${d.name}\n  ${d.parts.length} part(s), ${d.parts.reduce((a, p) => a + p.objects, 0)} objects, ` +
            `${d.fallbacks} fallback(s), ${humanBytes(d.totalSize)} in ${d.dir}`,
        };
      }),
    );
}
