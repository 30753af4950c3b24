/** Options and defaults shared by the inventory commands (sbom, scan, advisories, index). */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { IngotError } from '../../../core/errors.js';
import { openPostgres, openSqlite, type SqlDb } from '../../../platform/postgres.js';
import { FleetIndex } from '../../../inventory/fleet.js';

export function addTargetRepoOption(cmd: Command): Command {
  return cmd.option('--repo <dir>', 'repository for REV targets (default: $INGOT_REPO)');
}

export function addAdvisoryDbOption(cmd: Command): Command {
  return cmd.option('--advisory-db <file>', 'the advisory database (default: $INGOT_ADVISORY_DB, else REPO/ingot-advisories.sqlite with --repo, else ~/.cache/ingot/advisories.sqlite)');
}

/** The advisory database file: --advisory-db, $INGOT_ADVISORY_DB, the repository's folder, the user's cache. */
export function advisoryDbPath(opts: { advisoryDb?: string; repo?: string }): string {
  if (opts.advisoryDb) return opts.advisoryDb;
  const env = process.env['INGOT_ADVISORY_DB'];
  if (env) return env;
  const repo = opts.repo ?? process.env['INGOT_REPO'];
  if (repo) return path.join(repo, 'ingot-advisories.sqlite');
  const cache = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
  return path.join(cache, 'ingot', 'advisories.sqlite');
}

export function addIndexDbOption(cmd: Command): Command {
  return cmd.option('--db <url-or-file>', 'the fleet index: postgres://… or an SQLite file (default: $INGOT_INDEX_DB, else REPO/ingot-index.sqlite)');
}

export async function openIndex(opts: { db?: string; repo?: string }): Promise<FleetIndex> {
  let where = opts.db ?? process.env['INGOT_INDEX_DB'];
  if (!where) {
    const repo = opts.repo ?? process.env['INGOT_REPO'];
    if (!repo) throw new IngotError('USAGE', 'no index database given', { hint: 'pass --db postgres://… or --db FILE, or --repo DIR to use DIR/ingot-index.sqlite' });
    where = path.join(repo, 'ingot-index.sqlite');
  }
  const db: SqlDb = /^postgres(ql)?:\/\//.test(where) ? await openPostgres(where) : openSqlite(where);
  try {
    return await FleetIndex.open(db);
  } catch (e) {
    await db.close();
    throw e;
  }
}
