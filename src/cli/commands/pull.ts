import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pull, type PullProgress, type PullResult } from '../../transport/pull.js';
import type { Rendered } from '../output.js';
import { action, addRepoOption, collect, humanBytes, openRepo, parseIntOption } from '../util.js';

/** A bar on a terminal (stderr): objects, bytes, rate, ETA. Nothing when stderr is not a TTY. */
function progressBar(): { update(p: PullProgress): void; stop(): void } {
  if (!process.stderr.isTTY || process.env['INGOT_NO_PROGRESS']) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: 'pulling [{bar}] {percentage}% {objects} objects {bytes} {rate} ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  let started = false;
  return {
    update(p) {
      const byBytes = p.bytesTotal !== null && p.bytesTotal > 0;
      const total = byBytes ? p.bytesTotal! : Math.max(p.objectsTotal, 1);
      const value = byBytes ? Math.min(p.bytes, total) : p.objects;
      const secs = (Date.now() - start) / 1000;
      const payload = {
        objects: `${p.objects}/${p.objectsTotal || '?'}`,
        bytes: byBytes ? `${humanBytes(p.bytes)}/${humanBytes(p.bytesTotal!)}` : humanBytes(p.bytes),
        rate: secs > 0 ? `${humanBytes(Math.round(p.bytes / secs))}/s` : '',
      };
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function summaryText(d: PullResult & { seconds: number }): string {
  const lines: string[] = [];
  for (const r of d.refs) {
    const name = `${d.remote}:${r.ref}`;
    if (r.dryRun) {
      const bytes = r.dryRun.bytes === null ? 'size unknown (the commit has no ostree.sizes)' : humanBytes(r.dryRun.bytes);
      const types = Object.entries(r.dryRun.byType)
        .map(([t, n]) => `${n} ${t}`)
        .join(', ');
      lines.push(`${name}: commit ${r.commit} would fetch ${r.dryRun.objects} objects${types ? ` (${types})` : ''}, ${bytes}`);
      continue;
    }
    if (r.upToDate) {
      lines.push(`${name}: already at ${r.commit}`);
      continue;
    }
    const delta = r.delta ? (r.delta.abandoned ? `; delta ${r.delta.name} abandoned (${r.delta.abandoned})` : `; ${r.delta.objects} objects from static delta`) : '';
    const signed = r.signedBy ? `; signature by ${r.signedBy} verified` : '';
    const from = r.previous && r.previous !== r.commit ? ` (was ${r.previous.slice(0, 12)})` : '';
    lines.push(`${name}: ${r.commit}${from}${signed}${delta}`);
  }
  if (!d.refs.every((r) => r.dryRun || r.upToDate)) {
    const rate = d.seconds > 0 ? `, ${humanBytes(Math.round(d.bytes / d.seconds))}/s` : '';
    lines.push(`fetched ${d.objects} objects, ${humanBytes(d.bytes)} in ${d.seconds.toFixed(1)} s${rate} (${d.requests} requests, ${d.retries} retries)`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  addRepoOption(program.command('pull'))
    .description('fetch commits from a remote archive repository (verifying signatures and every object)')
    .argument('<remote>', 'remote name (see ingot remote add)')
    .argument('<refs...>', 'refs (or commit checksums) to pull')
    .option('--depth <n>', 'also pull N parent commits (-1: the whole history)', parseIntOption('--depth'), 0)
    .option('--commit-metadata-only', 'fetch only the commit objects and their detached metadata')
    .option('--dry-run', 'print how many objects and bytes are missing; fetch and change nothing')
    .option('--allow-downgrade', 'accept a commit older than the one the local ref names')
    .option('--no-deltas', 'never use static deltas')
    .option('--concurrency <n>', 'requests in flight (default 64)', parseIntOption('--concurrency'))
    .option('--retries <n>', 'attempts per file for transient failures (default 5)', parseIntOption('--retries'))
    .option('--stall-timeout <seconds>', 'give up a request that receives nothing for this long (default 30)', parseIntOption('--stall-timeout'))
    .option('--revoked-keys-file <path>', 'public keys (base64, one a line) never to accept; repeatable', collect, [])
    .action(
      action(
        async (
          remote: string,
          refs: string[],
          opts: {
            repo?: string;
            depth: number;
            commitMetadataOnly?: boolean;
            dryRun?: boolean;
            allowDowngrade?: boolean;
            deltas: boolean;
            concurrency?: number;
            retries?: number;
            stallTimeout?: number;
            revokedKeysFile: string[];
          },
        ): Promise<Rendered<PullResult & { seconds: number }>> => {
          const repo = openRepo(opts);
          const bar = progressBar();
          const start = Date.now();
          let res: PullResult;
          try {
            res = await pull(repo, remote, refs, {
              depth: opts.depth,
              commitMetadataOnly: !!opts.commitMetadataOnly,
              dryRun: !!opts.dryRun,
              allowDowngrade: !!opts.allowDowngrade,
              deltas: opts.deltas,
              revokedKeyFiles: opts.revokedKeysFile,
              ...(opts.concurrency !== undefined && { concurrency: Math.max(1, opts.concurrency) }),
              ...(opts.retries !== undefined && { retries: Math.max(1, opts.retries) }),
              ...(opts.stallTimeout !== undefined && { stallTimeoutMs: Math.max(1, opts.stallTimeout) * 1000 }),
              onProgress: (p) => bar.update(p),
            });
          } finally {
            bar.stop();
          }
          return { data: { ...res, seconds: (Date.now() - start) / 1000 }, text: summaryText };
        },
      ),
    );
}
