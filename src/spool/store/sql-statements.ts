// The spool's SQL, one statement each, for PostgreSQL and CockroachDB (sql.ts runs them). `{…}` names
// are schema-qualified; every write is fenced by an owner token.
import { qualified } from '../../ledger/migrations.js';
import { TAKEOVER } from '../../ledger/sql.js';

/** The batched accepts' input, one row an accept: $1…$14 as arrays, and its position (ord). */
const ACCEPT_INPUT = `input AS (
  SELECT * FROM unnest($1::BYTEA[], $2::UUID[], $3::INT4[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::UUID[], $8::TEXT[], $9::TEXT[],
                       $10::BYTEA[], $11::BYTEA[], $12::TEXT[], $13::INT4[], $14::FLOAT8[])
    WITH ORDINALITY AS i(key_hash, ledger_token, accept_status, key, route, tenant, owner, method, path, headers, body, meta, attempts, delay_ms, ord)
)`;

export function spoolStatements(schema: string | undefined) {
  const L = qualified(schema, 'hookgate_ledger');
  const S = qualified(schema, 'hookgate_spool');
  const B = qualified(schema, 'hookgate_spool_body');
  const P = qualified(schema, 'hookgate_spool_pause');
  // $1 route, $2 tenant, $3 state, $4 since (ms), $5 until (ms): each NULL for any
  const FILTER = `($1::TEXT IS NULL OR s.route = $1) AND ($2::TEXT IS NULL OR s.tenant = $2) AND ($3::TEXT IS NULL OR s.state = $3)
   AND ($4::FLOAT8 IS NULL OR s.received_at >= to_timestamp($4::FLOAT8 / 1000)) AND ($5::FLOAT8 IS NULL OR s.received_at < to_timestamp($5::FLOAT8 / 1000))`;
  const paused = (route: string, tenant: string) => `EXISTS (SELECT 1 FROM ${P} AS p WHERE p.route = ${route} AND p.tenant IN (${tenant}, '*'))`;
  // The batched accepts' rows, and what follows a done ledger key: the spool row (a new one only),
  // then its bytes. $16 lease.
  const stored = `spooled AS (
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
)`;
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
WITH ${ACCEPT_INPUT}, done AS (
  UPDATE ${L} AS l SET status = 'done', resp_status = i.accept_status, lease_until = now(), updated_at = now(), expires_at = now() + $15::INTERVAL
    FROM input AS i
   WHERE l.key_hash = i.key_hash AND l.owner = i.ledger_token AND l.status = 'processing'
  RETURNING l.key_hash
), ${stored}
SELECT i.ord, d.key_hash IS NOT NULL AS done, s.state, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms
  FROM input AS i LEFT JOIN done AS d ON d.key_hash = i.key_hash LEFT JOIN spooled AS s ON s.key_hash = i.key_hash`,

    // The same, for accepts that claim their keys themselves (a spool route: no claim before it). The
    // ledger's claim with its takeover rule, made done at once; a key the ledger holds is answered
    // from its row as it stood (the outer SELECT reads the statement's snapshot, as the ledger's
    // claim_batch does): done + status, or in flight + the lease left.
    acceptClaimBatch: `/* hookgate:spool_accept_claim_batch */
WITH ${ACCEPT_INPUT}, done AS (
  INSERT INTO ${L} AS l (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at)
  SELECT i.key_hash, 'done', i.ledger_token, 1, now(), i.accept_status, now(), now(), now() + $15::INTERVAL FROM input AS i ORDER BY i.key_hash
  ${TAKEOVER}
  RETURNING l.key_hash
), ${stored}
SELECT i.ord, d.key_hash IS NOT NULL AS done, s.state, (EXTRACT(EPOCH FROM s.received_at) * 1000)::FLOAT8 AS received_ms,
       l.status AS held, l.resp_status,
       GREATEST(0, EXTRACT(EPOCH FROM (l.lease_until - now())) * 1000)::FLOAT8 AS wait_ms,
       GREATEST(0, EXTRACT(EPOCH FROM (l.expires_at - now())) * 1000)::FLOAT8 AS expires_ms
  FROM input AS i LEFT JOIN done AS d ON d.key_hash = i.key_hash LEFT JOIN spooled AS s ON s.key_hash = i.key_hash
  LEFT JOIN ${L} AS l ON d.key_hash IS NULL AND l.key_hash = i.key_hash AND l.expires_at > now()`,

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
    liveCounts: `/* hookgate:spool_live_counts */
SELECT route, tenant, state, count(*)::INT4 AS n FROM ${S} WHERE state IN ('pending', 'delivering') GROUP BY route, tenant, state`,

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
