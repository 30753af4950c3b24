/**
 * The local advisory database: one SQLite file that `ingot advisories sync` fills and `ingot
 * scan` and `ingot index affected` read.
 *
 * Incremental: each source (a file, a directory of OSV records, a URL) is remembered with the
 * SHA-256 of what was read; an unchanged source is skipped without parsing. A changed source is
 * parsed whole and applied in one transaction: advisories whose normalized content changed are
 * replaced, new ones added, and those the source no longer lists removed; the rest stay
 * untouched. A source that fails to parse changes nothing.
 *
 * Schema (version 1, in `meta`): `sources(name, format, sha256, advisories)`,
 * `advisories(id, source, hash, modified, summary, severity, withdrawn, cves)` (the CVE ids as a JSON array),
 * `cves(cve, advisory)`, `affected(advisory, family, distro, name, keyed, status, ranges,
 * versions, fixed, arch)` with indexes on the package name and the CVE.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { IngotError } from '../core/errors.js';
import { fetchBuffer } from '../platform/http.js';
import { parseAdvisories, type AdvisoryFormat, type Advisory, type AffectedEntry, type Severity } from './advisories.js';
import type { PackageFamily } from './types.js';

const SCHEMA_VERSION = '1';

export class AdvisoryDb {
  private constructor(
    readonly db: Database.Database,
    readonly file: string,
  ) {}

  /** Opens (creating when `create`) the database file. */
  static open(file: string, opts: { create?: boolean } = {}): AdvisoryDb {
    if (!opts.create && !fs.existsSync(file)) {
      throw new IngotError('ADVISORY_DB_INVALID', `no advisory database at ${file}`, {
        hint: "load advisories first with 'ingot advisories sync SOURCE...'",
        data: { path: file },
      });
    }
    if (opts.create) fs.mkdirSync(path.dirname(file), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 10000');
      db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    } catch (e) {
      throw new IngotError('ADVISORY_DB_INVALID', `${file}: not an SQLite database (${(e as Error).message})`, { hint: 'remove the file and sync again', data: { path: file } });
    }
    const v = (db.prepare(`SELECT value FROM meta WHERE key = 'ingot-advisories'`).get() as { value: string } | undefined)?.value;
    if (v === undefined) {
      const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name <> 'meta'`).get() as { n: number };
      if (tables.n > 0) {
        db.close();
        throw new IngotError('ADVISORY_DB_INVALID', `${file} is an SQLite database but not an ingot advisory database`, { hint: 'name another file with --advisory-db', data: { path: file } });
      }
      db.exec(`
        CREATE TABLE sources (name TEXT PRIMARY KEY, format TEXT NOT NULL, sha256 TEXT NOT NULL, advisories INTEGER NOT NULL);
        CREATE TABLE advisories (id TEXT PRIMARY KEY, source TEXT NOT NULL, hash TEXT NOT NULL, modified TEXT, summary TEXT NOT NULL, severity TEXT NOT NULL, withdrawn INTEGER NOT NULL, cves TEXT NOT NULL);
        CREATE INDEX advisories_source ON advisories (source);
        CREATE TABLE cves (cve TEXT NOT NULL, advisory TEXT NOT NULL);
        CREATE INDEX cves_cve ON cves (cve);
        CREATE INDEX cves_advisory ON cves (advisory);
        CREATE TABLE affected (advisory TEXT NOT NULL, family TEXT NOT NULL, distro TEXT NOT NULL, name TEXT NOT NULL, keyed TEXT NOT NULL, status TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL, fixed TEXT, arch TEXT);
        CREATE INDEX affected_name ON affected (family, name);
        CREATE INDEX affected_advisory ON affected (advisory);
        INSERT INTO meta VALUES ('ingot-advisories', '${SCHEMA_VERSION}');
      `);
    } else if (v !== SCHEMA_VERSION) {
      db.close();
      throw new IngotError('ADVISORY_DB_INVALID', `${file} has advisory schema ${v}; this ingot reads schema ${SCHEMA_VERSION}`, { hint: 'use the ingot that wrote it, or remove the file and sync again', data: { path: file } });
    }
    return new AdvisoryDb(db, file);
  }

  close(): void {
    this.db.close();
  }

  /** Applies one parsed source (see the file comment); returns what changed. */
  apply(source: string, format: AdvisoryFormat, sha256: string, advisories: Advisory[]): SyncCounts {
    const counts: SyncCounts = { added: 0, updated: 0, removed: 0, unchanged: 0 };
    const seen = new Set<string>();
    const getHash = this.db.prepare(`SELECT hash, source FROM advisories WHERE id = ?`);
    const del = [`DELETE FROM advisories WHERE id = ?`, `DELETE FROM cves WHERE advisory = ?`, `DELETE FROM affected WHERE advisory = ?`].map((s) => this.db.prepare(s));
    const insAdv = this.db.prepare(`INSERT INTO advisories VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const insCve = this.db.prepare(`INSERT INTO cves VALUES (?, ?)`);
    const insAff = this.db.prepare(`INSERT INTO affected VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const a of advisories) {
        if (seen.has(a.id)) {
          throw new IngotError('ADVISORY_INVALID', `${source}: advisory ${a.id} is given twice`, { hint: 'each advisory id may appear once per source', data: { source, advisory: a.id } });
        }
        seen.add(a.id);
        const hash = createHash('sha256').update(JSON.stringify(a)).digest('hex');
        const old = getHash.get(a.id) as { hash: string; source: string } | undefined;
        if (old && old.hash === hash && old.source === source) {
          counts.unchanged++;
          continue;
        }
        if (old) {
          del.forEach((s) => s.run(a.id));
          counts.updated++;
        } else counts.added++;
        insAdv.run(a.id, source, hash, a.modified, a.summary, a.severity, a.withdrawn ? 1 : 0, JSON.stringify(a.cves));
        for (const c of a.cves) insCve.run(c, a.id);
        for (const e of a.affected) insAff.run(a.id, e.family, e.distro, e.name, e.keyed, e.status, JSON.stringify(e.ranges), JSON.stringify(e.versions), e.fixed, e.arch);
      }
      const old = this.db.prepare(`SELECT id FROM advisories WHERE source = ?`).all(source) as { id: string }[];
      for (const { id } of old) {
        if (seen.has(id)) continue;
        del.forEach((s) => s.run(id));
        counts.removed++;
      }
      this.db.prepare(`INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?)`).run(source, format, sha256, advisories.length);
    })();
    return counts;
  }

  sourceHash(source: string): string | null {
    return (this.db.prepare(`SELECT sha256 FROM sources WHERE name = ?`).get(source) as { sha256: string } | undefined)?.sha256 ?? null;
  }

  /**
   * Affected entries for these package names of a family (scan's one query per target). The
   * advisory details (severity, summary, CVEs) are left empty here: `details` fills them for
   * the entries that match, which are few next to the entries a target's names select.
   */
  entriesFor(family: PackageFamily, names: readonly string[]): StoredEntry[] {
    const out: StoredEntry[] = [];
    const CHUNK = 500;
    for (let i = 0; i < names.length; i += CHUNK) {
      const part = names.slice(i, i + CHUNK);
      const rows = this.db
        .prepare(`SELECT advisory, distro, name, keyed, ranges, versions, fixed, arch FROM affected WHERE family = ? AND name IN (${part.map(() => '?').join(',')}) AND status = 'affected'`)
        .raw()
        .all(family, ...part) as [string, string, string, string, string, string, string | null, string | null][];
      for (const [advisory, distro, name, keyed, ranges, versions, fixed, arch] of rows) {
        out.push({
          advisory,
          severity: 'unknown',
          summary: '',
          cves: [],
          family,
          distro,
          name,
          keyed: keyed as AffectedEntry['keyed'],
          status: 'affected',
          ranges: JSON.parse(ranges) as AffectedEntry['ranges'],
          versions: versions === '[]' ? [] : (JSON.parse(versions) as string[]),
          fixed,
          arch,
        });
      }
    }
    return out;
  }

  /** Severity, summary and CVEs of advisories; withdrawn ones are absent. */
  details(ids: readonly string[]): Map<string, { severity: Severity; summary: string; cves: string[] }> {
    const out = new Map<string, { severity: Severity; summary: string; cves: string[] }>();
    const uniq = [...new Set(ids)];
    for (let i = 0; i < uniq.length; i += 500) {
      const part = uniq.slice(i, i + 500);
      const rows = this.db.prepare(`SELECT id, severity, summary, cves FROM advisories WHERE withdrawn = 0 AND id IN (${part.map(() => '?').join(',')})`).raw().all(...part) as [string, string, string, string][];
      for (const [id, severity, summary, cves] of rows) out.set(id, { severity: severity as Severity, summary, cves: JSON.parse(cves) as string[] });
    }
    return out;
  }

  /** Affected entries of the advisories that name a CVE (or an advisory id). */
  entriesForCve(cveOrId: string): StoredEntry[] {
    const rows = this.db
      .prepare(
        `SELECT f.*, a.severity, a.summary, a.withdrawn, a.cves FROM affected f JOIN advisories a ON a.id = f.advisory
         WHERE f.status = 'affected' AND a.withdrawn = 0 AND (f.advisory = ? OR f.advisory IN (SELECT advisory FROM cves WHERE cve = ?))`,
      )
      .all(cveOrId, cveOrId) as RawRow[];
    return rows.map((r) => this.entry(r));
  }

  private entry(r: RawRow): StoredEntry {
    return {
      advisory: r.advisory,
      severity: r.severity as Severity,
      summary: r.summary,
      cves: JSON.parse(r.cves) as string[],
      family: r.family as PackageFamily,
      distro: r.distro,
      name: r.name,
      keyed: r.keyed as AffectedEntry['keyed'],
      status: r.status as AffectedEntry['status'],
      ranges: JSON.parse(r.ranges) as AffectedEntry['ranges'],
      versions: JSON.parse(r.versions) as string[],
      fixed: r.fixed,
      arch: r.arch,
    };
  }

  stats(): { sources: { name: string; format: string; advisories: number }[]; advisories: number; cves: number } {
    return {
      sources: this.db.prepare(`SELECT name, format, advisories FROM sources ORDER BY name`).all() as { name: string; format: string; advisories: number }[],
      advisories: (this.db.prepare(`SELECT count(*) AS n FROM advisories`).get() as { n: number }).n,
      cves: (this.db.prepare(`SELECT count(DISTINCT cve) AS n FROM cves`).get() as { n: number }).n,
    };
  }

  /** Advisories for listing: id, severity, CVEs, packages. */
  list(opts: { cve?: string; package?: string; limit?: number } = {}): { id: string; severity: string; summary: string; cves: string[]; packages: string[] }[] {
    const where: string[] = [];
    const args: string[] = [];
    if (opts.cve) {
      where.push(`(a.id = ? OR a.id IN (SELECT advisory FROM cves WHERE cve = ?))`);
      args.push(opts.cve, opts.cve);
    }
    if (opts.package) {
      where.push(`a.id IN (SELECT advisory FROM affected WHERE name = ?)`);
      args.push(opts.package);
    }
    const rows = this.db
      .prepare(`SELECT a.id, a.severity, a.summary FROM advisories a ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.id LIMIT ?`)
      .all(...args, opts.limit ?? 1000) as { id: string; severity: string; summary: string }[];
    return rows.map((r) => ({
      ...r,
      cves: (this.db.prepare(`SELECT cve FROM cves WHERE advisory = ? ORDER BY cve`).all(r.id) as { cve: string }[]).map((x) => x.cve),
      packages: [...new Set((this.db.prepare(`SELECT name, distro FROM affected WHERE advisory = ? ORDER BY name`).all(r.id) as { name: string; distro: string }[]).map((x) => (x.distro ? `${x.name} (${x.distro})` : x.name)))],
    }));
  }
}

interface RawRow {
  advisory: string;
  family: string;
  distro: string;
  name: string;
  keyed: string;
  status: string;
  ranges: string;
  versions: string;
  fixed: string | null;
  arch: string | null;
  severity: string;
  summary: string;
  withdrawn: number;
  cves: string;
}

export interface StoredEntry extends AffectedEntry {
  advisory: string;
  severity: Severity;
  summary: string;
  cves: string[];
}

export interface SyncCounts {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
}

export interface SyncResult extends SyncCounts {
  source: string;
  format: AdvisoryFormat | null;
  /** True when the source's bytes were the same as at the last sync (nothing parsed). */
  skipped: boolean;
  advisories: number;
}

/** The bytes of a source: a URL, a file, or a directory of `*.json` OSV records (as one JSON array). */
async function readSource(source: string): Promise<Buffer> {
  if (/^https?:\/\//.test(source)) return (await fetchBuffer(source))!;
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new IngotError('PATH_NOT_FOUND', `advisory source ${source} does not exist`, { hint: 'give a file, a directory of OSV JSON files, or an http(s) URL', data: { path: source } });
  }
  if (st.isDirectory()) {
    const files = fs.readdirSync(source).filter((n) => n.endsWith('.json')).sort();
    const parts: string[] = [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(source, f), 'utf8');
      try {
        JSON.parse(text);
      } catch (e) {
        throw new IngotError('ADVISORY_INVALID', `${path.join(source, f)}: not valid JSON: ${(e as Error).message}`, { hint: 'fix or remove the file', data: { source: path.join(source, f) } });
      }
      parts.push(text);
    }
    return Buffer.from(`[${parts.join(',')}]`);
  }
  const b = fs.readFileSync(source);
  // updateinfo.xml.gz, as repositories publish it.
  if (b[0] === 0x1f && b[1] === 0x8b) {
    const { gunzipSync } = await import('node:zlib');
    return gunzipSync(b);
  }
  return b;
}

/**
 * Loads sources into the database, each in its own transaction. All sources are read and
 * parsed before any is applied, so that a bad one leaves the database as it was.
 */
export async function syncAdvisories(file: string, sources: readonly string[], opts: { distro?: string; force?: boolean } = {}): Promise<SyncResult[]> {
  const db = AdvisoryDb.open(file, { create: true });
  try {
    const parsed: { source: string; sha: string; format: AdvisoryFormat | null; advisories: Advisory[] | null }[] = [];
    for (const s of sources) {
      const name = /^https?:\/\//.test(s) ? s : path.resolve(s);
      const bytes = await readSource(s);
      const sha = createHash('sha256').update(bytes).update(opts.distro ?? '').digest('hex');
      if (!opts.force && db.sourceHash(name) === sha) {
        parsed.push({ source: name, sha, format: null, advisories: null });
        continue;
      }
      const r = parseAdvisories(bytes, name, opts.distro !== undefined ? { distro: opts.distro } : {});
      parsed.push({ source: name, sha, format: r.format, advisories: r.advisories });
    }
    return parsed.map((p) => {
      if (!p.advisories) {
        const n = (db.db.prepare(`SELECT advisories FROM sources WHERE name = ?`).get(p.source) as { advisories: number }).advisories;
        return { source: p.source, format: null, skipped: true, advisories: n, added: 0, updated: 0, removed: 0, unchanged: n };
      }
      const c = db.apply(p.source, p.format!, p.sha, p.advisories);
      return { source: p.source, format: p.format, skipped: false, advisories: p.advisories.length, ...c };
    });
  } finally {
    db.close();
  }
}
