// The spool on PostgreSQL and CockroachDB, through the ledger's driver (its own pool: SERIALIZABLE on
// CockroachDB, READ COMMITTED on PostgreSQL, see index.ts; the retry loop of retry.ts, owner-token
// read-backs after an ambiguous error). Both engines run the same
// statements: no correctness rests on SKIP LOCKED (CockroachDB's is best-effort, shared/spool.md §b.1);
// a claim re-checks each row's state and due time in its UPDATE, and SERIALIZABLE (or READ COMMITTED's
// re-evaluation of a concurrently updated row) leaves exactly one winner. The engines differ only in
// DDL (migrations.ts: hash-sharded indexes on CockroachDB).
import { keyHash } from '../../ledger/common.js';
import { qualified } from '../../ledger/migrations.js';
import { DEFAULT_RETRY, withRetry, type Resolution, type RetryPolicy } from '../../ledger/retry.js';
import type { SqlDriver } from '../../ledger/sql.js';
import { DEFAULT_REPLAY_PACE, idHash, type ReplayPace, type AcceptInput, type AcceptResult, type Claimed, type DeliveryRow, type Settle, type SpoolFilter, type SpoolStats, type SpoolState, type SpoolStore, type StoredRequest } from './types.js';
import { decodeHeaders, decodeStoredMeta, encodeHeaders, encodeMeta } from './headers.js';
import { pageOf } from '../cursor.js';

const interval = (ms: number) => `${Math.max(0, Math.round(ms))} milliseconds`;

