import type { Command } from 'commander';
import { ls } from '../../../repo/inspect.js';
import { action, addRepoOption, fmtMode, openRepo } from '../../util.js';

export function register(repo: Command): void {
  addRepoOption(repo.command('ls'))
    .description('list a path of a commit')
    .argument('<rev>', 'ref or commit')
    .argument('[path]', 'path inside the commit', '/')
    .option('-R, --recursive', 'list subdirectories too')
    .option('-X, --xattrs', 'show extended attributes')
    .option('-C, --checksum', 'show checksums')
    .action(
      action((rev: string, p: string, opts: { repo?: string; recursive?: boolean; xattrs?: boolean; checksum?: boolean }) => {
        const entries = ls(openRepo(opts), rev, p, { recursive: !!opts.recursive, xattrs: !!opts.xattrs });
        return {
          data: entries,
          text: (d) =>
            d
              .map((e) => {
                const t = e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-';
                let line = `${t}${fmtMode(e.mode & 0o7777 | 0).slice(1)} ${e.uid} ${e.gid} ${String(e.size).padStart(6)} `;
                if (opts.checksum) line += `${e.checksum} `;
                line += e.path;
                if (e.target !== undefined) line += ` -> ${e.target}`;
                if (e.xattrs?.length) line += ` { ${e.xattrs.map((x) => `${x.name}=${x.value}`).join(', ')} }`;
                return line;
              })
              .join('\n'),
        };
      }),
    );
}
