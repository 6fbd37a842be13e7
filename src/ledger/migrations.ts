// Versioned schema migrations for the SQL ledgers (PostgreSQL, CockroachDB) and the embedded one.
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

export interface Migration {
  version: number;
  name: string;
  /** statements, `{ledger}`, `{spool}`, `{spool_body}`, `{spool_pause}` standing for the (schema-qualified) tables */
  postgres: string[];
  cockroachdb: string[];
  sqlite: string[];
}

// Columns (shared/ledger.md §2.3): the key is sha256 of the delivery key, so writes spread over
// CockroachDB ranges without hash sharding; INT4 so node-postgres returns numbers on both engines;
// leases and expiry in database time.
const LEDGER_COLUMNS = `
  key_hash    BYTEA       NOT NULL PRIMARY KEY,
  status      TEXT        NOT NULL CHECK (status IN ('processing', 'done', 'failed')),
  owner       UUID        NOT NULL,
  attempt     INT4        NOT NULL,
  lease_until TIMESTAMPTZ NOT NULL,
  resp_status INT4        NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at  TIMESTAMPTZ NOT NULL`;

// The spool (src/spool, shared/spool.md §c.3): a delivery row keyed by the ledger's key hash (a key
// is spooled at most once), small and updated on every attempt; the request's bytes in a write-once
// table beside it (state updates never rewrite them); pauses as a few rows read by every claim.
const SPOOL_COLUMNS = `
  key_hash    BYTEA       NOT NULL PRIMARY KEY,
  key         TEXT        NOT NULL,
  route       TEXT        NOT NULL,
  tenant      TEXT        NOT NULL,
  state       TEXT        NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'dead', 'cancelled')),
  owner       UUID        NULL,
  next_at     TIMESTAMPTZ NOT NULL,
  attempts    INT4        NOT NULL DEFAULT 0,
  replays     INT4        NOT NULL DEFAULT 0,
  last_status INT4        NULL,
  last_error  TEXT        NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at  TIMESTAMPTZ NULL`;
const SPOOL_BODY_COLUMNS = `
  key_hash BYTEA NOT NULL PRIMARY KEY,
  method   TEXT  NOT NULL,
  path     TEXT  NOT NULL,
  headers  BYTEA NOT NULL,
  body     BYTEA NOT NULL,
  meta     TEXT  NULL`;
