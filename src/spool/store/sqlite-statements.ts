// The embedded spool's statements (sqlite.ts runs them), prepared once on its connection. Time is in
// ms, bound by the caller; the SQL store's statements (sql-statements.ts) say the why of each shape.
import type Database from 'better-sqlite3';
import { TAKEOVER } from '../../ledger/embedded.js';
import type { DeliveryRow, SpoolFilter, SpoolState } from './types.js';

const COLUMNS = 'key_hash, key, route, tenant, state, attempts, replays, last_status, last_error, received_at, next_at';
// @route, @tenant, @state, @since, @until: each NULL for any
const FILTER = `(@route IS NULL OR route = @route) AND (@tenant IS NULL OR tenant = @tenant) AND (@state IS NULL OR state = @state)
  AND (@since IS NULL OR received_at >= @since) AND (@until IS NULL OR received_at < @until)`;
const PAUSED = (route: string, tenant: string) => `EXISTS (SELECT 1 FROM hookgate_spool_pause AS p WHERE p.route = ${route} AND p.tenant IN (${tenant}, '*'))`;

/** A spool row as the listing statements return it (times in ms). */
export interface Row {
  key_hash: Buffer; key: string; route: string; tenant: string; state: SpoolState; attempts: number; replays: number;
  last_status: number | null; last_error: string | null; received_at: number; next_at: number;
}

export const deliveryRow = (r: Row): DeliveryRow => ({
  id: r.key_hash.toString('hex'), key: r.key, route: r.route, tenant: r.tenant, state: r.state, attempts: r.attempts, replays: r.replays,
  lastStatus: r.last_status, lastError: r.last_error, receivedAt: r.received_at, nextAt: r.next_at,
});

/** What claimOne and heldOne return. */
export type ClaimRow = { key_hash: Buffer; key: string; route: string; tenant: string; attempts: number; replays: number; received_at: number };

/** FILTER's parameters: each NULL for any. */
export const filterParams = (f: SpoolFilter) => ({ route: f.route ?? null, tenant: f.tenant ?? null, state: f.state ?? null, since: f.since ?? null, until: f.until ?? null });

