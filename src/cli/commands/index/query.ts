/** `ingot index query EXPR`: every indexed target with a package matching `NAME [OP VERSION]`. */
import type { Command } from 'commander';
import type { QueryHit } from '../../../inventory/fleet.js';
import { action } from '../../util.js';
import { addIndexDbOption, openIndex } from '../inventory/common.js';

export function hitsText(hits: QueryHit[], extra: (h: QueryHit) => string = () => ''): string {
  if (hits.length === 0) return 'no matching target';
  return hits.map((h) => `${h.target.kind} ${h.target.id}${h.target.name !== h.target.id ? ` (${h.target.name})` : ''}: ${h.package} ${h.version} ${h.arch}${extra(h)}`).join('\n');
}

export function register(group: Command): void {
  addIndexDbOption(group.command('query'))
    .description("list indexed targets with a package matching EXPR, e.g. 'bash < 5.2.15-2+deb12u1' (exact rpm/dpkg order)")
    .argument('<expr>', 'NAME, or NAME OP VERSION with OP one of < <= = >= > != << >>; source:NAME matches source packages')
    .option('--repo <dir>', 'use REPO/ingot-index.sqlite')
    .action(
      action(async (expr: string, opts: { db?: string; repo?: string }) => {
        const idx = await openIndex(opts);
        try {
          const hits = await idx.query(expr);
          return { data: { query: expr, count: hits.length, hits }, text: (d: { hits: QueryHit[] }) => hitsText(d.hits) };
        } finally {
          await idx.close();
        }
      }),
    );
}
