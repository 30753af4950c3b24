/**
 * The fleet index: the inventories of many targets (commits, deployments, images by digest,
 * directories) in one database, so that "which of them carry bash < 5.2.15-2+deb12u1?" and
 * "which are affected by CVE-…?" are one indexed lookup plus exact version comparisons,
 * whatever the fleet's size.
 *
 * The same schema and statements run on SQLite (embedded, the default: a file in the
 * repository's folder) and PostgreSQL (`--db postgres://…`):
 *
 *   ingot_index_meta(key, value)                  schema version
 *   ingot_targets(id, ident UNIQUE, kind, name, target_id, family, distro, packages)
 *   ingot_packages(target, name, epoch, version, release, arch, source_name, source_version, purl)
 *
 * `ident` is `kind:id`; adding a target that is already indexed replaces its packages. Every
 * change is one transaction: a failure (a bad target among many) leaves the index as it was,
 * since the inventories are all read before anything is written.
 */
import { IngotError } from '../core/errors.js';
import type { SqlDb } from '../platform/postgres.js';
import type { AdvisoryDb, StoredEntry } from './advisory-db.js';
import { compareVersions, distroCovers, matchEntry } from './match.js';
import { distroKey } from './purl.js';
import { packageEvr, type InstalledPackage, type PackageFamily, type Target, type TargetIdentity } from './types.js';
import { checkDebVersion } from '../codecs/version/deb.js';

const SCHEMA = '1';

export class FleetIndex {
  constructor(readonly db: SqlDb) {}

