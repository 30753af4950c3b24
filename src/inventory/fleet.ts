/**
 * The fleet index: the inventories of many targets (commits, deployments, images by digest,
 * directories) in one database, so that "which of them carry bash < 5.2.15-2+deb12u1?" and
 * "which are affected by CVE-…?" are one indexed lookup plus exact version comparisons,
 * whatever the fleet's size.
 *
 * The same schema and statements run on SQLite (embedded, the default: a file in the
 * repository's folder) and PostgreSQL (`--db postgres://…`). Schema 2:
 *
 *   ingot_index_meta(key, value)                  schema version
 *   ingot_targets(id, ident UNIQUE, kind, name, target_id, family, distro, packages)
 *   ingot_package_versions(id, name, family, distro, epoch, version, release, arch,
 *                          source_name, source_version, purl)   UNIQUE over all but id
 *   ingot_target_packages(target, pkg)            indexed by (pkg, target) and by target
 *
 * A fleet is many targets built from few package versions (10,000 targets of one release share
 * a few thousand), so each distinct package version, together with the family and distribution
 * of the targets carrying it (what matching looks at), is stored once and a target is a list of
 * references to them. A lookup then compares each distinct version once, in memory, and only
 * the versions that match are expanded into their targets through the (pkg, target) index:
 * the work is proportional to the distinct versions a name has plus the answer, never to the
 * rows of packages that do not match.
 *
 * `ident` is `kind:id`; adding a target that is already indexed replaces its packages. Every
 * change is one transaction: a failure (a bad target among many) leaves the index as it was,
 * since the inventories are all read before anything is written. A schema 1 index (one row per
 * package of each target) is converted in place, in one transaction, when it is opened.
 */
import { IngotError } from '../core/errors.js';
import type { SqlDb } from '../platform/postgres.js';
import type { AdvisoryDb, StoredEntry } from './advisory-db.js';
import { compareVersions, distroCovers, matchEntry } from './match.js';
import { distroKey } from './purl.js';
import { packageEvr, type InstalledPackage, type PackageFamily, type Target, type TargetIdentity } from './types.js';
import { checkDebVersion } from '../codecs/version/deb.js';

const SCHEMA = '2';

/** Ids per `IN (…)` list: well below SQLite's and PostgreSQL's limits on bound parameters. */
const CHUNK = 400;

/** The columns that identify a package version (with the family and distribution of its targets). */
const VERSION_COLS = 'name, family, distro, epoch, version, release, arch, source_name, source_version, purl';

function createTables(db: SqlDb, idCol: string, withTargets: boolean): string[] {
  const pkCol = db.kind === 'postgres' ? 'SERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
  return [
    ...(withTargets ? [`CREATE TABLE ingot_targets (id ${idCol}, ident TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT NOT NULL, target_id TEXT NOT NULL, family TEXT NOT NULL, distro TEXT, packages INTEGER NOT NULL)`] : []),
    // distro is '' for targets whose distribution is unknown, so that the UNIQUE constraint holds.
    `CREATE TABLE ingot_package_versions (id ${pkCol}, name TEXT NOT NULL, family TEXT NOT NULL, distro TEXT NOT NULL, epoch INTEGER NOT NULL, version TEXT NOT NULL, release TEXT NOT NULL, arch TEXT NOT NULL, source_name TEXT NOT NULL, source_version TEXT NOT NULL, purl TEXT NOT NULL, UNIQUE (${VERSION_COLS}))`,
    `CREATE INDEX ingot_package_versions_source ON ingot_package_versions (source_name)`,
    `CREATE TABLE ingot_target_packages (target BIGINT NOT NULL REFERENCES ingot_targets(id) ON DELETE CASCADE, pkg INTEGER NOT NULL REFERENCES ingot_package_versions(id))`,
    `CREATE INDEX ingot_target_packages_pkg ON ingot_target_packages (pkg, target)`,
    `CREATE INDEX ingot_target_packages_target ON ingot_target_packages (target)`,
  ];
}

/** A matched package version: what the hits carry, and per hit the extra fields (advisories). */
interface Matched<X> {
  pkg: InstalledPackage;
  version: string;
  extras: X[];
}

export class FleetIndex {
  constructor(readonly db: SqlDb) {}

