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
import { errSummary } from '../errors.js';
import { DEFAULT_RETRY, unavailable, withRetry, type ErrorKind, type Resolution, type RetryPolicy } from './retry.js';
import { migrateSql, qualified, sqlSchemaVersion, type Query, type SqlMigrationTarget } from './migrations.js';
import { requiredVersion } from './schema-versions.js';
import { batchMode, checkStatus, keyHash, newToken, schedule, validateOptions, type BatchMode, type LedgerLog } from './common.js';

export type Dialect = 'postgres' | 'cockroachdb';

/** What the SQL ledger needs from a database: a pool (or an in-process engine in tests). */
export interface SqlDriver extends SqlMigrationTarget {
  end(): Promise<void>;
  /** PostgreSQL only: every session plans the ledger's statements by index from its next statement on (pgDriver) */
  planByIndex?(): void;
}

export interface SqlLedgerDeps {
  log?: LedgerLog;
  /** each failed attempt that is retried or resolved (for metrics) */
  onRetry?(err: unknown, kind: ErrorKind): void;
  /** group commit (default: HOOKGATE_LEDGER_BATCH, else `immediate`) */
  batch?: BatchMode;
}

const ISOLATION = {
  serializable: '-c default_transaction_isolation=serializable',
  // the backslash keeps the space inside the one option (libpq's `options` syntax)
  'read committed': '-c default_transaction_isolation=read\\ committed',
} as const;

/**
 * A pg Pool in SERIALIZABLE isolation (or, for the spool's dispatch statements on PostgreSQL, READ
 * COMMITTED), sized and timed out for a sidecar (shared/ledger.md §4.1).
 */
export function pgDriver(url: string, opts: { poolSize?: number; statementTimeoutMs?: number; log?: LedgerLog; isolation?: keyof typeof ISOLATION } = {}): SqlDriver & { pool: pg.Pool } {
  const u = new URL(url);
  // Isolation goes in the startup packet, so every pooled session has it before its first statement.
  // node-postgres lets a URL's `options` override the config's, so merge them here.
  const options = [u.searchParams.get('options') ?? process.env.PGOPTIONS, ISOLATION[opts.isolation ?? 'serializable']].filter(Boolean).join(' ');
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
  pool.on('error', (err) => opts.log?.warn({ err: errSummary(err) }, 'ledger: idle database connection failed'));
  // The ledger's per-delivery statements (claim, complete, release, lookup: tagged `/* hookgate:NAME */`)
  // run as named prepared statements: the server parses and plans each once per connection instead of
  // on every delivery (bench:ledger: +45% claim+complete/s on PostgreSQL 15). node-postgres prepares
  // them again on each new connection. The name carries a hash of the text, so two schemas never share
  // a name. Everything else (migrations, sweep, version) stays unnamed.
  // A named statement's generic plan is made on its sixth run and kept until the table is analyzed
  // again. Made while the table is new and nearly empty, it hash-joins a sequential scan of the whole
  // table into every complete_batch until autovacuum analyzes it (docs/ledger.md). Every ledger
  // statement reads by key or by the expiry index, so its sessions never need a sequential scan.
  let byIndex = false;
  const planned = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (!byIndex || planned.has(client)) return;
    planned.add(client);
    // queued on the client ahead of the statement it was acquired for; a broken connection fails that one
    client.query('SET enable_seqscan = off').catch(() => undefined);
  });
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
    planByIndex() {
      byIndex = true;
    },
  };
}

const PREPARED = /^\/\* hookgate:((?:claim|complete|release|lookup)(?:_batch)?) \*\//;
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

/** A caller waiting for its operation in the group-commit queue. */
interface Pending<T> { key: string; hash: Buffer; token: string; status: number; resolve(v: T): void; reject(err: unknown): void }
type Settle = 'complete' | 'release';