  /** Creates the tables when the database is new; refuses a database of another schema. */
  static async open(db: SqlDb): Promise<FleetIndex> {
    const idCol = db.kind === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
    await db.transaction(async (tx) => {
      await tx.exec(`CREATE TABLE IF NOT EXISTS ingot_index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
      const v = await tx.query<{ value: string }>(`SELECT value FROM ingot_index_meta WHERE key = ?`, ['schema']);
      if (v.length === 0) {
        await tx.exec(`CREATE TABLE ingot_targets (id ${idCol}, ident TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT NOT NULL, target_id TEXT NOT NULL, family TEXT NOT NULL, distro TEXT, packages INTEGER NOT NULL)`);
        await tx.exec(
          `CREATE TABLE ingot_packages (target BIGINT NOT NULL REFERENCES ingot_targets(id) ON DELETE CASCADE, name TEXT NOT NULL, epoch INTEGER NOT NULL, version TEXT NOT NULL, release TEXT NOT NULL, arch TEXT NOT NULL, source_name TEXT NOT NULL, source_version TEXT NOT NULL, purl TEXT NOT NULL)`,
        );
        await tx.exec(`CREATE INDEX ingot_packages_name ON ingot_packages (name, version, release)`);
        await tx.exec(`CREATE INDEX ingot_packages_source ON ingot_packages (source_name)`);
        await tx.exec(`CREATE INDEX ingot_packages_target ON ingot_packages (target)`);
        await tx.query(`INSERT INTO ingot_index_meta (key, value) VALUES (?, ?)`, ['schema', SCHEMA]);
      } else if (v[0]!.value !== SCHEMA) {
        throw new IngotError('INDEX_DB_INVALID', `${db.label}: index schema ${v[0]!.value}, this ingot uses schema ${SCHEMA}`, { hint: 'use the ingot that wrote it, or a new database', data: { db: db.label } });
      }
    });
    return new FleetIndex(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /**
   * Records (or replaces) targets, all in one transaction. `distro` is the distribution key
   * recorded for targets whose os-release does not say (what `scan --distro` does for a scan).
   */
  async add(targets: readonly Target[], opts: { distro?: string } = {}): Promise<{ added: number; replaced: number; packages: number }> {
    let added = 0;
    let replaced = 0;
    let packages = 0;
    await this.db.transaction(async (tx) => {
      for (const t of targets) {
        const ident = `${t.identity.kind}:${t.identity.id}`;
        const old = await tx.query<{ id: number }>(`SELECT id FROM ingot_targets WHERE ident = ?`, [ident]);
        if (old.length) {
          await tx.query(`DELETE FROM ingot_packages WHERE target = ?`, [old[0]!.id]);
          await tx.query(`DELETE FROM ingot_targets WHERE id = ?`, [old[0]!.id]);
          replaced++;
        } else added++;
        const rows = await tx.query<{ id: number | string }>(
          `INSERT INTO ingot_targets (ident, kind, name, target_id, family, distro, packages) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
          [ident, t.identity.kind, t.identity.name, t.identity.id, t.inventory.family, distroKey(t.inventory.distro) ?? opts.distro ?? null, t.inventory.packages.length],
        );
        const id = Number(rows[0]!.id);
        const ps = t.inventory.packages;
        const BATCH = 500;
        for (let i = 0; i < ps.length; i += BATCH) {
          const part = ps.slice(i, i + BATCH);
          const params: unknown[] = [];
          for (const p of part) params.push(id, p.name, p.epoch, p.version, p.release, p.arch, p.sourceName, p.sourceVersion, p.purl);
          await tx.query(`INSERT INTO ingot_packages VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`, params);
        }
        packages += ps.length;
      }
    });
    return { added, replaced, packages };
  }

  async remove(identities: readonly string[]): Promise<number> {
    let n = 0;
    await this.db.transaction(async (tx) => {
      for (const ident of identities) {
        const old = await tx.query<{ id: number }>(`SELECT id FROM ingot_targets WHERE ident = ? OR target_id = ? OR name = ?`, [ident, ident, ident]);
        for (const o of old) {
          await tx.query(`DELETE FROM ingot_packages WHERE target = ?`, [o.id]);
          await tx.query(`DELETE FROM ingot_targets WHERE id = ?`, [o.id]);
          n++;
        }
      }
    });
    return n;
  }

  async targets(): Promise<IndexedTarget[]> {
    const rows = await this.db.query<TargetRow>(`SELECT id, kind, name, target_id, family, distro, packages FROM ingot_targets ORDER BY ident`);
    return rows.map(targetOf);
  }

  /**
   * Package rows (with their target) whose binary name (`by` 'name'), source name ('source') or
   * either ('either') is one of `names`. The purl is not read: answers do not carry it.
   */
  private async rowsFor(names: readonly string[], by: 'name' | 'source' | 'either'): Promise<(PackageRow & TargetRow)[]> {
    if (names.length === 0) return [];
    const out: (PackageRow & TargetRow)[] = [];
    for (let i = 0; i < names.length; i += 400) {
      const part = names.slice(i, i + 400);
      const list = `(${part.map(() => '?').join(',')})`;
      const where = by === 'name' ? `p.name IN ${list}` : by === 'source' ? `p.source_name IN ${list}` : `(p.name IN ${list} OR p.source_name IN ${list})`;
      const params = by === 'either' ? [...part, ...part] : part;
      out.push(
        ...(await this.db.query<PackageRow & TargetRow>(
          `SELECT t.id, t.kind, t.name AS name, t.target_id, t.family, t.distro, t.packages, p.name AS pkg_name, p.epoch, p.version, p.release, p.arch, p.source_name, p.source_version
           FROM ingot_packages p JOIN ingot_targets t ON t.id = p.target WHERE ${where}`,
          params,
        )),
      );
    }
    return out;
  }

  /** `NAME [OP VERSION]` (see parseQuery); every target with a matching package. */
  async query(expr: string): Promise<QueryHit[]> {
    const q = parseQuery(expr);
    const rows = await this.rowsFor([q.name], q.bySource ? 'source' : 'name');
    const hits: QueryHit[] = [];
    for (const r of rows) {
      const p = pkgOf(r);
      const fam = r.family as PackageFamily;
      const v = q.bySource ? p.sourceVersion : packageEvr(p);
      if (q.op && q.version !== undefined) {
        const c = compareVersions(fam, fam === 'rpm' && q.bySource ? v : v, q.version);
        if (!opHolds(q.op, c)) continue;
      }
      hits.push({ target: targetOf(r), package: p.name, version: packageEvr(p), arch: p.arch, sourceName: p.sourceName, sourceVersion: p.sourceVersion });
    }
    return sortHits(hits);
  }

  /**
   * Every indexed target affected by an advisory or CVE, with the exact matching rules of a
   * scan. The package rows that the advisories' names select are first grouped by what
   * matching looks at (name, version, architecture, source, family, distribution), so that each
   * distinct package version is compared once however many targets carry it; only the groups
   * that match are expanded into their targets.
   */
  async affected(adb: AdvisoryDb, cveOrId: string): Promise<AffectedHit[]> {
    const entries = adb.entriesForCve(cveOrId);
    if (entries.length === 0) return [];
    const names = [...new Set(entries.map((e) => e.name))];
    const byName = new Map<string, StoredEntry[]>();
    for (const e of entries) byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
    const hits: AffectedHit[] = [];
    const COLS = 'p.name, p.epoch, p.version, p.release, p.arch, p.source_name, p.source_version, t.family, t.distro';
    for (let i = 0; i < names.length; i += 400) {
      const part = names.slice(i, i + 400);
      const list = `(${part.map(() => '?').join(',')})`;
      const groups = await this.db.query<GroupRow>(
        `SELECT ${COLS} FROM ingot_packages p JOIN ingot_targets t ON t.id = p.target WHERE (p.name IN ${list} OR p.source_name IN ${list}) GROUP BY ${COLS}`,
        [...part, ...part],
      );
      for (const g of groups) {
        const fam = g.family as PackageFamily;
        const p = pkgOf({ pkg_name: g.name, epoch: g.epoch, version: g.version, release: g.release, arch: g.arch, source_name: g.source_name, source_version: g.source_version });
        const cands = new Set([...(byName.get(p.name) ?? []), ...(byName.get(p.sourceName) ?? [])]);
        const matched: StoredEntry[] = [];
        for (const e of cands) {
          if (e.family !== fam || !distroCovers(e.distro, g.distro)) continue;
          if (matched.some((m) => m.advisory === e.advisory)) continue;
          if (matchEntry(fam, e, p)) matched.push(e);
        }
        if (matched.length === 0) continue;
        const targets = await this.db.query<TargetRow>(
          `SELECT t.id, t.kind, t.name, t.target_id, t.family, t.distro, t.packages FROM ingot_packages p JOIN ingot_targets t ON t.id = p.target
           WHERE p.name = ? AND p.epoch = ? AND p.version = ? AND p.release = ? AND p.arch = ? AND p.source_name = ? AND p.source_version = ? AND t.family = ? AND ${g.distro === null ? 't.distro IS NULL' : 't.distro = ?'}`,
          [g.name, g.epoch, g.version, g.release, g.arch, g.source_name, g.source_version, g.family, ...(g.distro === null ? [] : [g.distro])],
        );
        const version = packageEvr(p);
        for (const t of targets) {
          const target = targetOf(t);
          for (const e of matched) hits.push({ target, package: p.name, version, arch: p.arch, sourceName: p.sourceName, sourceVersion: p.sourceVersion, advisory: e.advisory, fixed: e.fixed, severity: e.severity });
        }
      }
    }
    return sortHits(hits);
  }
}