export function spoolStatements(schema: string | undefined) {
  const L = qualified(schema, 'hookgate_ledger');
  const S = qualified(schema, 'hookgate_spool');
  const B = qualified(schema, 'hookgate_spool_body');
  const P = qualified(schema, 'hookgate_spool_pause');
  // $1 route, $2 tenant, $3 state, $4 since (ms), $5 until (ms): each NULL for any
  const FILTER = `($1::TEXT IS NULL OR s.route = $1) AND ($2::TEXT IS NULL OR s.tenant = $2) AND ($3::TEXT IS NULL OR s.state = $3)
   AND ($4::FLOAT8 IS NULL OR s.received_at >= to_timestamp($4::FLOAT8 / 1000)) AND ($5::FLOAT8 IS NULL OR s.received_at < to_timestamp($5::FLOAT8 / 1000))`;
  const paused = (route: string, tenant: string) => `EXISTS (SELECT 1 FROM ${P} AS p WHERE p.route = ${route} AND p.tenant IN (${tenant}, '*'))`;
  const row = `s.key_hash, s.key, s.route, s.tenant, s.state, s.attempts, s.replays, s.last_status, s.last_error,
    (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms, (EXTRACT(EPOCH FROM s.next_at) * 1000)::FLOAT8 AS next_ms`;
  return {
    // $1 key hash, $2 ledger token, $3 accept status, $4 retention, $5 key, $6 route, $7 tenant,
    // $8 dispatch owner (NULL: leave it pending), $9 lease, $10 method, $11 path, $12 headers, $13 body, $14 meta, $15 attempts already spent, $16 due after (pending).
    // The ledger claim becomes done with the accept status only while our token holds it; the spool
    // row only follows a done claim, the bytes only a new spool row: three tables, each written once.
    accept: `/* hookgate:spool_accept */
WITH done AS (
  UPDATE ${L} SET status = 'done', resp_status = $3::INT4, lease_until = now(), updated_at = now(), expires_at = now() + $4::INTERVAL
   WHERE key_hash = $1 AND owner = $2::UUID AND status = 'processing'
  RETURNING key_hash
), spooled AS (
  INSERT INTO ${S} AS s (key_hash, key, route, tenant, state, owner, next_at, attempts, received_at, updated_at)
  SELECT d.key_hash, $5::TEXT, $6::TEXT, $7::TEXT, x.state, $8::UUID,
         CASE WHEN x.state = 'delivering' THEN now() + $9::INTERVAL ELSE now() + $16::INTERVAL END, $15::INT4, now(), now()
    FROM done AS d,
         (SELECT CASE WHEN $8::UUID IS NOT NULL AND NOT ${paused('$6::TEXT', '$7::TEXT')} THEN 'delivering' ELSE 'pending' END AS state) AS x
  ON CONFLICT (key_hash) DO NOTHING
  RETURNING s.key_hash, s.state, s.received_at
), bytes AS (
  INSERT INTO ${B} AS b (key_hash, method, path, headers, body, meta)
  SELECT key_hash, $10::TEXT, $11::TEXT, $12::BYTEA, $13::BYTEA, $14::TEXT FROM spooled
  ON CONFLICT (key_hash) DO UPDATE SET method = excluded.method, path = excluded.path, headers = excluded.headers, body = excluded.body, meta = excluded.meta
  RETURNING b.key_hash
)
SELECT (SELECT count(*) FROM done)::INT4 AS done, s.state, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms
  FROM (SELECT 1) AS one LEFT JOIN spooled AS s ON true`,

    // Read-back after an ambiguous accept: our token on a done ledger row means it landed.
    acceptLookup: `/* hookgate:spool_accept_lookup */
SELECT l.status, l.owner = $2::UUID AS mine, s.state, s.owner = $3::UUID AS ours, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms
  FROM ${L} AS l LEFT JOIN ${S} AS s ON s.key_hash = l.key_hash WHERE l.key_hash = $1`,

    // Group commit: the accepts of one tick over arrays (distinct keys), each answer tagged with its
    // 1-based position (ord). $15 retention, $16 lease; the same three tables, each written once.
    acceptBatch: `/* hookgate:spool_accept_batch */
WITH input AS (
  SELECT * FROM unnest($1::BYTEA[], $2::UUID[], $3::INT4[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::UUID[], $8::TEXT[], $9::TEXT[],
                       $10::BYTEA[], $11::BYTEA[], $12::TEXT[], $13::INT4[], $14::FLOAT8[])
    WITH ORDINALITY AS i(key_hash, ledger_token, accept_status, key, route, tenant, owner, method, path, headers, body, meta, attempts, delay_ms, ord)
), done AS (
  UPDATE ${L} AS l SET status = 'done', resp_status = i.accept_status, lease_until = now(), updated_at = now(), expires_at = now() + $15::INTERVAL
    FROM input AS i
   WHERE l.key_hash = i.key_hash AND l.owner = i.ledger_token AND l.status = 'processing'
  RETURNING l.key_hash
), spooled AS (
  INSERT INTO ${S} AS s (key_hash, key, route, tenant, state, owner, next_at, attempts, received_at, updated_at)
  SELECT i.key_hash, i.key, i.route, i.tenant, x.state, i.owner,
         CASE WHEN x.state = 'delivering' THEN now() + $16::INTERVAL ELSE now() + i.delay_ms * INTERVAL '1 millisecond' END, i.attempts, now(), now()
    FROM input AS i JOIN done AS d ON d.key_hash = i.key_hash,
         LATERAL (SELECT CASE WHEN i.owner IS NOT NULL AND NOT ${paused('i.route', 'i.tenant')} THEN 'delivering' ELSE 'pending' END AS state) AS x
   ORDER BY i.key_hash
  ON CONFLICT (key_hash) DO NOTHING
  RETURNING s.key_hash, s.state, s.received_at
), bytes AS (
  INSERT INTO ${B} AS b (key_hash, method, path, headers, body, meta)
  SELECT i.key_hash, i.method, i.path, i.headers, i.body, i.meta FROM input AS i JOIN spooled AS s ON s.key_hash = i.key_hash
  ON CONFLICT (key_hash) DO UPDATE SET method = excluded.method, path = excluded.path, headers = excluded.headers, body = excluded.body, meta = excluded.meta
  RETURNING b.key_hash
)
SELECT i.ord, d.key_hash IS NOT NULL AS done, s.state, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms
  FROM input AS i LEFT JOIN done AS d ON d.key_hash = i.key_hash LEFT JOIN spooled AS s ON s.key_hash = i.key_hash`,

    acceptLookupBatch: `/* hookgate:spool_accept_lookup_batch */
SELECT i.ord, l.status, l.owner = i.ledger_token AS mine, s.state, s.owner = i.owner AS ours, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms
  FROM unnest($1::BYTEA[], $2::UUID[], $3::UUID[]) WITH ORDINALITY AS i(key_hash, ledger_token, owner, ord)
  JOIN ${L} AS l ON l.key_hash = i.key_hash LEFT JOIN ${S} AS s ON s.key_hash = i.key_hash`,

    // Round-robin input: up to $2 due rows a tenant (fairness.ts picks among them), first tries before
    // retries and replays (so a bulk replay or a retry wave never starves fresh deliveries), oldest first.
    // CockroachDB: ranks every due row of the route (its index is on next_at alone, hash-sharded).
    due: `/* hookgate:spool_due */
SELECT c.key_hash, c.tenant FROM (
  SELECT s.key_hash, s.tenant, s.next_at, (s.attempts > 0 OR s.replays > 0) AS again,
         row_number() OVER (PARTITION BY s.tenant ORDER BY (s.attempts > 0 OR s.replays > 0), s.next_at) AS rn
    FROM ${S} AS s
   WHERE s.route = $1 AND s.state IN ('pending', 'delivering') AND s.next_at <= now() AND NOT ${paused('s.route', 's.tenant')}
) AS c WHERE c.rn <= $2 ORDER BY c.again, c.next_at LIMIT $3`,

    // PostgreSQL: the same answer without ranking the whole backlog. A recursive walk of the ready index
    // finds each tenant with live rows (one probe a tenant), then each tenant's first $2 due rows come
    // off the same index in order: a poll costs tenants × log(rows), not the backlog.
    dueByTenant: `/* hookgate:spool_due_by_tenant */
WITH RECURSIVE t(tenant) AS (
  (SELECT s.tenant FROM ${S} AS s WHERE s.route = $1 AND s.state IN ('pending', 'delivering') ORDER BY s.tenant LIMIT 1)
  UNION ALL
  SELECT (SELECT s.tenant FROM ${S} AS s WHERE s.route = $1 AND s.state IN ('pending', 'delivering') AND s.tenant > t.tenant ORDER BY s.tenant LIMIT 1)
    FROM t WHERE t.tenant IS NOT NULL
)
SELECT d.key_hash, d.tenant FROM t CROSS JOIN LATERAL (
  SELECT s.key_hash, s.tenant, s.next_at, (s.attempts > 0 OR s.replays > 0) AS again FROM ${S} AS s
   WHERE s.route = $1 AND s.tenant = t.tenant AND s.state IN ('pending', 'delivering') AND s.next_at <= now()
   ORDER BY (s.attempts > 0 OR s.replays > 0), s.next_at LIMIT $2
) AS d
 WHERE t.tenant IS NOT NULL AND NOT ${paused('$1', 't.tenant')}
 ORDER BY d.again, d.next_at LIMIT $3`,

    // $1 key hashes, $2 owner, $3 lease. The WHERE re-checks what `due` saw: only still-due rows move.
    // Taking over a lapsed lease spends an attempt: the first try may have reached the application.
    // `prev` carries each row's state before the claim, to count takeovers.
    claim: `/* hookgate:spool_claim */
WITH prev AS (
  SELECT key_hash, state FROM ${S} WHERE key_hash = ANY($1::BYTEA[]) AND state IN ('pending', 'delivering') AND next_at <= now()
)
UPDATE ${S} AS s SET state = 'delivering', owner = $2::UUID, next_at = now() + $3::INTERVAL, updated_at = now(),
       attempts = CASE WHEN s.state = 'delivering' THEN s.attempts + 1 ELSE s.attempts END
  FROM prev
 WHERE s.key_hash = prev.key_hash AND s.state IN ('pending', 'delivering') AND s.next_at <= now() AND NOT ${paused('s.route', 's.tenant')}
RETURNING s.key_hash, s.key, s.route, s.tenant, s.attempts, s.replays, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms,
          prev.state = 'delivering' AS takeover`,

    claimLookup: `/* hookgate:spool_claim_lookup */
SELECT s.key_hash, s.key, s.route, s.tenant, s.attempts, s.replays, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms, false AS takeover
  FROM ${S} AS s WHERE s.key_hash = ANY($1::BYTEA[]) AND s.owner = $2::UUID AND s.state = 'delivering'`,

    bytes: `/* hookgate:spool_bytes */
SELECT key_hash, method, path, headers, body, meta FROM ${B} WHERE key_hash = ANY($1::BYTEA[])`,

    // $3 state, $4 attempts spent (0 or 1), $5 due after, $6 status, $7 error, $8 kept for (NULL: live row).
    settle: `/* hookgate:spool_settle */
UPDATE ${S} SET state = $3::TEXT, attempts = attempts + $4::INT4, next_at = now() + $5::INTERVAL, last_status = $6::INT4, last_error = $7::TEXT,
       expires_at = CASE WHEN $8::INTERVAL IS NULL THEN NULL ELSE now() + $8::INTERVAL END, updated_at = now()
 WHERE key_hash = $1 AND owner = $2::UUID AND state = 'delivering'`,

    settleLookup: `/* hookgate:spool_settle_lookup */
SELECT state, owner = $2::UUID AS mine FROM ${S} WHERE key_hash = $1`,

    counts: `/* hookgate:spool_counts */
SELECT route, tenant, count(*)::INT4 AS n FROM ${S} WHERE state IN ('pending', 'delivering') GROUP BY route, tenant`,

    get: `/* hookgate:spool_get */
SELECT ${row} FROM ${S} AS s WHERE s.key_hash = $1`,

    // Keyset pages, newest first: $7 received_at in microseconds since the epoch and $8 the key hash
    // of the previous page's last row (NULL: the first page); `at` is each row's own position.
    list: `/* hookgate:spool_list */
SELECT ${row}, (EXTRACT(EPOCH FROM s.received_at) * 1000000)::INT8::TEXT AS at FROM ${S} AS s WHERE ${FILTER}
   AND ($7::INT8 IS NULL OR (s.received_at, s.key_hash) < (to_timestamp(0) + $7::INT8 * INTERVAL '1 microsecond', $8::BYTEA))
 ORDER BY s.received_at DESC, s.key_hash DESC LIMIT $6`,

    byId: `/* hookgate:spool_by_id */
SELECT ${row}, b.method, b.path, b.headers, b.body FROM ${S} AS s LEFT JOIN ${B} AS b ON b.key_hash = s.key_hash WHERE s.key_hash = $1`,

    // Replays start a new round: attempts from 0, due now, no longer kept for a sweep.
    replay: `/* hookgate:spool_replay */
UPDATE ${S} SET state = 'pending', attempts = 0, replays = replays + 1, next_at = now(), expires_at = NULL, owner = NULL, updated_at = now()
 WHERE key_hash = $1 AND state <> 'delivering'`,

    // Paced: the matched rows, oldest first, become due $6 a $7 ms window (row i after floor(i / $6)
    // windows). The pace is in the rows' next_at, so it survives a restart and every replica follows it.
    replayMany: `/* hookgate:spool_replay_many */
UPDATE ${S} AS s SET state = 'pending', attempts = 0, replays = s.replays + 1, expires_at = NULL, owner = NULL, updated_at = now(),
       next_at = now() + floor(m.i::FLOAT8 / $6::FLOAT8) * $7::FLOAT8 * INTERVAL '1 millisecond'
  FROM (SELECT s.key_hash, row_number() OVER (ORDER BY s.received_at, s.key_hash) - 1 AS i FROM ${S} AS s WHERE ${FILTER} AND s.state <> 'delivering') AS m
 WHERE s.key_hash = m.key_hash AND s.state <> 'delivering'`,

    countMany: `/* hookgate:spool_count_many */
SELECT count(*)::INT4 AS n FROM ${S} AS s WHERE ${FILTER} AND s.state <> 'delivering'`,

    cancel: `/* hookgate:spool_cancel */
UPDATE ${S} SET state = 'cancelled', expires_at = now() + $2::INTERVAL, owner = NULL, updated_at = now()
 WHERE key_hash = $1 AND state IN ('pending', 'dead')`,

    pause: `/* hookgate:spool_pause */
INSERT INTO ${P} (route, tenant, paused_at) VALUES ($1, $2, now()) ON CONFLICT (route, tenant) DO NOTHING`,

    resume: `/* hookgate:spool_resume */
DELETE FROM ${P} WHERE route = $1 AND tenant = $2`,

    paused: `/* hookgate:spool_paused */
SELECT route, tenant FROM ${P} ORDER BY route, tenant`,

    stateCounts: `/* hookgate:spool_state_counts */
SELECT route, tenant, state, count(*)::INT4 AS n FROM ${S} GROUP BY route, tenant, state`,

    oldest: `/* hookgate:spool_oldest */
SELECT route, (EXTRACT(EPOCH FROM (now() - min(received_at))) * 1000)::FLOAT8 AS ms FROM ${S} WHERE state IN ('pending', 'delivering') GROUP BY route`,

    // Pending rows past maxAge: dead without a try (a paused or unreachable route claims none of them).
    expire: `/* hookgate:spool_expire */
UPDATE ${S} SET state = 'dead', last_error = 'expired: older than maxAge', owner = NULL, expires_at = now() + $3::INTERVAL, updated_at = now()
 WHERE route = $1 AND state = 'pending' AND received_at <= now() - $2::INTERVAL`,

    // Terminal rows only (live rows have no expires_at); the bytes go in the same statement.
    sweep: `/* hookgate:spool_sweep */
WITH gone AS (
  DELETE FROM ${S} WHERE key_hash IN (SELECT key_hash FROM ${S} WHERE expires_at <= now() ORDER BY expires_at LIMIT $1) AND expires_at <= now()
  RETURNING key_hash
), bytes AS (
  DELETE FROM ${B} WHERE key_hash IN (SELECT key_hash FROM gone) RETURNING key_hash
)
SELECT count(*)::INT4 AS n FROM gone`,
  };
}

