// The PostgreSQL / CockroachDB ledger, through node-postgres.
//
// Every operation is ONE statement (shared/ledger.md §1.2: CockroachDB retries a single small
// statement by itself), fenced by the claim's random owner token, run in SERIALIZABLE isolation and
// wrapped in the retry loop of retry.ts. Leases and expiry use database time, never this process's
// clock. Rows whose expires_at passed are treated as absent by every statement at once; they are
// deleted later by the sweeper (PostgreSQL) or by row-level TTL (CockroachDB). Follower reads and
// AS OF SYSTEM TIME are never used: a stale read would let a duplicate through (§3.4).
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ClaimResult, Ledger, LedgerOptions } from './types.js';
import { DEFAULT_RETRY, unavailable, withRetry, type ErrorKind, type Resolution, type RetryPolicy } from './retry.js';
import { LATEST_VERSION, migrateSql, qualified, sqlSchemaVersion, type Query, type SqlMigrationTarget } from './migrations.js';
import { checkStatus, keyHash, newToken, validateOptions, type LedgerLog } from './common.js';

export type Dialect = 'postgres' | 'cockroachdb';

/** What the SQL ledger needs from a database: a pool (or an in-process engine in tests). */
export interface SqlDriver extends SqlMigrationTarget {
  end(): Promise<void>;
}

export interface SqlLedgerDeps {
  log?: LedgerLog;
  /** each failed attempt that is retried or resolved (for metrics) */
  onRetry?(err: unknown, kind: ErrorKind): void;
}

const SERIALIZABLE = '-c default_transaction_isolation=serializable';

/** A pg Pool in SERIALIZABLE isolation, sized and timed out for a sidecar (shared/ledger.md §4.1). */
export function pgDriver(url: string, opts: { poolSize?: number; statementTimeoutMs?: number; log?: LedgerLog } = {}): SqlDriver & { pool: pg.Pool } {
  const u = new URL(url);
  // Isolation goes in the startup packet, so every pooled session has it before its first statement.
  // node-postgres lets a URL's `options` override the config's, so merge them here.
  const options = [u.searchParams.get('options') ?? process.env.PGOPTIONS, SERIALIZABLE].filter(Boolean).join(' ');
  u.searchParams.delete('options');
  const timeout = opts.statementTimeoutMs ?? 2000;
  const pool = new pg.Pool({
    connectionString: u.toString(),
    options,
    max: opts.poolSize ?? 10,
    idleTimeoutMillis: 300_000, // CockroachDB: long idle life, fixed pool (connection-pooling.md)
    maxLifetimeSeconds: 300 + Math.floor(Math.random() * 30), // with jitter, so replicas do not reconnect together
    connectionTimeoutMillis: timeout,
    statement_timeout: timeout,
    query_timeout: timeout + 1000, // client backstop; the server's statement_timeout fires first
    application_name: 'hookgate',
    keepAlive: true,
  });
  // An idle client's socket error is emitted here; without a listener it would crash the process.
  pool.on('error', (err) => opts.log?.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'ledger: idle database connection failed'));
  // The ledger's per-delivery statements (claim, complete, release, lookup: tagged `/* hookgate:NAME */`)
  // run as named prepared statements: the server parses and plans each once per connection instead of
  // on every delivery (bench:ledger: +45% claim+complete/s on PostgreSQL 15). node-postgres prepares
  // them again on each new connection. The name carries a hash of the text, so two schemas never share
  // a name. Everything else (migrations, sweep, version) stays unnamed.
  const query: Query = (text, values) => {
    const name = preparedName(text);
    return name ? pool.query({ name, text, values: values as unknown[] }) : pool.query(text, values as unknown[]);
  };
  return {
    pool,
    query,
    async withConnection(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        return await fn((text, values) => client.query(text, values as unknown[]));
      } catch (err) {
        broken = err as Error;
        throw err;
      } finally {
        client.release(broken);
      }
    },
    end: () => pool.end(),
  };
}

const PREPARED = /^\/\* hookgate:(claim|complete|release|lookup) \*\//;
const preparedNames = new Map<string, string | null>();

/** The prepared-statement name for one of the hot statements, or undefined to run the text unnamed. */
export function preparedName(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined) {
    const tag = PREPARED.exec(text)?.[1];
    name = tag ? `hookgate_${tag}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}` : null;
    // bounded: one entry per statement text (a handful per schema)
    if (preparedNames.size < 1000) preparedNames.set(text, name);
  }
  return name ?? undefined;
}

/** Which engine answers: CockroachDB says so in version(); its server_version imitates PostgreSQL's (§3.5). */
export async function detectDialect(query: Query): Promise<Dialect> {
  const { rows } = await query('SELECT version() AS v');
  return String(rows[0]?.v ?? '').startsWith('CockroachDB') ? 'cockroachdb' : 'postgres';
}

const interval = (ms: number) => `${Math.max(0, Math.round(ms))} milliseconds`;

interface ClaimRow { status: string; mine: boolean; attempt: number; resp_status: number | null; wait_ms: number; expires_ms: number }
interface LookupRow { status: string; mine: boolean; attempt: number }

