/** `ingot serve`: serve an archive repository over HTTP until interrupted. */
import type { Command } from 'commander';
import { readSecretKeysFile } from '../../repo/sign.js';
import { serveRepo } from '../../transport/serve.js';
import { action, addRepoOption, collect, openRepo, parseIntOption } from '../util.js';

interface Opts {
  repo?: string;
  port: number;
  bind: string;
  signKeysFile?: string[];
  refreshSummary: boolean;
  log?: boolean;
}

export function register(program: Command): void {
  addRepoOption(program.command('serve'))
    .description('serve an archive repository over HTTP (keep-alive, Range, ETag); keeps the summary in step with the refs')
    .option('--port <n>', 'TCP port (0 picks a free one)', parseIntOption('--port'), 0)
    .option('--bind <address>', 'address to listen on', '127.0.0.1')
    .option('--sign-keys-file <file>', 'sign the summary with these ed25519 secret keys whenever it is regenerated; repeatable', collect)
    .option('--no-refresh-summary', 'serve the summary as it is, even when the refs changed')
    .option('--log', 'print one line per request on stderr')
    .action(
      action(async (opts: Opts) => {
        const repo = openRepo(opts);
        const signKeys = (opts.signKeysFile ?? []).flatMap((f) => readSecretKeysFile(f));
        const server = await serveRepo(repo, {
          bind: opts.bind,
          port: opts.port,
          signKeys,
          refreshSummary: opts.refreshSummary,
          ...(opts.log && { log: (l) => process.stderr.write(`${l.method} ${l.path} ${l.status} ${l.bytes}\n`) }),
        });
        // The URL line is the contract scripts read to learn the port.
        process.stdout.write(`serving ${repo.path} at ${server.url}\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void server.close().then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      }),
    );
}