interface Row {
  key_hash: Buffer; key: string; route: string; tenant: string; state: SpoolState; attempts: number; replays: number;
  last_status: number | null; last_error: string | null; received_ms: number; next_ms: number;
}

const deliveryRow = (r: Row): DeliveryRow => ({
  id: r.key_hash.toString('hex'), key: r.key, route: r.route, tenant: r.tenant, state: r.state, attempts: Number(r.attempts), replays: Number(r.replays),
  lastStatus: r.last_status === null ? null : Number(r.last_status), lastError: r.last_error, receivedAt: Math.round(Number(r.received_ms)), nextAt: Math.round(Number(r.next_ms)),
});

type ClaimRow = { key_hash: Buffer; key: string; route: string; tenant: string; attempts: number; replays: number; received_ms: number; takeover: boolean };

export class SqlSpoolStore implements SpoolStore {
  private readonly sql: ReturnType<typeof spoolStatements>;
  private readonly policy: RetryPolicy;
  private closed = false;
  private acceptQueue: Array<{ a: AcceptInput; resolve: (r: AcceptResult) => void; reject: (err: unknown) => void }> = [];

  constructor(
    private readonly driver: SqlDriver,
    readonly backend: 'postgres' | 'cockroachdb',
    opts: { schema?: string; retryBudgetMs?: number } = {},
  ) {
    this.sql = spoolStatements(opts.schema);
    this.policy = { ...DEFAULT_RETRY, budgetMs: opts.retryBudgetMs ?? DEFAULT_RETRY.budgetMs };
  }

