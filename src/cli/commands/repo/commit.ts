import type { Command } from 'commander';
import { writeCommit } from '../../../repo/commit.js';
import { parseText } from '../../../codecs/gvariant/text.js';
import { action, addRepoOption, collect, humanBytes, openRepo, parseIntOption, parseTimestamp, splitKeyValue } from '../../util.js';

interface Opts {
  repo?: string;
  branch?: string;
  subject?: string;
  body?: string;
  addMetadata: string[];
  addMetadataString: string[];
  timestamp?: string;
  ownerUid?: number;
  ownerGid?: number;
  parent?: string;
  skipIfUnchanged?: boolean;
  generateSizes?: boolean;
  skipSpecialFiles?: boolean;
  bindings: boolean;
  bindRef: string[];
  xattrs: boolean;
  fsync: boolean;
}

export function register(repo: Command): void {
  addRepoOption(repo.command('commit'))
    .description('commit a directory tree to a branch')
    .argument('<dir>', 'directory to commit')
    .option('-b, --branch <ref>', 'branch (ref) to move to the new commit')
    .option('-s, --subject <text>', 'one-line subject')
    .option('-m, --body <text>', 'full description')
    .option('--add-metadata <key=value>', 'metadata whose value is GVariant text (e.g. uint64 5, [\'a\'])', collect, [])
    .option('--add-metadata-string <key=value>', 'metadata whose value is a string', collect, [])
    .option('--timestamp <time>', '@SECONDS or an ISO 8601 date (default: now)')
    .option('--owner-uid <uid>', 'record every file as owned by this uid', parseIntOption('--owner-uid'))
    .option('--owner-gid <gid>', 'record every file as owned by this gid', parseIntOption('--owner-gid'))
    .option('--parent <commit>', "parent commit checksum, or 'none' (default: the branch's commit)")
    .option('--skip-if-unchanged', 'make no commit when the tree equals the parent\'s')
    .option('--generate-sizes', 'record object sizes in ostree.sizes (archive repositories)')
    .option('--skip-special-files', 'leave out device nodes, sockets and FIFOs instead of failing')
    .option('--no-bindings', 'do not add ostree.ref-binding metadata')
    .option('--bind-ref <ref>', 'also bind the commit to this ref', collect, [])
    .option('--no-xattrs', 'do not record extended attributes')
    .option('--no-fsync', 'skip the flush before the ref moves (unsafe)')
    .action(
      action(async (dir: string, opts: Opts) => {
        const r = openRepo(opts);
        const res = await writeCommit(r, dir, {
          ...(opts.branch !== undefined && { branch: opts.branch }),
          ...(opts.subject !== undefined && { subject: opts.subject }),
          ...(opts.body !== undefined && { body: opts.body }),
          metadataStrings: opts.addMetadataString.map((s) => splitKeyValue(s, '--add-metadata-string')),
          metadataVariants: opts.addMetadata.map((s) => {
            const [k, v] = splitKeyValue(s, '--add-metadata');
            return [k, parseText(v)];
          }),
          ...(opts.timestamp !== undefined && { timestamp: parseTimestamp(opts.timestamp) }),
          ...(opts.ownerUid !== undefined && { ownerUid: opts.ownerUid }),
          ...(opts.ownerGid !== undefined && { ownerGid: opts.ownerGid }),
          ...(opts.parent !== undefined && { parent: opts.parent }),
          skipIfUnchanged: !!opts.skipIfUnchanged,
          generateSizes: !!opts.generateSizes,
          skipSpecialFiles: !!opts.skipSpecialFiles,
          bindings: opts.bindings,
          bindRefs: opts.bindRef,
          noXattrs: !opts.xattrs,
          fsync: opts.fsync,
        });
        return {
          data: res,
          text: (d) =>
            d.unchanged
              ? `${d.commit}\n(unchanged: the tree equals the parent's; no commit made)`
              : `${d.commit}\n` +
                (process.stdout.isTTY
                  ? `  ${d.stats.files} files, ${d.stats.symlinks} symlinks, ${d.stats.dirs} directories, ${humanBytes(d.stats.contentBytes)}; ${d.stats.objectsWritten} new content objects` +
                    (d.stats.skipped.length ? `; skipped ${d.stats.skipped.length} special files` : '')
                  : ''),
        };
      }),
    );
}
