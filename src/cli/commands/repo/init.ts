import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { Repo, REPO_MODES, type RepoMode } from '../../../repo/repo.js';
import { action, addRepoOption } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('init'))
    .description('create a repository (config and layout exactly as ostree writes them)')
    .option('--mode <mode>', 'archive | bare-user | bare', 'bare')
    .option('--collection-id <id>', 'collection ID to record in the config')
    .action(
      action((opts: { repo?: string; mode: string; collectionId?: string }) => {
        const dir = opts.repo ?? process.env['INGOT_REPO'];
        if (!dir) throw new IngotError('USAGE', 'no repository given', { hint: 'pass --repo DIR' });
        const mode = (opts.mode === 'archive-z2' ? 'archive' : opts.mode) as RepoMode;
        if (!['archive', 'bare-user', 'bare'].includes(mode)) {
          throw new IngotError('INVALID_ARGUMENT', `unknown mode '${opts.mode}'`, {
            hint: `choose one of ${REPO_MODES.filter((m) => m !== 'bare-user-only').join(', ')}`,
          });
        }
        const r = Repo.init(dir, mode, opts.collectionId ? { collectionId: opts.collectionId } : {});
        return { data: { path: r.path, mode: r.mode }, text: (d) => `initialised ${d.mode} repository at ${d.path}` };
      }),
    );
}