  private run<T>(what: string, write: boolean, fn: () => Promise<T>, resolve?: () => Promise<Resolution<T>>): Promise<T> {
    return withRetry(`spool ${what}`, fn, { policy: this.policy, write, ...(resolve ? { resolve } : {}) });
  }

  /**
   * Group commit, like the ledger's claims: the accepts issued in one turn of the event loop go to the
   * database as one statement over arrays (one round trip, one commit); one alone runs the single
   * statement. A key queued twice in a tick runs in the next round.
   */
  accept(a: AcceptInput): Promise<AcceptResult> {
    return new Promise((resolve, reject) => {
      this.acceptQueue.push({ a, resolve, reject });
      if (this.acceptQueue.length === 1) setImmediate(() => void this.flushAccepts());
    });
  }

  private async flushAccepts(): Promise<void> {
    let queue = this.acceptQueue;
    this.acceptQueue = [];
    while (queue.length) {
      const seen = new Set<string>();
      const round: typeof queue = [];
      const later: typeof queue = [];
      for (const q of queue) (seen.has(q.a.key) ? later : (seen.add(q.a.key), round)).push(q);
      queue = later;
      if (round.length === 1) {
        const q = round[0]!;
        await this.acceptOne(q.a).then(q.resolve, q.reject);
        continue;
      }
      try {
        const results = await this.acceptMany(round.map((q) => q.a));
        round.forEach((q, i) => q.resolve(results[i]!));
      } catch (err) {
        for (const q of round) q.reject(err);
      }
    }
  }

