import type { Command } from 'commander';
import { ls } from '../../../repo/inspect.js';
import { printValue } from '../../../codecs/gvariant/text.js';
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
                // ostree ls: `T0MMMM UID GID SIZE [CHECKSUMS ][{ XATTRS } ]PATH[ -> TARGET]`, where a
                // directory's checksums are its dirtree and its dirmeta.
                let line = `${t}${fmtMode(e.mode & 0o7777 | 0).slice(1)} ${e.uid} ${e.gid} ${String(e.size).padStart(6)} `;
                if (opts.checksum) line += e.meta !== undefined ? `${e.checksum} ${e.meta} ` : `${e.checksum} `;
                if (e.xattrs) {
                  const gv = e.xattrs.map((x) => [Buffer.from(`${x.name}\0`, 'utf8'), Buffer.from(x.value, 'hex')]);
                  line += `{ ${printValue('a(ayay)', gv)} } `;
                }
                line += e.path;
                if (e.target !== undefined) line += ` -> ${e.target}`;
                return line;
              })
              .join('\n'),
        };
      }),
    );
}