interface GroupRow {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  source_name: string;
  source_version: string;
  family: string;
  distro: string | null;
}

interface TargetRow {
  id: number;
  kind: string;
  name: string;
  target_id: string;
  family: string;
  distro: string | null;
  packages: number;
}

interface PackageRow {
  pkg_name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  source_name: string;
  source_version: string;
}

export interface IndexedTarget extends TargetIdentity {
  family: PackageFamily;
  distro: string | null;
  packages: number;
}

export interface QueryHit {
  target: IndexedTarget;
  package: string;
  version: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
}

export interface AffectedHit extends QueryHit {
  advisory: string;
  fixed: string | null;
  severity: string;
}

function targetOf(r: TargetRow): IndexedTarget {
  return { kind: r.kind as TargetIdentity['kind'], name: r.name, id: r.target_id, family: r.family as PackageFamily, distro: r.distro, packages: Number(r.packages) };
}

function pkgOf(r: PackageRow): InstalledPackage {
  return { name: r.pkg_name, epoch: Number(r.epoch), version: r.version, release: r.release, arch: r.arch, sourceName: r.source_name, sourceVersion: r.source_version, purl: '' };
}

function sortHits<T extends QueryHit>(hits: T[]): T[] {
  const k = (h: QueryHit): string => `${h.target.kind}\0${h.target.id}\0${h.package}\0${h.arch}\0${h.version}`;
  return hits.sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

export type QueryOp = '<' | '<=' | '=' | '>=' | '>' | '!=';

export interface IndexQuery {
  name: string;
  /** Match the source package name (and compare the source version). */
  bySource: boolean;
  op?: QueryOp;
  version?: string;
}

function opHolds(op: QueryOp, c: number): boolean {
  switch (op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>':
      return c > 0;
    case '!=':
      return c !== 0;
  }
}

/**
 * `NAME`, `NAME OP VERSION` or `source:NAME OP VERSION`, OP one of < <= = == >= > != and
 * Debian's << and >>. The version must be valid for both families' syntax checks that apply
 * (a Debian version is checked with dpkg's rules).
 */
export function parseQuery(expr: string): IndexQuery {
  const m = /^\s*(source:)?([A-Za-z0-9][A-Za-z0-9+._~^-]*)\s*(?:(<<|>>|<=|>=|==|!=|=|<|>)\s*(\S+))?\s*$/.exec(expr);
  if (!m) {
    throw new IngotError('INDEX_QUERY_INVALID', `cannot parse the query '${expr}'`, {
      hint: "write NAME, or NAME OP VERSION with OP one of < <= = >= > != (also << >>), e.g. 'bash < 5.2.15-2+deb12u1'; prefix source: to match source packages",
      data: { query: expr },
    });
  }
  const q: IndexQuery = { name: m[2]!, bySource: !!m[1] };
  if (m[3]) {
    const op = ({ '<<': '<', '>>': '>', '==': '=' } as Record<string, QueryOp>)[m[3]] ?? (m[3] as QueryOp);
    const v = m[4]!;
    const chk = checkDebVersion(v);
    if (!chk.ok && !/^[A-Za-z0-9._+~^:-]+$/.test(v)) {
      throw new IngotError('VERSION_INVALID', `query '${expr}': '${v}' is not a version`, { hint: 'give a Debian or rpm version, e.g. 5.2.15-2+deb12u1 or 1:2.3-4.el9', data: { query: expr, version: v } });
    }
    q.op = op;
    q.version = v;
  }
  return q;
}