export class SqlLedger implements Ledger {
  readonly backend: Dialect;
  private readonly sql: ReturnType<typeof statements>;
  private readonly policy: RetryPolicy;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private closed = false;

  constructor(
    private readonly driver: SqlDriver,
    private readonly opts: LedgerOptions,
    dialect: Dialect,
    private readonly deps: SqlLedgerDeps = {},
  ) {
    this.backend = dialect;
    this.sql = statements(qualified(opts.schema, 'hookgate_ledger'));
    this.policy = { ...DEFAULT_RETRY, budgetMs: opts.retryBudgetMs ?? DEFAULT_RETRY.budgetMs };
    // CockroachDB deletes expired rows with row-level TTL; PostgreSQL needs us to.
    const every = opts.sweepIntervalMs ?? 60_000;
    if (dialect === 'postgres' && every > 0) {
      this.sweeper = setInterval(() => void this.sweep().catch(() => {}), every);
      this.sweeper.unref();
    }
  }

  async claim(key: string): Promise<ClaimResult> {
    const hash = keyHash(key);
    // One token for the whole operation: a claim re-run after an ambiguous error finds its own
    // token on the row (the statement returns `mine`), which is the read-back that tells whether
    // the first attempt landed. No lost claim, no double claim.
    const token = newToken();
    const params = [hash, token, interval(this.opts.leaseMs), interval(this.opts.retentionMs)];
    // An empty answer only happens under READ COMMITTED (a row committed after the statement's
    // snapshot); run again, a few times at most.
    for (let i = 0; i < 5; i++) {
      const rows = await this.run<ClaimRow[]>('claim', true, async () => (await this.driver.query(this.sql.claim, params)).rows);
      const row = rows[0];
      if (!row) continue;
      if (row.status === 'claimed' || (row.mine && row.status === 'processing')) return { state: 'claimed', token, attempt: Number(row.attempt) };
      if (row.status === 'done') return { state: 'done', status: Number(row.resp_status), expiresInMs: Math.floor(Number(row.expires_ms)) };
      if (row.status === 'processing') return { state: 'in_flight', retryAfterMs: Math.max(1, Math.ceil(Number(row.wait_ms))) };
    }
    throw unavailable('claim', new Error('the claim found no row after 5 tries'), this.policy);
  }

  async complete(key: string, token: string, status: number): Promise<boolean> {
    checkStatus(status);
    const hash = keyHash(key);
    return this.run('complete', true,
      async () => ((await this.driver.query(this.sql.complete, [hash, token, status, interval(this.opts.retentionMs)])).rowCount ?? 0) === 1,
      () => this.resolve(hash, token, 'done'));
  }

  release(key: string, token: string): Promise<boolean> {
    const hash = keyHash(key);
    return this.run('release', true,
      async () => ((await this.driver.query(this.sql.release, [hash, token])).rowCount ?? 0) === 1,
      () => this.resolve(hash, token, 'failed'));
  }

  async ping(): Promise<void> {
    await this.run('ping', false, () => this.driver.query('SELECT 1'));
  }

  /** Deletes expired rows in batches; returns how many. Several replicas may sweep at once (SKIP LOCKED). */
  async sweep(batch = 1000, maxBatches = 20): Promise<number> {
    if (this.sweeping || this.closed) return 0;
    this.sweeping = true;
    let total = 0;
    try {
      for (let i = 0; i < maxBatches; i++) {
        const r = await this.driver.query(this.sql.sweep, [batch]);
        total += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) < batch) break;
      }
    } catch (err) {
      // A 40001 against a concurrent claim recycling the same row is expected now and then.
      this.deps.log?.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'ledger: sweeping expired rows failed; will try again');
    } finally {
      this.sweeping = false;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await this.driver.end();
  }

  /**
   * Read-back after an ambiguous complete/release (40003, connection cut after the statement was
   * sent): our token on the row in the target state means our write landed; our token still on a
   * processing row means it did not, and may run again; any other row means we lost the key.
   */
  private async resolve(hash: Buffer, token: string, target: 'done' | 'failed'): Promise<Resolution<boolean>> {
    const { rows } = await this.driver.query(this.sql.lookup, [hash, token]);
    const row = rows[0] as LookupRow | undefined;
    if (row?.mine && row.status === target) return { landed: true, value: true };
    if (row?.mine && row.status === 'processing') return { landed: false };
    return { landed: true, value: false };
  }

  private run<T>(what: string, write: boolean, fn: () => Promise<T>, resolve?: () => Promise<Resolution<T>>): Promise<T> {
    if (this.closed) return Promise.reject(unavailable(what, new Error('the ledger is closed'), this.policy));
    return withRetry(what, fn, {
      policy: this.policy,
      write,
      ...(resolve ? { resolve } : {}),
      onRetry: (err, kind) => this.deps.onRetry?.(err, kind),
    });
  }
}

/**
 * The statements. The `hookgate:` comment names each one, for pg_stat_statements and for the fault
 * proxy in the tests. Parameters: $1 key hash, $2 owner token, then per statement.
 */
