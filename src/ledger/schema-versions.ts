// The schema versions of every ledger engine (PostgreSQL, CockroachDB, the embedded SQLite file): what
// each migration creates or rebuilds, and which version an engine needs. migrations.ts applies them.

export interface Migration {
  version: number;
  name: string;
  /** statements, `{ledger}`, `{spool}`, `{spool_body}`, `{spool_pause}` standing for the (schema-qualified) tables */
  postgres: string[];
  cockroachdb: string[];
  sqlite: string[];
  /** a tuning step: a schema without it serves the same, so a replica does not require it (migrate applies it) */
  tuning?: true;
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

// The embedded ledger's columns after its key (times in ms): the same in the table of version 1 and in
// its rowid-ordered rebuild of version 6.
const SQLITE_LEDGER_COLUMNS = `
        status      TEXT    NOT NULL CHECK (status IN ('processing', 'done', 'failed')),
        owner       TEXT    NOT NULL,
        attempt     INTEGER NOT NULL,
        lease_until INTEGER NOT NULL,
        resp_status INTEGER NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL`;

// The embedded spool's columns after its key (times in ms), and its indexes: the same in the table of
// version 2 and in its rowid-ordered rebuild of version 4.
const SQLITE_SPOOL_COLUMNS = `
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
        expires_at  INTEGER NULL`;
const SQLITE_SPOOL_INDEXES = [
  `CREATE INDEX IF NOT EXISTS hookgate_spool_ready ON hookgate_spool (route, tenant, (attempts > 0 OR replays > 0), next_at) WHERE state IN ('pending', 'delivering')`,
  `CREATE INDEX IF NOT EXISTS hookgate_spool_sweep ON hookgate_spool (expires_at) WHERE expires_at IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS hookgate_spool_list ON hookgate_spool (received_at)`,
];

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
        key_hash    BLOB    NOT NULL PRIMARY KEY,${SQLITE_LEDGER_COLUMNS}
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
        key_hash    BLOB    NOT NULL PRIMARY KEY,${SQLITE_SPOOL_COLUMNS}
      ) WITHOUT ROWID`,
      ...SQLITE_SPOOL_INDEXES,
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
    // hash is one small index (docs/benchmarks.md).
    sqlite: [
      `CREATE TABLE hookgate_spool_v4 (
        id          INTEGER PRIMARY KEY,
        key_hash    BLOB    NOT NULL UNIQUE,${SQLITE_SPOOL_COLUMNS}
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
      // its indexes went with the old table
      ...SQLITE_SPOOL_INDEXES,
    ],
  },
  {
    version: 5,
    name: 'spool bodies compressed with lz4 (PostgreSQL)',
    tuning: true,
    // PostgreSQL compresses a row over about 2 KB as it stores it; pglz spends about twice lz4's server
    // CPU on a webhook body (docs/benchmarks.md). lz4 needs PostgreSQL 14 built with it: where the
    // server refuses, the column keeps pglz (new rows only either way). CockroachDB has no TOAST.
    postgres: [
      `DO $do$ BEGIN
        EXECUTE $q$ALTER TABLE {spool_body} ALTER COLUMN body SET COMPRESSION lz4$q$;
      EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
      END $do$`,
    ],
    cockroachdb: [],
    sqlite: [],
  },
  {
    version: 6,
    name: 'embedded ledger rows in rowid order',
    tuning: true,
    postgres: [],
    cockroachdb: [],
    // Rows clustered by their random key hash put each claim on a leaf page of its own, and its
    // complete, a turn later, on the same page again: two random pages into the WAL a delivery. In
    // rowid order a claim appends beside the turn's others and its complete finds it there; the key
    // hash is a small unique index (docs/benchmarks.md). The statements read the table by key hash
    // either way, so this is tuning: a file not yet migrated still works.
    sqlite: [
      `CREATE TABLE hookgate_ledger_v6 (
        id          INTEGER PRIMARY KEY,
        key_hash    BLOB    NOT NULL UNIQUE,${SQLITE_LEDGER_COLUMNS}
      )`,
      `INSERT INTO hookgate_ledger_v6 (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at)
        SELECT key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at
        FROM hookgate_ledger ORDER BY updated_at, key_hash`,
      `DROP TABLE hookgate_ledger`,
      `ALTER TABLE hookgate_ledger_v6 RENAME TO hookgate_ledger`,
      // its index went with the old table
      `CREATE INDEX IF NOT EXISTS hookgate_ledger_expires_at ON hookgate_ledger (expires_at)`,
    ],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The version an engine's schema must be at: the last that changes it, tuning aside (a later one may change only another engine's). */
export function requiredVersion(engine: 'postgres' | 'cockroachdb' | 'sqlite'): number {
  return MIGRATIONS.filter((m) => m[engine].length > 0 && !m.tuning).at(-1)!.version;
}
