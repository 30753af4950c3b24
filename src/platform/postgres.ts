/**
 * A small SQL interface with two backends, so that the fleet index runs the same statements on
 * an embedded SQLite file and on a PostgreSQL server: statements use `?` placeholders (turned
 * into `$1…` for PostgreSQL), results are plain row objects, and a transaction is a callback
 * that commits when it returns and rolls back when it throws. PostgreSQL is reached through the
 * `pg` client (the network stays in this layer).
 */
import Database from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { IngotError } from '../core/errors.js';

export interface SqlDb {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the database is, for messages (file path, or the URL without its password). */
  readonly label: string;
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * A SELECT whose rows come as arrays of the selected columns, in order: no object per row,
   * which counts when an answer has tens of thousands of rows.
   */
  rows<T extends unknown[] = unknown[]>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (db: SqlDb) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function dbError(label: string, e: unknown): IngotError {
  return new IngotError('INDEX_DB_INVALID', `${label}: ${(e as Error).message}`, {
    hint: 'check that the database exists and is reachable (for PostgreSQL: the URL, the server, the credentials)',
    data: { db: label },
    cause: e,
  });
}

export function openSqlite(file: string): SqlDb {
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
  } catch (e) {
    throw dbError(file, e);
  }
  const self: SqlDb = {
    kind: 'sqlite',
    label: file,
    async query<T>(sql: string, params: readonly unknown[] = []) {
      try {
        const st = db.prepare(sql);
        return (st.reader ? st.all(...params) : (st.run(...params), [])) as T[];
      } catch (e) {
        throw dbError(file, e);
      }
    },
    async rows<T extends unknown[]>(sql: string, params: readonly unknown[] = []) {
      try {
        return db.prepare(sql).raw().all(...params) as T[];
      } catch (e) {
        throw dbError(file, e);
      }
    },
    async exec(sql: string) {
      try {
        db.exec(sql);
      } catch (e) {
        throw dbError(file, e);
      }
    },
    async transaction<T>(fn: (d: SqlDb) => Promise<T>) {
      db.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn(self);
        db.exec('COMMIT');
        return r;
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
    },
    async close() {
      db.close();
    },
  };
  return self;
}

const toDollar = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

type Queryable = {
  query: (text: string | { text: string; values?: unknown[]; rowMode?: 'array' }, values?: unknown[]) => Promise<{ rows: unknown[] }>;
};

function wrap(q: Queryable, label: string, pool: Pool | null): SqlDb {
  const self: SqlDb = {
    kind: 'postgres',
    label,
    async query<T>(sql: string, params: readonly unknown[] = []) {
      try {
        return (await q.query(toDollar(sql), [...params])).rows as T[];
      } catch (e) {
        throw dbError(label, e);
      }
    },
    async rows<T extends unknown[]>(sql: string, params: readonly unknown[] = []) {
      try {
        return (await q.query({ text: toDollar(sql), values: [...params], rowMode: 'array' })).rows as T[];
      } catch (e) {
        throw dbError(label, e);
      }
    },
    async exec(sql: string) {
      try {
        await q.query(sql);
      } catch (e) {
        throw dbError(label, e);
      }
    },
    async transaction<T>(fn: (d: SqlDb) => Promise<T>) {
      if (!pool) return fn(self);
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw dbError(label, e);
      }
      try {
        await client.query('BEGIN');
        const r = await fn(wrap(client, label, null));
        await client.query('COMMIT');
        return r;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool?.end();
    },
  };
  return self;
}

/** Connects to PostgreSQL (`postgres://user:pass@host:port/db` or `postgresql://…`). */
export async function openPostgres(url: string): Promise<SqlDb> {
  const label = redact(url);
  // Loaded here, not at start-up: most commands never reach PostgreSQL, and the client costs
  // tens of milliseconds to load.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw dbError(label, e);
  }
  return wrap(pool, label, pool);
}
