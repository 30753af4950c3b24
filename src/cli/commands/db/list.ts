/**
 * `ingot db list REV [PATTERN...]`: the packages of a composed commit, read from its metadata
 * (no checkout).
 */
import type { Command } from 'commander';
import { evrOf, readInventory } from '../../../compose/inventory.js';
import { action, addRepoOption, openRepo } from '../../util.js';

function matcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  return (name) => res.some((r) => r.test(name));
}

export function register(db: Command): void {
  addRepoOption(db.command('list'))
    .description("list the packages of a composed commit (from its metadata, without a checkout)")
    .argument('<rev>', 'ref or commit')
    .argument('[patterns...]', "only packages whose name matches one of these ('*' and '?' globs)")
    .action(
      action((rev: string, patterns: string[], opts: { repo?: string }) => {
        const ci = readInventory(openRepo(opts), rev);
        const match = matcher(patterns);
        const inv = ci.inventory;
        const packages = inv.packages.filter((p) => match(p.name)).map((p) => ({ ...p, evr: evrOf(p) }));
        return {
          data: { commit: ci.checksum, family: inv.family, version: inv.version, inputHash: inv.inputHash, count: packages.length, packages },
          text: (d) => {
            const head = `commit ${d.commit}${d.version ? `\nVersion: ${d.version}` : ''}\n${d.count} ${d.family} packages${patterns.length ? ` matching ${patterns.join(' ')}` : ''}\n`;
            const w = Math.max(4, ...d.packages.map((p) => p.name.length));
            const wv = Math.max(7, ...d.packages.map((p) => p.evr.length));
            return head + d.packages.map((p) => `  ${p.name.padEnd(w)}  ${p.evr.padEnd(wv)}  ${p.arch}`).join('\n');
          },
        };
      }),
    );
}
