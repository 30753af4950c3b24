import type { Command } from 'commander';
import { show, type CommitView } from '../../../repo/inspect.js';
import { action, addRepoOption, openRepo } from '../../util.js';

export function renderCommit(c: CommitView, withMeta = true): string {
  let s = `commit ${c.checksum}\n`;
  if (c.parent) s += `Parent:  ${c.parent}\n`;
  s += `ContentChecksum:  ${c.contentChecksum}\n`;
  s += `Date:  ${c.date}\n`;
  if (c.version) s += `Version: ${c.version}\n`;
  if (c.partial) s += `(partial: the tree is incomplete)\n`;
  s += `\n    ${c.subject}\n`;
  if (c.body) s += `\n${c.body.split('\n').map((l) => `    ${l}`).join('\n')}\n`;
  if (withMeta && c.metadata.length) {
    s += `\nMetadata:\n` + c.metadata.map(([k, v]) => `  ${k}: ${v}`).join('\n') + '\n';
  }
  if (withMeta && c.detachedMetadata.length) s += `Detached metadata: ${c.detachedMetadata.join(', ')}\n`;
  return s;
}

export function register(repo: Command): void {
  addRepoOption(repo.command('show'))
    .description('show a commit: metadata, ContentChecksum, parent')
    .argument('<rev>', 'ref or commit')
    .action(
      action((rev: string, opts: { repo?: string }) => {
        const v = show(openRepo(opts), rev);
        return { data: v, text: (d) => renderCommit(d) };
      }),
    );
}