export function statements(table: string) {
  // A row may be (re)claimed when it has expired (treated as absent: attempt restarts at 1), when it
  // failed (released), or when its lease ran out without a settle (the claimer died).
  const takeable = `l.expires_at <= now() OR l.status = 'failed' OR (l.status = 'processing' AND l.lease_until <= now())`;
  return {
    // $3 lease, $4 retention. The data-modifying CTE claims when it may; otherwise the outer SELECT
    // returns the row as it stands (done + status, or in flight + remaining lease, or ours after an
    // ambiguous first attempt). Under SERIALIZABLE the conflict check raises 40001 when the
    // conflicting row is not visible to the statement's snapshot, so a statement that succeeds always
    // returns one row; losers only lock the row, never write it.
    claim: `/* hookgate:claim */
WITH claimed AS (
  INSERT INTO ${table} AS l (key_hash, status, owner, attempt, lease_until, expires_at)
  VALUES ($1, 'processing', $2, 1, now() + $3::INTERVAL, now() + $4::INTERVAL)
  ON CONFLICT (key_hash) DO UPDATE SET
    status = 'processing',
    owner = excluded.owner,
    attempt = CASE WHEN l.expires_at <= now() THEN 1 ELSE l.attempt + 1 END,
    lease_until = excluded.lease_until,
    resp_status = NULL,
    created_at = CASE WHEN l.expires_at <= now() THEN now() ELSE l.created_at END,
    updated_at = now(),
    expires_at = excluded.expires_at
  WHERE ${takeable}
  RETURNING l.attempt
)
SELECT 'claimed' AS status, true AS mine, attempt, NULL::INT4 AS resp_status, 0::FLOAT8 AS wait_ms, 0::FLOAT8 AS expires_ms
  FROM claimed
UNION ALL
SELECT l.status, l.owner = $2 AS mine, l.attempt, l.resp_status,
       GREATEST(0, EXTRACT(EPOCH FROM (l.lease_until - now())) * 1000)::FLOAT8,
       GREATEST(0, EXTRACT(EPOCH FROM (l.expires_at - now())) * 1000)::FLOAT8
  FROM ${table} AS l
 WHERE l.key_hash = $1 AND l.expires_at > now() AND NOT EXISTS (SELECT 1 FROM claimed)`,

    // $3 upstream status, $4 retention (the key is remembered for `retention` after it settles).
    // No RETURNING: rowCount says whether our token still owned the claim.
    complete: `/* hookgate:complete */
UPDATE ${table} SET status = 'done', resp_status = $3, lease_until = now(), updated_at = now(), expires_at = now() + $4::INTERVAL
 WHERE key_hash = $1 AND owner = $2 AND status = 'processing'`,

    // The row keeps its attempt counter; the next claim takes it over at once.
    release: `/* hookgate:release */
UPDATE ${table} SET status = 'failed', lease_until = now(), updated_at = now()
 WHERE key_hash = $1 AND owner = $2 AND status = 'processing'`,

    lookup: `/* hookgate:lookup */
SELECT status, owner = $2 AS mine, attempt FROM ${table} WHERE key_hash = $1 AND expires_at > now()`,

    // DELETE … LIMIT is CockroachDB-only, hence the IN-subquery (§3.1); SKIP LOCKED keeps replicas'
    // sweepers and live claims out of each other's way; the outer test re-checks expiry.
    sweep: `/* hookgate:sweep */
DELETE FROM ${table} WHERE key_hash IN (
  SELECT key_hash FROM ${table} WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
) AND expires_at <= now()`,
  };
}

/**
 * Connects, tells the engine, migrates (unless told not to) and returns the ledger. The connect
 * phase gets a longer budget than one operation: a replica starting beside a database that is
 * itself starting should wait a little rather than crash-loop.
 */
export async function openSqlLedger(driver: SqlDriver, opts: LedgerOptions, deps: SqlLedgerDeps = {}): Promise<SqlLedger> {
  validateOptions(opts);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, budgetMs: Math.max(opts.retryBudgetMs ?? DEFAULT_RETRY.budgetMs, 5000) };
  try {
    const server = await withRetry('connect', () => detectDialect(driver.query), { policy, write: false });
    const dialect: Dialect = opts.dialect === 'postgres' || opts.dialect === 'cockroachdb' ? opts.dialect : server;
    if (opts.migrate) {
      await withRetry('migrate', () => migrateSql(driver, {
        ...(opts.schema ? { schema: opts.schema } : {}),
        ddl: server, // the statements the server understands
        lock: dialect === 'cockroachdb' ? 'row' : 'advisory', // the runtime path asked for
      }), { policy, write: false });
    } else {
      const v = await withRetry('schema check', () => sqlSchemaVersion(driver.query, opts.schema), { policy, write: false });
      if (v < LATEST_VERSION) {
        throw new Error(`the ledger schema is at version ${v}, this hookgate needs ${LATEST_VERSION}: run \`hookgate migrate\` or set ledger.migrate: true`);
      }
    }
    return new SqlLedger(driver, opts, dialect, deps);
  } catch (err) {
    await driver.end().catch(() => {});
    throw err;
  }
}