  /** Distinct keys, one statement; after an ambiguous error each is resolved through its ledger token and only those still unsettled run again. */
  private acceptMany(items: AcceptInput[]): Promise<AcceptResult[]> {
    const out: Array<AcceptResult | undefined> = new Array(items.length);
    let todo = items.map((_, i) => i);
    const pick = <T>(f: (a: AcceptInput) => T) => todo.map((i) => f(items[i]!));
    const retention = interval(items[0]!.retentionMs);
    const lease = interval(items[0]!.leaseMs);
    return this.run<AcceptResult[]>('accept', true, async () => {
      const params = [
        pick((a) => keyHash(a.key)), pick((a) => a.ledgerToken), pick((a) => a.acceptStatus), pick((a) => a.key), pick((a) => a.route), pick((a) => a.tenant),
        pick((a) => a.dispatchOwner), pick((a) => a.method), pick((a) => a.path), pick((a) => encodeHeaders(a.headers)), pick((a) => a.body),
        pick((a) => encodeMeta(a.meta, a.trace)), pick((a) => a.attempts ?? 0), pick((a) => a.delayMs ?? 0), retention, lease,
      ];
      const rows = (await this.driver.query(this.sql.acceptBatch, params)).rows as Array<{ ord: string; done: boolean; state: string | null; received_ms: number | null }>;
      for (const r of rows) {
        const i = todo[Number(r.ord) - 1]!;
        out[i] = !r.done ? { state: 'lost' } : r.state === null ? { state: 'duplicate' } : { state: 'spooled', delivering: r.state === 'delivering', receivedAt: Math.round(Number(r.received_ms)) };
      }
      return items.map((_, i) => out[i] ?? { state: 'lost' as const });
    }, async (): Promise<Resolution<AcceptResult[]>> => {
      const { rows } = await this.driver.query(this.sql.acceptLookupBatch, [pick((a) => keyHash(a.key)), pick((a) => a.ledgerToken), pick((a) => a.dispatchOwner)]);
      const byOrd = new Map((rows as Array<{ ord: string; status: string; mine: boolean; state: string | null; ours: boolean | null; received_ms: number | null }>).map((r) => [Number(r.ord), r]));
      const again: number[] = [];
      todo.forEach((i, pos) => {
        const r = byOrd.get(pos + 1);
        if (r?.mine && r.status === 'processing') again.push(i);
        else out[i] = r?.mine && r.status === 'done' && r.state ? { state: 'spooled', delivering: r.state === 'delivering' && !!r.ours, receivedAt: Math.round(Number(r.received_ms)) } : { state: 'lost' };
      });
      todo = again;
      return again.length ? { landed: false } : { landed: true, value: items.map((_, i) => out[i]!) };
    });
  }

