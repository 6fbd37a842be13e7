// Versioned schema migrations for the SQL ledgers (PostgreSQL, CockroachDB) and the embedded one; the
// versions themselves are in schema-versions.ts.
//
// A `hookgate_schema_version` table records each applied version. Several replicas may start at once:
//   - PostgreSQL: one transaction holding a transaction-level advisory lock, in READ COMMITTED so
//     that a replica that waited for the lock sees what the winner committed;
//   - CockroachDB: advisory locks are no-op stubs there (shared/ledger.md §4.2.3), so a lease row in
//     `hookgate_migration_lock` is claimed with the same INSERT … ON CONFLICT … WHERE expired pattern
//     as the ledger; every DDL statement is idempotent (IF NOT EXISTS), so a holder that dies midway
//     leaves nothing the next holder cannot redo;
//   - SQLite: BEGIN IMMEDIATE takes the single writer lock.
import { createHash, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { LATEST_VERSION, MIGRATIONS } from './schema-versions.js';

/** The minimal query surface migrations need (a pg Pool client, or an in-process engine in tests). */
export type Query = (text: string, values?: unknown[]) => Promise<{ rows: any[]; rowCount: number | null }>;

export interface SqlMigrationTarget {
  /** run `fn` on one connection (the advisory lock and the transaction must stay on it) */
  withConnection<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  query: Query;
}

export interface MigrationResult { from: number; to: number }

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export function qualified(schema: string | undefined, table: string): string {
  return schema ? `${quoteIdent(schema)}.${table}` : table;
}

/**
 * Brings a PostgreSQL or CockroachDB ledger schema to LATEST_VERSION. `ddl` picks the statements the
 * server understands; `lock` picks how concurrent replicas are kept apart.
 */
export async function migrateSql(
  target: SqlMigrationTarget,
  opts: { schema?: string; ddl: 'postgres' | 'cockroachdb'; lock: 'advisory' | 'row'; lockWaitMs?: number },
): Promise<MigrationResult> {
  const names = {
    ledger: qualified(opts.schema, 'hookgate_ledger'),
    version: qualified(opts.schema, 'hookgate_schema_version'),
    lock: qualified(opts.schema, 'hookgate_migration_lock'),
    spool: qualified(opts.schema, 'hookgate_spool'),
    spool_body: qualified(opts.schema, 'hookgate_spool_body'),
    spool_pause: qualified(opts.schema, 'hookgate_spool_pause'),
  };
  const steps = async (query: Query): Promise<MigrationResult> => {
    if (opts.schema) await idempotentDdl(query, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
    await idempotentDdl(query, `CREATE TABLE IF NOT EXISTS ${names.version} (
      version INT4 NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const { rows } = await query(`SELECT COALESCE(MAX(version), 0)::INT4 AS v FROM ${names.version}`);
    const from = Number(rows[0]?.v ?? 0);
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      for (const stmt of m[opts.ddl]) {
        await idempotentDdl(query, stmt.replaceAll('{ledger}', names.ledger).replaceAll('{spool_body}', names.spool_body).replaceAll('{spool_pause}', names.spool_pause).replaceAll('{spool}', names.spool));
      }
      await query(`INSERT INTO ${names.version} (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING`, [m.version, m.name]);
    }
    return { from, to: Math.max(from, LATEST_VERSION) };
  };

  if (opts.lock === 'advisory') {
    return target.withConnection(async (query) => {
      // READ COMMITTED: under SERIALIZABLE the snapshot would be taken before the lock is granted,
      // and a replica that waited would not see the versions the winner recorded.
      await query('BEGIN ISOLATION LEVEL READ COMMITTED');
      try {
        await query('SELECT pg_advisory_xact_lock($1::INT8)', [advisoryKey(opts.schema)]);
        const r = await steps(query);
        await query('COMMIT');
        return r;
      } catch (err) {
        await query('ROLLBACK').catch(() => {});
        throw err;
      }
    });
  }

  // Lock row: created idempotently, then leased like a ledger key.
  const query = target.query;
  if (opts.schema) await idempotentDdl(query, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
  await idempotentDdl(query, `CREATE TABLE IF NOT EXISTS ${names.lock} (
    id INT4 NOT NULL PRIMARY KEY, owner UUID NOT NULL, expires_at TIMESTAMPTZ NOT NULL)`);
  const owner = randomUUID();
  const waitUntil = Date.now() + (opts.lockWaitMs ?? 120_000);
  for (let i = 0; ; i++) {
    // Racing replicas in SERIALIZABLE: the losers of the lock row see 40001; that is "not acquired".
    const { rows } = await query(
      `INSERT INTO ${names.lock} AS k (id, owner, expires_at) VALUES (1, $1, now() + INTERVAL '60 seconds')
       ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE k.expires_at <= now() OR k.owner = excluded.owner
       RETURNING k.owner`, [owner]).catch((err: { code?: string }) => {
      if (err?.code === '40001' || err?.code === '40P01') return { rows: [], rowCount: 0 };
      throw err;
    });
    if (rows.length === 1) break;
    if (Date.now() > waitUntil) throw new Error('timed out waiting for the migration lock row (another replica holds it)');
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 150) + Math.min(i, 10) * 20));
  }
  try {
    return await steps(query);
  } finally {
    await query(`DELETE FROM ${names.lock} WHERE id = 1 AND owner = $1`, [owner]).catch(() => {});
  }
}

/** Current schema version, 0 when the ledger was never migrated. */
export async function sqlSchemaVersion(query: Query, schema?: string): Promise<number> {
  try {
    const { rows } = await query(`SELECT COALESCE(MAX(version), 0)::INT4 AS v FROM ${qualified(schema, 'hookgate_schema_version')}`);
    return Number(rows[0]?.v ?? 0);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') return 0;
    throw err;
  }
}

// Two replicas running CREATE … IF NOT EXISTS at the same moment can still collide on the catalog
// (PostgreSQL raises 23505 on pg_type or 42P06/42P07): the object exists, which is what we wanted.
async function idempotentDdl(query: Query, stmt: string): Promise<void> {
  try {
    await query(stmt);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '23505' || code === '42P06' || code === '42P07' || code === '42710') return;
    throw err;
  }
}

/** A 64-bit advisory lock key of its own per schema, so ledgers in different schemas do not wait on each other. */
function advisoryKey(schema: string | undefined): string {
  return createHash('sha256').update(`hookgate-migrate:${schema ?? ''}`).digest().readBigInt64BE(0).toString();
}

/** SQLite: same versions, in one IMMEDIATE transaction (the database's single writer lock). */
export function migrateSqlite(db: Database.Database): MigrationResult {
  const run = db.transaction((): MigrationResult => {
    db.exec(`CREATE TABLE IF NOT EXISTS hookgate_schema_version (
      version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const row = db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM hookgate_schema_version').get() as { v: number };
    const from = Number(row.v);
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      for (const stmt of m.sqlite) db.exec(stmt);
      db.prepare('INSERT INTO hookgate_schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
    return { from, to: Math.max(from, LATEST_VERSION) };
  });
  return run.immediate();
}