  /** Creates the tables when the database is new; converts schema 1; refuses any other schema. */
  static async open(db: SqlDb): Promise<FleetIndex> {
    // The usual case, an index of this schema, needs no write transaction (a query must not
    // wait for a writer's lock); anything else is settled under one.
    const current = await db.query<{ value: string }>(`SELECT value FROM ingot_index_meta WHERE key = ?`, ['schema']).catch(() => []);
    if (current.length && current[0]!.value === SCHEMA) return new FleetIndex(db);
    const idCol = db.kind === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
    await db.transaction(async (tx) => {
      await tx.exec(`CREATE TABLE IF NOT EXISTS ingot_index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
      // One creator or converter at a time (SQLite's BEGIN IMMEDIATE already is one writer).
      if (tx.kind === 'postgres') await tx.exec(`LOCK TABLE ingot_index_meta IN SHARE ROW EXCLUSIVE MODE`);
      const v = await tx.query<{ value: string }>(`SELECT value FROM ingot_index_meta WHERE key = ?`, ['schema']);
      if (v.length === 0) {
        for (const s of createTables(tx, idCol, true)) await tx.exec(s);
        await tx.query(`INSERT INTO ingot_index_meta (key, value) VALUES (?, ?)`, ['schema', SCHEMA]);
      } else if (v[0]!.value === '1') {
        // Schema 1 kept one row per package of each target in ingot_packages (target, name,
        // epoch, version, release, arch, source_name, source_version, purl).
        for (const s of createTables(tx, idCol, false)) await tx.exec(s);
        await tx.exec(
          `INSERT INTO ingot_package_versions (${VERSION_COLS})
           SELECT DISTINCT p.name, t.family, COALESCE(t.distro, ''), p.epoch, p.version, p.release, p.arch, p.source_name, p.source_version, p.purl
           FROM ingot_packages p JOIN ingot_targets t ON t.id = p.target`,
        );
        await tx.exec(
          `INSERT INTO ingot_target_packages (target, pkg)
           SELECT p.target, v.id FROM ingot_packages p JOIN ingot_targets t ON t.id = p.target JOIN ingot_package_versions v
             ON v.name = p.name AND v.family = t.family AND v.distro = COALESCE(t.distro, '') AND v.epoch = p.epoch AND v.version = p.version
            AND v.release = p.release AND v.arch = p.arch AND v.source_name = p.source_name AND v.source_version = p.source_version AND v.purl = p.purl`,
        );
        await tx.exec(`DROP TABLE ingot_packages`);
        await tx.query(`UPDATE ingot_index_meta SET value = ? WHERE key = ?`, [SCHEMA, 'schema']);
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
      // Package version ids already looked up or created in this transaction.
      const ids = new Map<string, number>();
      const versionId = async (family: PackageFamily, distro: string, p: InstalledPackage): Promise<number> => {
        const vals = [p.name, family, distro, p.epoch, p.version, p.release, p.arch, p.sourceName, p.sourceVersion, p.purl];
        const key = JSON.stringify(vals);
        const known = ids.get(key);
        if (known !== undefined) return known;
        const find = `SELECT id FROM ingot_package_versions WHERE name = ? AND family = ? AND distro = ? AND epoch = ? AND version = ? AND release = ? AND arch = ? AND source_name = ? AND source_version = ? AND purl = ?`;
        let r = await tx.query<{ id: number | string }>(find, vals);
        if (r.length === 0) r = await tx.query(`INSERT INTO ingot_package_versions (${VERSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`, vals);
        // Nothing returned: another writer (PostgreSQL) inserted it since; it is committed now.
        if (r.length === 0) r = await tx.query(find, vals);
        const id = Number(r[0]!.id);
        ids.set(key, id);
        return id;
      };
      for (const t of targets) {
        const ident = `${t.identity.kind}:${t.identity.id}`;
        const old = await tx.query<{ id: number }>(`SELECT id FROM ingot_targets WHERE ident = ?`, [ident]);
        if (old.length) {
          await tx.query(`DELETE FROM ingot_target_packages WHERE target = ?`, [old[0]!.id]);
          await tx.query(`DELETE FROM ingot_targets WHERE id = ?`, [old[0]!.id]);
          replaced++;
        } else added++;
        const distro = distroKey(t.inventory.distro) ?? opts.distro ?? null;
        const rows = await tx.query<{ id: number | string }>(
          `INSERT INTO ingot_targets (ident, kind, name, target_id, family, distro, packages) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
          [ident, t.identity.kind, t.identity.name, t.identity.id, t.inventory.family, distro, t.inventory.packages.length],
        );
        const id = Number(rows[0]!.id);
        const ps = t.inventory.packages;
        const refs: number[] = [];
        for (const p of ps) refs.push(await versionId(t.inventory.family, distro ?? '', p));
        const BATCH = 1000;
        for (let i = 0; i < refs.length; i += BATCH) {
          const part = refs.slice(i, i + BATCH);
          const params: unknown[] = [];
          for (const r of part) params.push(id, r);
          await tx.query(`INSERT INTO ingot_target_packages (target, pkg) VALUES ${part.map(() => '(?, ?)').join(', ')}`, params);
        }
        packages += ps.length;
      }
      if (replaced) await dropUnused(tx);
    });
    return { added, replaced, packages };
  }

  async remove(identities: readonly string[]): Promise<number> {
    let n = 0;
    await this.db.transaction(async (tx) => {
      for (const ident of identities) {
        const old = await tx.query<{ id: number }>(`SELECT id FROM ingot_targets WHERE ident = ? OR target_id = ? OR name = ?`, [ident, ident, ident]);
        for (const o of old) {
          await tx.query(`DELETE FROM ingot_target_packages WHERE target = ?`, [o.id]);
          await tx.query(`DELETE FROM ingot_targets WHERE id = ?`, [o.id]);
          n++;
        }
      }
      if (n) await dropUnused(tx);
    });
    return n;
  }

  async targets(): Promise<IndexedTarget[]> {
    const rows = await this.db.query<TargetRow>(`SELECT id, kind, name, target_id, family, distro, packages FROM ingot_targets ORDER BY ident`);
    return rows.map(targetOf);
  }

  /**
   * The distinct package versions whose binary name (`by` 'name'), source name ('source') or
   * either ('either') is one of `names`.
   */
  private async versionsFor(names: readonly string[], by: 'name' | 'source' | 'either'): Promise<VersionRow[]> {
    const out: VersionRow[] = [];
    for (let i = 0; i < names.length; i += CHUNK) {
      const part = names.slice(i, i + CHUNK);
      const list = `(${part.map(() => '?').join(',')})`;
      const where = by === 'name' ? `name IN ${list}` : by === 'source' ? `source_name IN ${list}` : `(name IN ${list} OR source_name IN ${list})`;
      const params = by === 'either' ? [...part, ...part] : part;
      const rows = await this.db.query<VersionRow>(`SELECT id, name, family, distro, epoch, version, release, arch, source_name, source_version FROM ingot_package_versions WHERE ${where}`, params);
      for (const r of rows) out.push(r);
    }
    return out;
  }

  /**
   * The hits for matched package versions: every target that carries one, one hit per
   * (target, package) and extra, ordered by target (kind, then id), then package, architecture,
   * version and extra (order of UTF-16 code units, as JavaScript compares strings, so that
   * SQLite and PostgreSQL, whatever its collation, give the same order). Ordering the targets
   * and then each target's few hits gives the order of sorting all hits by the joined key.
   */
  private async expand<X, H extends QueryHit>(matched: Map<number, Matched<X>>, hit: (target: IndexedTarget, m: Matched<X>, x: X | null) => H, extraKey: (x: X) => string): Promise<H[]> {
    const ids = [...matched.keys()];
    const perTarget = new Map<number, Matched<X>[]>();
    // The targets as the database returns them (ordered by kind and id), with their row ids.
    let order: IndexedTarget[] = [];
    let orderIds: number[] = [];
    const seen = ids.length > CHUNK ? new Set<number>() : null;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const part = ids.slice(i, i + CHUNK);
      const list = `(${part.map(() => '?').join(',')})`;
      // Arrays, not objects: the all-hit answer is tens of thousands of rows.
      const links = await this.db.rows<[number | string, number | string]>(`SELECT target, pkg FROM ingot_target_packages WHERE pkg IN ${list}`, part);
      for (const [target, pkg] of links) {
        const t = Number(target);
        const m = matched.get(Number(pkg))!;
        const ms = perTarget.get(t);
        if (ms) ms.push(m);
        else perTarget.set(t, [m]);
      }
      const rows = await this.db.rows<[number | string, string, string, string, string, string | null, number]>(
        `SELECT id, kind, name, target_id, family, distro, packages FROM ingot_targets WHERE id IN (SELECT target FROM ingot_target_packages WHERE pkg IN ${list}) ORDER BY kind, target_id`,
        part,
      );
      for (const [id, kind, name, targetId, family, distro, packages] of rows) {
        const n = Number(id);
        if (seen) {
          if (seen.has(n)) continue;
          seen.add(n);
        }
        order.push({ kind: kind as TargetIdentity['kind'], name, id: targetId, family: family as PackageFamily, distro, packages: Number(packages) });
        orderIds.push(n);
      }
    }
    // JavaScript's order of strings decides, whatever the database's collation: the database's
    // order is kept when it agrees (SQLite's byte order on ASCII ids, one chunk), else sorted here.
    let sorted = true;
    for (let i = 1; i < order.length; i++) {
      if (cmpTarget(order[i - 1]!, order[i]!) > 0) {
        sorted = false;
        break;
      }
    }
    if (!sorted) {
      const pairs = order.map((t, i) => ({ t, id: orderIds[i]! }));
      pairs.sort((a, b) => cmpTarget(a.t, b.t));
      order = pairs.map((x) => x.t);
      orderIds = pairs.map((x) => x.id);
    }
    const hits: H[] = [];
    for (let i = 0; i < order.length; i++) {
      const t = order[i]!;
      // Absent when another writer changed the target between the two statements: skipped.
      const ms = perTarget.get(orderIds[i]!);
      if (!ms) continue;
      if (ms.length === 1 && ms[0]!.extras.length <= 1) {
        const m = ms[0]!;
        hits.push(hit(t, m, m.extras.length ? m.extras[0]! : null));
        continue;
      }
      const mine: { key: string; h: H }[] = [];
      for (const m of ms) {
        const base = `${m.pkg.name}\0${m.pkg.arch}\0${m.version}`;
        if (m.extras.length === 0) mine.push({ key: base, h: hit(t, m, null) });
        for (const x of m.extras) mine.push({ key: `${base}\0${extraKey(x)}`, h: hit(t, m, x) });
      }
      mine.sort((a, b) => cmp(a.key, b.key));
      for (const x of mine) hits.push(x.h);
    }
    return hits;
  }