  private acceptOne(a: AcceptInput): Promise<AcceptResult> {
    const hash = keyHash(a.key);
    const params = [hash, a.ledgerToken, a.acceptStatus, interval(a.retentionMs), a.key, a.route, a.tenant, a.dispatchOwner, interval(a.leaseMs), a.method, a.path, encodeHeaders(a.headers), a.body, encodeMeta(a.meta, a.trace), a.attempts ?? 0, interval(a.delayMs ?? 0)];
    return this.run<AcceptResult>('accept', true, async (): Promise<AcceptResult> => {
      const r = (await this.driver.query(this.sql.accept, params)).rows[0] as { done: number; state: string | null; received_ms: number | null };
      if (!r || Number(r.done) === 0) return { state: 'lost' as const };
      if (r.state === null) return { state: 'duplicate' as const };
      return { state: 'spooled' as const, delivering: r.state === 'delivering', receivedAt: Math.round(Number(r.received_ms)) };
    }, async (): Promise<Resolution<AcceptResult>> => {
      // Same tokens on the re-run: a landed accept shows our ledger token on a done row.
      const r = (await this.driver.query(this.sql.acceptLookup, [hash, a.ledgerToken, a.dispatchOwner])).rows[0] as
        { status: string; mine: boolean; state: string | null; ours: boolean | null; received_ms: number | null } | undefined;
      if (r?.mine && r.status === 'processing') return { landed: false };
      if (r?.mine && r.status === 'done' && r.state) return { landed: true, value: { state: 'spooled', delivering: r.state === 'delivering' && !!r.ours, receivedAt: Math.round(Number(r.received_ms)) } };
      return { landed: true, value: { state: 'lost' } };
    });
  }