export class SqlLedger implements Ledger {
  readonly backend: Dialect;
  private readonly sql: ReturnType<typeof statements>;
  private readonly policy: RetryPolicy;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private closed = false;
  private readonly batch: BatchMode;
  private queued = { claim: [] as Pending<ClaimResult>[], complete: [] as Pending<boolean>[], release: [] as Pending<boolean>[] };
  private scheduled = false;
  private readonly inflight = new Set<Promise<void>>();
  private readonly flushQueue = () => this.flush();

  constructor(
    private readonly driver: SqlDriver,
    private readonly opts: LedgerOptions,
    dialect: Dialect,
    private readonly deps: SqlLedgerDeps = {},
  ) {
    this.batch = deps.batch ?? batchMode();
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

  claim(key: string): Promise<ClaimResult> {
    // One token for the whole operation (see claimOne).
    return this.enqueue('claim', key, newToken(), 0);
  }

  complete(key: string, token: string, status: number): Promise<boolean> {
    checkStatus(status);
    return this.enqueue('complete', key, token, status);
  }

  release(key: string, token: string): Promise<boolean> {
    return this.enqueue('release', key, token, 0);
  }

  // Group commit (docs/ledger.md): the claims, completes and releases issued in one turn of the event
  // loop go to the database as one statement per kind over arrays, instead of one statement (one
  // round trip, one commit) each. A kind with one operation queued runs its single statement.
  private enqueue(kind: 'claim', key: string, token: string, status: number): Promise<ClaimResult>;
  private enqueue(kind: Settle, key: string, token: string, status: number): Promise<boolean>;
  private enqueue(kind: 'claim' | Settle, key: string, token: string, status: number): Promise<ClaimResult | boolean> {
    if (this.closed) return Promise.reject(unavailable(kind, new Error('the ledger is closed'), this.policy));
    const hash = keyHash(key);
    if (this.batch === 'off') {
      return kind === 'claim' ? this.claimOne(hash, token) : kind === 'complete' ? this.completeOne(hash, token, status) : this.releaseOne(hash, token);
    }
    return new Promise((resolve, reject) => {
      (this.queued[kind] as Pending<ClaimResult | boolean>[]).push({ key, hash, token, status, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        schedule(this.batch, this.flushQueue);
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const { claim, complete, release } = this.queued;
    this.queued = { claim: [], complete: [], release: [] };
    const track = (p: Promise<void>) => {
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    };
    if (claim.length) track(this.claimBatch(claim));
    if (complete.length) track(this.settleBatch('complete', complete));
    if (release.length) track(this.settleBatch('release', release));
  }

  /**
   * The claims of one tick. A key queued more than once is sent once (one statement cannot touch a row
   * twice): the first caller gets the database's answer, and the later ones get what a claim right
   * after it would: in flight (for the whole new lease) when it was claimed, else the same answer.
   */
  private async claimBatch(items: Pending<ClaimResult>[]): Promise<void> {
    const first = new Map<string, Pending<ClaimResult>>();
    const later: Array<[Pending<ClaimResult>, Pending<ClaimResult>]> = [];
    for (const it of items) {
      const f = first.get(it.key);
      if (f) later.push([f, it]);
      else first.set(it.key, it);
    }
    const unique = [...first.values()];
    const answers = new Map<Pending<ClaimResult>, ClaimResult>();
    try {
      if (unique.length === 1) answers.set(unique[0]!, await this.claimOne(unique[0]!.hash, unique[0]!.token));
      else {
        const results = await this.claimMany(unique);
        unique.forEach((it, i) => answers.set(it, results[i]!));
      }
    } catch (err) {
      for (const it of items) it.reject(err);
      return;
    }
    for (const it of unique) it.resolve(answers.get(it)!);
    for (const [f, it] of later) {
      const a = answers.get(f)!;
      it.resolve(a.state === 'claimed' ? { state: 'in_flight', retryAfterMs: this.opts.leaseMs } : a);
    }
  }

  /** Distinct keys, one statement. Every rerun (40001, an ambiguous error) sends the same tokens, so a claim that landed comes back as ours. */
  private async claimMany(items: Pending<ClaimResult>[]): Promise<ClaimResult[]> {
    const results: Array<ClaimResult | undefined> = new Array(items.length);
    const lease = interval(this.opts.leaseMs);
    const retention = interval(this.opts.retentionMs);
    for (let round = 0; round < 5; round++) {
      const todo = items.map((_, i) => i).filter((i) => !results[i]);
      if (!todo.length) break;
      const params = [todo.map((i) => items[i]!.hash), todo.map((i) => items[i]!.token), lease, retention];
      const rows = await this.run<Array<ClaimRow & { ord: string }>>('claim', true, async () => (await this.driver.query(this.sql.claimBatch, params)).rows);
      for (const row of rows) {
        const i = todo[Number(row.ord) - 1];
        if (i !== undefined) results[i] = claimAnswer(row, items[i]!.token);
      }
    }
    // A key with no row after 5 rounds (only under READ COMMITTED) fails alone.
    if (results.some((r) => !r)) throw unavailable('claim', new Error('the claim found no row after 5 tries'), this.policy);
    return results as ClaimResult[];
  }

  /**
   * The completes (or releases) of one tick: one statement for distinct keys; a key settled twice in
   * the same tick waits for the next round, so the order of its settles is kept.
   */
  private async settleBatch(kind: Settle, items: Pending<boolean>[]): Promise<void> {
    const rounds: Pending<boolean>[][] = [];
    const seen = new Map<string, number>();
    for (const it of items) {
      const r = seen.get(it.key) ?? 0;
      seen.set(it.key, r + 1);
      (rounds[r] ??= []).push(it);
    }
    for (const round of rounds) {
      try {
        if (round.length === 1) {
          const it = round[0]!;
          it.resolve(await (kind === 'complete' ? this.completeOne(it.hash, it.token, it.status) : this.releaseOne(it.hash, it.token)));
        } else {
          const ok = await this.settleMany(kind, round);
          round.forEach((it, i) => it.resolve(ok[i]!));
        }
      } catch (err) {
        for (const it of round) it.reject(err);
      }
    }
  }

  /**
   * Distinct keys, one UPDATE over arrays, fenced per row by its owner token; RETURNING names the
   * rows that changed. After an ambiguous error every item is resolved through its owner token
   * (one batched read-back): landed, lost (another owner), or still ours and processing, and only
   * those are sent again.
   */
  private async settleMany(kind: Settle, items: Pending<boolean>[]): Promise<boolean[]> {
    const out: boolean[] = new Array(items.length).fill(false);
    let todo = items.map((_, i) => i);
    const target = kind === 'complete' ? 'done' : 'failed';
    return this.run<boolean[]>(kind, true, async () => {
      const hashes = todo.map((i) => items[i]!.hash);
      const tokens = todo.map((i) => items[i]!.token);
      const r = kind === 'complete'
        ? await this.driver.query(this.sql.completeBatch, [hashes, tokens, todo.map((i) => items[i]!.status), interval(this.opts.retentionMs)])
        : await this.driver.query(this.sql.releaseBatch, [hashes, tokens]);
      const landed = new Set(r.rows.map((row) => Number((row as { ord: string }).ord)));
      todo.forEach((i, pos) => { out[i] = landed.has(pos + 1); });
      return out;
    }, async (): Promise<Resolution<boolean[]>> => {
      const { rows } = await this.driver.query(this.sql.lookupBatch, [todo.map((i) => items[i]!.hash), todo.map((i) => items[i]!.token)]);
      const byOrd = new Map(rows.map((row) => [Number((row as { ord: string }).ord), row as LookupRow]));
      const again: number[] = [];
      todo.forEach((i, pos) => {
        const row = byOrd.get(pos + 1);
        if (row?.mine && row.status === 'processing') again.push(i);
        else out[i] = !!(row?.mine && row.status === target);
      });
      todo = again;
      return again.length ? { landed: false } : { landed: true, value: out };
    });
  }

  /** One claim, one statement. */
  private async claimOne(hash: Buffer, token: string): Promise<ClaimResult> {
    // One token for the whole operation: a claim re-run after an ambiguous error finds its own
    // token on the row (the statement returns `mine`), which is the read-back that tells whether
    // the first attempt landed. No lost claim, no double claim.
    const params = [hash, token, interval(this.opts.leaseMs), interval(this.opts.retentionMs)];
    // An empty answer only happens under READ COMMITTED (a row committed after the statement's
    // snapshot); run again, a few times at most.
    for (let i = 0; i < 5; i++) {
      const rows = await this.run<ClaimRow[]>('claim', true, async () => (await this.driver.query(this.sql.claim, params)).rows);
      const row = rows[0];
      if (!row) continue;
      const answer = claimAnswer(row, token);
      if (answer) return answer;
    }
    throw unavailable('claim', new Error('the claim found no row after 5 tries'), this.policy);
  }

  private completeOne(hash: Buffer, token: string, status: number): Promise<boolean> {
    return this.run('complete', true,
      async () => ((await this.driver.query(this.sql.complete, [hash, token, status, interval(this.opts.retentionMs)])).rowCount ?? 0) === 1,
      () => this.resolve(hash, token, 'done'));
  }

  private releaseOne(hash: Buffer, token: string): Promise<boolean> {
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
      this.deps.log?.warn({ err: errSummary(err) }, 'ledger: sweeping expired rows failed; will try again');
    } finally {
      this.sweeping = false;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.sweeper) clearInterval(this.sweeper);
    // Operations issued before close are settled, not dropped (graceful shutdown settles deliveries).
    if (this.scheduled) this.flush();
    await Promise.allSettled([...this.inflight]);
    if (this.closed) return;
    this.closed = true;
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

/** What one claim row means for the caller holding `token`; undefined: no row (run again). */
function claimAnswer(row: ClaimRow | undefined, token: string): ClaimResult | undefined {
  if (!row) return undefined;
  if (row.status === 'claimed' || (row.mine && row.status === 'processing')) return { state: 'claimed', token, attempt: Number(row.attempt) };
  if (row.status === 'done') return { state: 'done', status: Number(row.resp_status), expiresInMs: Math.floor(Number(row.expires_ms)) };
  if (row.status === 'processing') return { state: 'in_flight', retryAfterMs: Math.max(1, Math.ceil(Number(row.wait_ms))) };
  return undefined;
}

/**
 * The statements. The `hookgate:` comment names each one, for pg_stat_statements and for the fault
 * proxy in the tests. Parameters: $1 key hash, $2 owner token, then per statement.
 */
/**
 * The takeover rule of every claim (the single and the batched one, and a spool accept that claims its
 * key, src/spool/store/sql-statements.ts), for an INSERT into the ledger aliased `l`: a row may be
 * (re)claimed when it has expired (treated as absent: attempt restarts at 1), when it failed
 * (released), or when its lease ran out without a settle (the claimer died). The row takes the status,
 * lease and status code of the inserted one.
 */
export const TAKEOVER = `ON CONFLICT (key_hash) DO UPDATE SET
    status = excluded.status,
    owner = excluded.owner,
    attempt = CASE WHEN l.expires_at <= now() THEN 1 ELSE l.attempt + 1 END,
    lease_until = excluded.lease_until,
    resp_status = excluded.resp_status,
    created_at = CASE WHEN l.expires_at <= now() THEN now() ELSE l.created_at END,
    updated_at = now(),
    expires_at = excluded.expires_at
  WHERE l.expires_at <= now() OR l.status = 'failed' OR (l.status = 'processing' AND l.lease_until <= now())`;

export function statements(table: string) {
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
  ${TAKEOVER}
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

    // Group commit: the same statements over arrays ($1 key hashes, $2 owner tokens, distinct keys),
    // each answer tagged with its 1-based position in the arrays (ord). Rows are inserted in key
    // order, so two replicas' batches lock shared keys in the same order (no deadlock between them).
    claimBatch: `/* hookgate:claim_batch */
WITH input AS (
  SELECT k AS key_hash, o AS owner, n AS ord FROM unnest($1::BYTEA[], $2::UUID[]) WITH ORDINALITY AS i(k, o, n)
), claimed AS (
  INSERT INTO ${table} AS l (key_hash, status, owner, attempt, lease_until, expires_at)
  SELECT key_hash, 'processing', owner, 1, now() + $3::INTERVAL, now() + $4::INTERVAL FROM input ORDER BY key_hash
  ${TAKEOVER}
  RETURNING l.key_hash, l.attempt
)
SELECT i.ord, 'claimed' AS status, true AS mine, c.attempt, NULL::INT4 AS resp_status, 0::FLOAT8 AS wait_ms, 0::FLOAT8 AS expires_ms
  FROM claimed AS c JOIN input AS i ON i.key_hash = c.key_hash
UNION ALL
SELECT i.ord, l.status, l.owner = i.owner AS mine, l.attempt, l.resp_status,
       GREATEST(0, EXTRACT(EPOCH FROM (l.lease_until - now())) * 1000)::FLOAT8,
       GREATEST(0, EXTRACT(EPOCH FROM (l.expires_at - now())) * 1000)::FLOAT8
  FROM input AS i JOIN ${table} AS l ON l.key_hash = i.key_hash
 WHERE l.expires_at > now() AND NOT EXISTS (SELECT 1 FROM claimed AS c WHERE c.key_hash = i.key_hash)`,

    // $3 upstream statuses, $4 retention; RETURNING the positions whose token still owned the claim.
    completeBatch: `/* hookgate:complete_batch */
UPDATE ${table} AS l SET status = 'done', resp_status = i.resp_status, lease_until = now(), updated_at = now(), expires_at = now() + $4::INTERVAL
  FROM unnest($1::BYTEA[], $2::UUID[], $3::INT4[]) WITH ORDINALITY AS i(key_hash, owner, resp_status, ord)
 WHERE l.key_hash = i.key_hash AND l.owner = i.owner AND l.status = 'processing'
RETURNING i.ord`,

    releaseBatch: `/* hookgate:release_batch */
UPDATE ${table} AS l SET status = 'failed', lease_until = now(), updated_at = now()
  FROM unnest($1::BYTEA[], $2::UUID[]) WITH ORDINALITY AS i(key_hash, owner, ord)
 WHERE l.key_hash = i.key_hash AND l.owner = i.owner AND l.status = 'processing'
RETURNING i.ord`,

    lookupBatch: `/* hookgate:lookup_batch */
SELECT i.ord, l.status, l.owner = i.owner AS mine, l.attempt
  FROM unnest($1::BYTEA[], $2::UUID[]) WITH ORDINALITY AS i(key_hash, owner, ord)
  JOIN ${table} AS l ON l.key_hash = i.key_hash AND l.expires_at > now()`,

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
    // the server's engine, whatever the runtime path: enable_seqscan is PostgreSQL's planner setting
    if (server === 'postgres') driver.planByIndex?.();
    if (opts.migrate) {
      await withRetry('migrate', () => migrateSql(driver, {
        ...(opts.schema ? { schema: opts.schema } : {}),
        ddl: server, // the statements the server understands
        lock: dialect === 'cockroachdb' ? 'row' : 'advisory', // the runtime path asked for
      }), { policy, write: false });
    } else {
      const v = await withRetry('schema check', () => sqlSchemaVersion(driver.query, opts.schema), { policy, write: false });
      const needed = requiredVersion(server);
      if (v < needed) {
        throw new Error(`the ledger schema is at version ${v}, this hookgate needs ${needed}: run \`hookgate migrate\` or set ledger.migrate: true`);
      }
    }
    return new SqlLedger(driver, opts, dialect, deps);
  } catch (err) {
    await driver.end().catch(() => {});
    throw err;
  }
}