  /** `NAME [OP VERSION]` (see parseQuery); every target with a matching package. */
  async query(expr: string): Promise<QueryHit[]> {
    const q = parseQuery(expr);
    const matched = new Map<number, Matched<never>>();
    for (const r of await this.versionsFor([q.name], q.bySource ? 'source' : 'name')) {
      const p = pkgOf(r);
      const fam = r.family as PackageFamily;
      if (q.op && q.version !== undefined) {
        const c = compareVersions(fam, q.bySource ? p.sourceVersion : packageEvr(p), q.version);
        if (!opHolds(q.op, c)) continue;
      }
      matched.set(Number(r.id), { pkg: p, version: packageEvr(p), extras: [] });
    }
    return this.expand(
      matched,
      (target, m) => ({ target, package: m.pkg.name, version: m.version, arch: m.pkg.arch, sourceName: m.pkg.sourceName, sourceVersion: m.pkg.sourceVersion }),
      () => '',
    );
  }

  /**
   * Every indexed target affected by an advisory or CVE, with the exact matching rules of a
   * scan. Each distinct package version that the advisories' names select is compared once
   * (it carries the family and distribution of its targets); only the versions that match are
   * expanded into their targets.
   */
  async affected(adb: AdvisoryDb, cveOrId: string): Promise<AffectedHit[]> {
    const entries = adb.entriesForCve(cveOrId);
    if (entries.length === 0) return [];
    const byName = new Map<string, StoredEntry[]>();
    for (const e of entries) byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
    const matched = new Map<number, Matched<StoredEntry>>();
    for (const r of await this.versionsFor([...byName.keys()], 'either')) {
      const fam = r.family as PackageFamily;
      const distro = r.distro === '' ? null : r.distro;
      const p = pkgOf(r);
      const cands = new Set([...(byName.get(p.name) ?? []), ...(byName.get(p.sourceName) ?? [])]);
      const hit: StoredEntry[] = [];
      for (const e of cands) {
        if (e.family !== fam || !distroCovers(e.distro, distro)) continue;
        if (hit.some((m) => m.advisory === e.advisory)) continue;
        if (matchEntry(fam, e, p)) hit.push(e);
      }
      if (hit.length) matched.set(Number(r.id), { pkg: p, version: packageEvr(p), extras: hit });
    }
    return this.expand(
      matched,
      (target, m, e) => ({ target, package: m.pkg.name, version: m.version, arch: m.pkg.arch, sourceName: m.pkg.sourceName, sourceVersion: m.pkg.sourceVersion, advisory: e!.advisory, fixed: e!.fixed, severity: e!.severity }),
      (e) => e.advisory,
    );
  }
}

/** Removes package versions that no target carries any more (after a replace or a remove). */
async function dropUnused(tx: SqlDb): Promise<void> {
  await tx.query(`DELETE FROM ingot_package_versions WHERE NOT EXISTS (SELECT 1 FROM ingot_target_packages l WHERE l.pkg = ingot_package_versions.id)`);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Kind, then id; the same order as comparing `kind\0id` (neither contains a NUL). */
const cmpTarget = (a: IndexedTarget, b: IndexedTarget): number => cmp(a.kind, b.kind) || cmp(a.id, b.id);

interface VersionRow {
  id: number | string;
  name: string;
  family: string;
  /** '' when the targets' distribution is unknown. */
  distro: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  source_name: string;
  source_version: string;
}

interface TargetRow {
  id: number | string;
  kind: string;
  name: string;
  target_id: string;
  family: string;
  distro: string | null;
  packages: number;
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

function pkgOf(r: VersionRow): InstalledPackage {
  return { name: r.name, epoch: Number(r.epoch), version: r.version, release: r.release, arch: r.arch, sourceName: r.source_name, sourceVersion: r.source_version, purl: '' };
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