  async due(route: string, perTenant: number, limit: number): Promise<Array<{ keyHash: Buffer; tenant: string }>> {
    const rows = await this.run('due', false, async () => (await this.driver.query(this.backend === 'postgres' ? this.sql.dueByTenant : this.sql.due, [route, perTenant, limit])).rows);
    return rows.map((r: { key_hash: Buffer; tenant: string }) => ({ keyHash: r.key_hash, tenant: r.tenant }));
  }

  async claim(keyHashes: Buffer[], owner: string, leaseMs: number): Promise<Claimed[]> {
    if (!keyHashes.length) return [];
    const rows = await this.run<ClaimRow[]>('claim', true,
      async () => (await this.driver.query(this.sql.claim, [keyHashes, owner, interval(leaseMs)])).rows,
      async () => ({ landed: true, value: (await this.driver.query(this.sql.claimLookup, [keyHashes, owner])).rows }));
    return this.withBytes(rows, owner);
  }

  async held(keyHashes: Buffer[], owner: string): Promise<Claimed[]> {
    if (!keyHashes.length) return [];
    const rows = await this.run<ClaimRow[]>('claim', false, async () => (await this.driver.query(this.sql.claimLookup, [keyHashes, owner])).rows);
    return this.withBytes(rows, owner);
  }

  private async withBytes(rows: ClaimRow[], owner: string): Promise<Claimed[]> {
    if (!rows.length) return [];
    const bytes = await this.run('bytes', false, async () => (await this.driver.query(this.sql.bytes, [rows.map((r) => r.key_hash)])).rows);
    type Bytes = { key_hash: Buffer; method: string; path: string; headers: Buffer; body: Buffer; meta: string | null };
    const byHash = new Map((bytes as Bytes[]).map((b) => [b.key_hash.toString('hex'), b]));
    const out: Claimed[] = [];
    for (const r of rows) {
      const b = byHash.get(r.key_hash.toString('hex'));
      // A row without bytes cannot be delivered; it stays claimed and is taken over (and counted) later.
      if (!b) continue;
      out.push({
        keyHash: r.key_hash, key: r.key, route: r.route, tenant: r.tenant, owner, attempts: Number(r.attempts), replays: Number(r.replays), takeover: !!r.takeover,
        receivedAt: Math.round(Number(r.received_ms)), method: b.method, path: b.path, headers: decodeHeaders(b.headers), body: b.body, ...decodeStoredMeta(b.meta),
      });
    }
    return out;
  }

  settle(hash: Buffer, owner: string, how: Settle): Promise<boolean> {
    const params = how.state === 'delivered'
      ? [hash, owner, 'delivered', 0, interval(0), how.status, null, interval(how.keepMs)]
      : how.state === 'pending'
        ? [hash, owner, 'pending', how.spend ? 1 : 0, interval(how.delayMs), how.status, how.error, null]
        : [hash, owner, 'dead', how.spend ? 1 : 0, interval(0), how.status, how.error, interval(how.keepMs)];
    return this.run<boolean>('settle', true,
      async () => ((await this.driver.query(this.sql.settle, params)).rowCount ?? 0) === 1,
      async (): Promise<Resolution<boolean>> => {
        const r = (await this.driver.query(this.sql.settleLookup, [hash, owner])).rows[0] as { state: string; mine: boolean } | undefined;
        if (r?.mine && r.state === 'delivering') return { landed: false };
        return { landed: true, value: !!r?.mine };
      });
  }

  async pendingCounts(): Promise<Array<{ route: string; tenant: string; n: number }>> {
    const rows = await this.run('count', false, async () => (await this.driver.query(this.sql.counts)).rows);
    return rows.map((r: { route: string; tenant: string; n: number }) => ({ route: r.route, tenant: r.tenant, n: Number(r.n) }));
  }

  async get(key: string): Promise<DeliveryRow | undefined> {
    const rows = await this.run('get', false, async () => (await this.driver.query(this.sql.get, [keyHash(key)])).rows);
    return rows[0] ? deliveryRow(rows[0] as Row) : undefined;
  }

  async list(f: SpoolFilter): Promise<DeliveryRow[]> {
    return (await this.page(f)).deliveries;
  }