export function sqliteStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    done: p(`UPDATE hookgate_ledger SET status = 'done', resp_status = ?, lease_until = ?, updated_at = ?, expires_at = ?
      WHERE key_hash = ? AND owner = ? AND status = 'processing'`),
    // the ledger's claim with its takeover rule, made done at once: key hash, token, now, status, now, now, expires_at
    claimDone: p(`INSERT INTO hookgate_ledger AS l (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at)
      VALUES (?, 'done', ?, 1, ?, ?, ?, ?, ?)
      ${TAKEOVER}
      RETURNING attempt`),
    ledgerRow: p(`SELECT status, resp_status, lease_until, expires_at FROM hookgate_ledger WHERE key_hash = ?`),
    paused: p(`SELECT ${PAUSED('?', '?')} AS paused`),
    spool: p(`INSERT INTO hookgate_spool (key_hash, key, route, tenant, state, owner, next_at, attempts, replays, received_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (key_hash) DO NOTHING`),
    // a body shares its row's id (migration 4)
    bytes: p(`INSERT INTO hookgate_spool_body (id, method, path, headers, body, meta) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET method = excluded.method, path = excluded.path, headers = excluded.headers, body = excluded.body, meta = excluded.meta`),
    // The ready index walked tenant by tenant (see the SQL store's dueByTenant): first tries before
    // retries and replays, oldest first, without ranking the whole backlog on every poll.
    firstTenant: p(`SELECT tenant FROM hookgate_spool WHERE route = ? AND state IN ('pending', 'delivering') ORDER BY tenant LIMIT 1`),
    nextTenant: p(`SELECT tenant FROM hookgate_spool WHERE route = ? AND state IN ('pending', 'delivering') AND tenant > ? ORDER BY tenant LIMIT 1`),
    dueOfTenant: p(`SELECT key_hash, tenant, next_at, (attempts > 0 OR replays > 0) AS again FROM hookgate_spool
      WHERE route = ? AND tenant = ? AND state IN ('pending', 'delivering') AND next_at <= ?
      ORDER BY (attempts > 0 OR replays > 0), next_at LIMIT ?`),
    stateOf: p(`SELECT state FROM hookgate_spool WHERE key_hash = ?`),
    claimOne: p(`UPDATE hookgate_spool AS s SET state = 'delivering', owner = ?, next_at = ?, updated_at = ?,
        attempts = CASE WHEN s.state = 'delivering' THEN s.attempts + 1 ELSE s.attempts END
      WHERE s.key_hash = ? AND s.state IN ('pending', 'delivering') AND s.next_at <= ? AND NOT ${PAUSED('s.route', 's.tenant')}
      RETURNING key_hash, key, route, tenant, attempts, replays, received_at`),
    heldOne: p(`SELECT key_hash, key, route, tenant, attempts, replays, received_at FROM hookgate_spool WHERE key_hash = ? AND owner = ? AND state = 'delivering'`),
    body: p(`SELECT method, path, headers, body, meta FROM hookgate_spool_body WHERE id = (SELECT id FROM hookgate_spool WHERE key_hash = ?)`),
    settle: p(`UPDATE hookgate_spool SET state = ?, attempts = attempts + ?, next_at = ?, last_status = ?, last_error = ?, expires_at = ?, updated_at = ?
      WHERE key_hash = ? AND owner = ? AND state = 'delivering'`),
    counts: p(`SELECT route, tenant, count(*) AS n FROM hookgate_spool WHERE state IN ('pending', 'delivering') GROUP BY route, tenant`),
    get: p(`SELECT ${COLUMNS} FROM hookgate_spool WHERE key_hash = ?`),
    // keyset pages, newest first (see the SQL store); received_at is ms here
    list: p(`SELECT ${COLUMNS} FROM hookgate_spool WHERE ${FILTER} AND (@at IS NULL OR (received_at, key_hash) < (@at, @ahash))
      ORDER BY received_at DESC, key_hash DESC LIMIT @limit`),
    replay: p(`UPDATE hookgate_spool SET state = 'pending', attempts = 0, replays = replays + 1, next_at = @now, expires_at = NULL, owner = NULL, updated_at = @now
      WHERE key_hash = @hash AND state <> 'delivering'`),
    // paced by next_at, oldest first: @max a @every ms window (see the SQL store)
    replayMany: p(`UPDATE hookgate_spool AS s SET state = 'pending', attempts = 0, replays = s.replays + 1, expires_at = NULL, owner = NULL, updated_at = @now,
        next_at = @now + CAST(m.i / @max AS INTEGER) * @every
      FROM (SELECT key_hash, row_number() OVER (ORDER BY received_at, key_hash) - 1 AS i FROM hookgate_spool WHERE ${FILTER} AND state <> 'delivering') AS m
      WHERE s.key_hash = m.key_hash AND s.state <> 'delivering'`),
    countMany: p(`SELECT count(*) AS n FROM hookgate_spool WHERE ${FILTER} AND state <> 'delivering'`),
    cancel: p(`UPDATE hookgate_spool SET state = 'cancelled', expires_at = ?, owner = NULL, updated_at = ? WHERE key_hash = ? AND state IN ('pending', 'dead')`),
    pause: p(`INSERT INTO hookgate_spool_pause (route, tenant, paused_at) VALUES (?, ?, ?) ON CONFLICT (route, tenant) DO NOTHING`),
    resume: p(`DELETE FROM hookgate_spool_pause WHERE route = ? AND tenant = ?`),
    pausedAll: p(`SELECT route, tenant FROM hookgate_spool_pause ORDER BY route, tenant`),
    stateCounts: p(`SELECT route, tenant, state, count(*) AS n FROM hookgate_spool GROUP BY route, tenant, state`),
    liveCounts: p(`SELECT route, tenant, state, count(*) AS n FROM hookgate_spool WHERE state IN ('pending', 'delivering') GROUP BY route, tenant, state`),
    oldest: p(`SELECT route, ? - min(received_at) AS ms FROM hookgate_spool WHERE state IN ('pending', 'delivering') GROUP BY route`),
    expire: p(`UPDATE hookgate_spool SET state = 'dead', last_error = 'expired: older than maxAge', owner = NULL, expires_at = ?, updated_at = ?
      WHERE route = ? AND state = 'pending' AND received_at <= ?`),
    sweepRows: p(`SELECT id FROM hookgate_spool WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`),
    sweepOne: p(`DELETE FROM hookgate_spool WHERE id = ? AND expires_at <= ?`),
    sweepBody: p(`DELETE FROM hookgate_spool_body WHERE id = ?`),
  };
}