const SPOOL_PAUSE_COLUMNS = `
  route     TEXT        NOT NULL,
  tenant    TEXT        NOT NULL DEFAULT '*',
  paused_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (route, tenant)`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger table',
    postgres: [
      `CREATE TABLE IF NOT EXISTS {ledger} (${LEDGER_COLUMNS}\n)`,
      // the sweeper deletes expired rows in expires_at order
      `CREATE INDEX IF NOT EXISTS hookgate_ledger_expires_at ON {ledger} (expires_at)`,
    ],
    cockroachdb: [
      // Row-level TTL on our own column (row-level-ttl.md: prefer ttl_expiration_expression; no
      // secondary index, it slows the TTL job). The cron follows the docs' advice to run no more often
      // than gc.ttlseconds (4 h); expired rows are treated as absent by every statement meanwhile.
      `CREATE TABLE IF NOT EXISTS {ledger} (${LEDGER_COLUMNS}\n) WITH (ttl_expiration_expression = 'expires_at', ttl_job_cron = '0 */4 * * *')`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS hookgate_ledger (
        key_hash    BLOB    NOT NULL PRIMARY KEY,
        status      TEXT    NOT NULL CHECK (status IN ('processing', 'done', 'failed')),
        owner       TEXT    NOT NULL,
        attempt     INTEGER NOT NULL,
        lease_until INTEGER NOT NULL,
        resp_status INTEGER NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      ) WITHOUT ROWID`,
      `CREATE INDEX IF NOT EXISTS hookgate_ledger_expires_at ON hookgate_ledger (expires_at)`,
    ],
  },
  {
    version: 2,
    name: 'spool tables',
    postgres: [
      `CREATE TABLE IF NOT EXISTS {spool} (${SPOOL_COLUMNS}\n)`,
      // claimable = pending and due, or delivering with its lease run out: one partial index serves
      // both, per tenant, first tries before retries, oldest first (the due query walks it tenant by tenant)
      `CREATE INDEX IF NOT EXISTS hookgate_spool_ready ON {spool} (route, tenant, (attempts > 0 OR replays > 0), next_at) WHERE state IN ('pending', 'delivering')`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_sweep ON {spool} (expires_at) WHERE expires_at IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_list ON {spool} (received_at)`,
      `CREATE TABLE IF NOT EXISTS {spool_body} (${SPOOL_BODY_COLUMNS}\n)`,
      `CREATE TABLE IF NOT EXISTS {spool_pause} (${SPOOL_PAUSE_COLUMNS}\n)`,
      // a queue table churns: vacuum it sooner than the default 20 % of dead rows (shared/spool.md §b.2)
      `ALTER TABLE {spool} SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000)`,
    ],
    cockroachdb: [
      `CREATE TABLE IF NOT EXISTS {spool} (${SPOOL_COLUMNS}\n)`,
      // time-ordered index keys pile onto one range: hash-sharded (CockroachDB >= 22.1)
      `CREATE INDEX IF NOT EXISTS hookgate_spool_due ON {spool} (next_at) USING HASH`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_sweep ON {spool} (expires_at) USING HASH`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_list ON {spool} (received_at) USING HASH`,
      `CREATE TABLE IF NOT EXISTS {spool_body} (${SPOOL_BODY_COLUMNS}\n)`,
      `CREATE TABLE IF NOT EXISTS {spool_pause} (${SPOOL_PAUSE_COLUMNS}\n)`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS hookgate_spool (
        key_hash    BLOB    NOT NULL PRIMARY KEY,
        key         TEXT    NOT NULL,
        route       TEXT    NOT NULL,
        tenant      TEXT    NOT NULL,
        state       TEXT    NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'dead', 'cancelled')),
        owner       TEXT    NULL,
        next_at     INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        replays     INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER NULL,
        last_error  TEXT    NULL,
        received_at INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        expires_at  INTEGER NULL
      ) WITHOUT ROWID`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_ready ON hookgate_spool (route, tenant, (attempts > 0 OR replays > 0), next_at) WHERE state IN ('pending', 'delivering')`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_sweep ON hookgate_spool (expires_at) WHERE expires_at IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS hookgate_spool_list ON hookgate_spool (received_at)`,
      `CREATE TABLE IF NOT EXISTS hookgate_spool_body (
        key_hash BLOB NOT NULL PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL, meta TEXT NULL
      ) WITHOUT ROWID`,
      `CREATE TABLE IF NOT EXISTS hookgate_spool_pause (
        route TEXT NOT NULL, tenant TEXT NOT NULL DEFAULT '*', paused_at INTEGER NOT NULL, PRIMARY KEY (route, tenant)
      ) WITHOUT ROWID`,
    ],
  },
  {
    version: 3,
    name: 'embedded spool bodies in rowid order',
    postgres: [],
    cockroachdb: [],
    // A body (kilobytes) clustered by its random key hash split a page on most inserts; in rowid
    // order bodies append, and the key hash is a small index (docs/benchmarks.md).
    sqlite: [
      `CREATE TABLE hookgate_spool_body_v3 (
        id INTEGER PRIMARY KEY, key_hash BLOB NOT NULL UNIQUE, method TEXT NOT NULL, path TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL, meta TEXT NULL
      )`,
      `INSERT INTO hookgate_spool_body_v3 (key_hash, method, path, headers, body, meta) SELECT key_hash, method, path, headers, body, meta FROM hookgate_spool_body`,
      `DROP TABLE hookgate_spool_body`,
      `ALTER TABLE hookgate_spool_body_v3 RENAME TO hookgate_spool_body`,
    ],
  },
  {
    version: 4,
    name: 'embedded spool rows in rowid order',
    postgres: [],
    cockroachdb: [],
    // Rows clustered by their random key hash put each accept on a page of its own, and the bodies'
    // key-hash index on another; in rowid order rows and bodies append, one id joins them and the key
    // hash is one small index (57 → 39 KB written an accept, docs/benchmarks.md).
    sqlite: [
      `CREATE TABLE hookgate_spool_v4 (
        id          INTEGER PRIMARY KEY,
        key_hash    BLOB    NOT NULL UNIQUE,
        key         TEXT    NOT NULL,
        route       TEXT    NOT NULL,
        tenant      TEXT    NOT NULL,
        state       TEXT    NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'dead', 'cancelled')),
        owner       TEXT    NULL,
        next_at     INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        replays     INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER NULL,
        last_error  TEXT    NULL,
        received_at INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        expires_at  INTEGER NULL
      )`,
      `INSERT INTO hookgate_spool_v4 (key_hash, key, route, tenant, state, owner, next_at, attempts, replays, last_status, last_error, received_at, updated_at, expires_at)
        SELECT key_hash, key, route, tenant, state, owner, next_at, attempts, replays, last_status, last_error, received_at, updated_at, expires_at
        FROM hookgate_spool ORDER BY received_at, key_hash`,
      // a body without its row was left by nothing that commits; it is not carried over
      `CREATE TABLE hookgate_spool_body_v4 (
        id INTEGER PRIMARY KEY, method TEXT NOT NULL, path TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL, meta TEXT NULL
      )`,
      `INSERT INTO hookgate_spool_body_v4 (id, method, path, headers, body, meta)
        SELECT s.id, b.method, b.path, b.headers, b.body, b.meta FROM hookgate_spool_body AS b JOIN hookgate_spool_v4 AS s ON s.key_hash = b.key_hash ORDER BY s.id`,
      `DROP TABLE hookgate_spool_body`,
      `DROP TABLE hookgate_spool`,
      `ALTER TABLE hookgate_spool_v4 RENAME TO hookgate_spool`,
      `ALTER TABLE hookgate_spool_body_v4 RENAME TO hookgate_spool_body`,
      `CREATE INDEX hookgate_spool_ready ON hookgate_spool (route, tenant, (attempts > 0 OR replays > 0), next_at) WHERE state IN ('pending', 'delivering')`,
      `CREATE INDEX hookgate_spool_sweep ON hookgate_spool (expires_at) WHERE expires_at IS NOT NULL`,
      `CREATE INDEX hookgate_spool_list ON hookgate_spool (received_at)`,
    ],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The version an engine's schema must be at: the last that changes it (a later one may change only another engine's). */
export function requiredVersion(engine: 'postgres' | 'cockroachdb' | 'sqlite'): number {
  return MIGRATIONS.filter((m) => m[engine].length > 0).at(-1)!.version;
}

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