  async page(f: SpoolFilter): Promise<{ deliveries: DeliveryRow[]; next: string | null }> {
    const limit = f.limit ?? 100;
    const rows = await this.run('list', false, async () => (await this.driver.query(this.sql.list, [...filterParams(f), limit + 1, f.after?.at ?? null, f.after?.hash ?? null])).rows);
    const page = pageOf(rows as Array<Row & { at: string }>, limit, (r) => ({ at: String(r.at), hash: r.key_hash }));
    return { deliveries: page.rows.map(deliveryRow), next: page.next };
  }

  async byId(id: string, withBytes: boolean): Promise<(DeliveryRow & { request?: StoredRequest }) | undefined> {
    const hash = idHash(id);
    if (!hash) return undefined;
    const rows = await this.run('get', false, async () => (await this.driver.query(this.sql.byId, [hash])).rows);
    const r = rows[0] as (Row & { method: string | null; path: string; headers: Buffer; body: Buffer }) | undefined;
    if (!r) return undefined;
    return { ...deliveryRow(r), ...(withBytes && r.method !== null ? { request: { method: r.method, path: r.path, headers: decodeHeaders(r.headers), body: r.body } } : {}) };
  }

  async replay(id: string): Promise<boolean> {
    const hash = idHash(id);
    if (!hash) return false;
    // Running it twice replays twice (one more replay counted): harmless, so no read-back.
    return this.run('replay', true, async () => ((await this.driver.query(this.sql.replay, [hash])).rowCount ?? 0) === 1);
  }

  async replayMany(f: SpoolFilter, dryRun: boolean, pace: ReplayPace = DEFAULT_REPLAY_PACE): Promise<number> {
    if (dryRun) return this.run('count', false, async () => Number((await this.driver.query(this.sql.countMany, filterParams(f))).rows[0]?.n ?? 0));
    // Running it twice (an ambiguous error) replays twice: harmless, as for one replay.
    return this.run('replay', true, async () => (await this.driver.query(this.sql.replayMany, [...filterParams(f), pace.max, pace.windowMs])).rowCount ?? 0);
  }

  async cancel(id: string, keepMs: number): Promise<boolean> {
    const hash = idHash(id);
    if (!hash) return false;
    return this.run('cancel', true, async () => ((await this.driver.query(this.sql.cancel, [hash, interval(keepMs)])).rowCount ?? 0) === 1);
  }

  async pause(route: string, tenant: string): Promise<void> {
    await this.run('pause', true, () => this.driver.query(this.sql.pause, [route, tenant]));
  }

  async resume(route: string, tenant: string): Promise<boolean> {
    return this.run('resume', true, async () => ((await this.driver.query(this.sql.resume, [route, tenant])).rowCount ?? 0) > 0);
  }

  async stats(): Promise<SpoolStats> {
    const [counts, oldest, paused] = await Promise.all([
      this.run('stats', false, async () => (await this.driver.query(this.sql.stateCounts)).rows),
      this.run('stats', false, async () => (await this.driver.query(this.sql.oldest)).rows),
      this.run('stats', false, async () => (await this.driver.query(this.sql.paused)).rows),
    ]);
    return {
      counts: counts.map((r: { route: string; tenant: string; state: SpoolState; n: number }) => ({ route: r.route, tenant: r.tenant, state: r.state, n: Number(r.n) })),
      oldestPendingMs: oldest.map((r: { route: string; ms: number }) => ({ route: r.route, ms: Math.max(0, Math.round(Number(r.ms))) })),
      paused: paused.map((r: { route: string; tenant: string }) => ({ route: r.route, tenant: r.tenant })),
    };
  }

  async expire(route: string, maxAgeMs: number, keepMs: number): Promise<number> {
    return this.run('expire', true, async () => (await this.driver.query(this.sql.expire, [route, interval(maxAgeMs), interval(keepMs)])).rowCount ?? 0);
  }

  async sweep(limit: number): Promise<number> {
    return this.run('sweep', true, async () => Number((await this.driver.query(this.sql.sweep, [limit])).rows[0]?.n ?? 0));
  }

  async ping(): Promise<void> {
    await this.run('ping', false, () => this.driver.query('SELECT 1'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.driver.end();
  }
}

function filterParams(f: SpoolFilter): unknown[] {
  return [f.route ?? null, f.tenant ?? null, f.state ?? null, f.since ?? null, f.until ?? null];
}
