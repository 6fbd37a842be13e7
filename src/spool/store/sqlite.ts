// The spool in the embedded SQLite file, for one replica. On the connection of the ledger's worker
// thread when there is one (sqlite-thread.ts), else its own: each operation is one IMMEDIATE transaction, so the
// accept's ledger update and spool inserts commit together, and with synchronous=FULL a commit is on
// disk before the provider hears 2xx (SQLite's NORMAL may lose the last commits on power loss).
// Time is this process's clock, as in the embedded ledger.
import type Database from 'better-sqlite3';
import { keyHash } from '../../ledger/common.js';
import { openSqlite } from '../../ledger/embedded.js';
import { unavailable } from '../../ledger/retry.js';
import { DEFAULT_REPLAY_PACE, idHash, type ReplayPace, type AcceptInput, type AcceptResult, type Claimed, type DeliveryRow, type Settle, type SpoolFilter, type SpoolStats, type SpoolState, type SpoolStore, type StoredRequest } from './types.js';

const COLUMNS = 'key_hash, key, route, tenant, state, attempts, replays, last_status, last_error, received_at, next_at';
// @route, @tenant, @state, @since, @until: each NULL for any
const FILTER = `(@route IS NULL OR route = @route) AND (@tenant IS NULL OR tenant = @tenant) AND (@state IS NULL OR state = @state)
  AND (@since IS NULL OR received_at >= @since) AND (@until IS NULL OR received_at < @until)`;
const filterParams = (f: SpoolFilter) => ({ route: f.route ?? null, tenant: f.tenant ?? null, state: f.state ?? null, since: f.since ?? null, until: f.until ?? null });
import { decodeHeaders, decodeStoredMeta, encodeHeaders, encodeMeta } from './headers.js';
import { pageOf } from '../cursor.js';

interface Row {
  key_hash: Buffer; key: string; route: string; tenant: string; state: SpoolState; attempts: number; replays: number;
  last_status: number | null; last_error: string | null; received_at: number; next_at: number;
}

const deliveryRow = (r: Row): DeliveryRow => ({
  id: r.key_hash.toString('hex'), key: r.key, route: r.route, tenant: r.tenant, state: r.state, attempts: r.attempts, replays: r.replays,
  lastStatus: r.last_status, lastError: r.last_error, receivedAt: r.received_at, nextAt: r.next_at,
});

const PAUSED = (route: string, tenant: string) => `EXISTS (SELECT 1 FROM hookgate_spool_pause AS p WHERE p.route = ${route} AND p.tenant IN (${tenant}, '*'))`;

/** Another store's work on the same connection, run inside the accepts' transaction (ride()). */
export interface Rider {
  /** its statements; must not throw for one operation's error (answers carry those) */
  run(): void;
  /** after the commit: answer */
  committed(): void;
  /** the transaction failed as a whole: nothing of it applied */
  failed(err: unknown): void;
}

type ClaimRow = { key_hash: Buffer; key: string; route: string; tenant: string; attempts: number; replays: number; received_at: number };

export class SqliteSpoolStore implements SpoolStore {
  readonly backend = 'embedded' as const;
  private readonly s;
  private closed = false;
  /** the connection's synchronous setting now */
  private full: boolean;
  /** its setting as opened: the embedded ledger's (FULL once a route spools, CONTRACT.md) */
  private readonly opened: boolean;
  private acceptQueue: Array<{ a: AcceptInput; resolve: (r: AcceptResult) => void; reject: (err: unknown) => void }> = [];
  private riders: Rider[] = [];
  private flushing = false;

  /**
   * `ownsDb` false: the connection is the embedded ledger's (served in its worker thread), which
   * closes it, and whose commits keep the setting it was opened with (restore()).
   */
  constructor(private readonly db: Database.Database, private readonly now: () => number = Date.now, private readonly ownsDb = true) {
    this.full = this.opened = db.pragma('synchronous', { simple: true }) === 2;
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      done: p(`UPDATE hookgate_ledger SET status = 'done', resp_status = ?, lease_until = ?, updated_at = ?, expires_at = ?
        WHERE key_hash = ? AND owner = ? AND status = 'processing'`),
      // the ledger's claim (its takeover rule, embedded.ts), made done at once: key hash, token, now, status, now, now, expires_at
      claimDone: p(`INSERT INTO hookgate_ledger AS l (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at)
        VALUES (?, 'done', ?, 1, ?, ?, ?, ?, ?)
        ON CONFLICT (key_hash) DO UPDATE SET status = 'done', owner = excluded.owner,
          attempt = CASE WHEN l.expires_at <= excluded.updated_at THEN 1 ELSE l.attempt + 1 END,
          lease_until = excluded.lease_until, resp_status = excluded.resp_status,
          created_at = CASE WHEN l.expires_at <= excluded.updated_at THEN excluded.updated_at ELSE l.created_at END,
          updated_at = excluded.updated_at, expires_at = excluded.expires_at
        WHERE l.expires_at <= excluded.updated_at OR l.status = 'failed' OR (l.status = 'processing' AND l.lease_until <= excluded.updated_at)
        RETURNING attempt`),
      ledgerRow: p(`SELECT status, resp_status, lease_until, expires_at FROM hookgate_ledger WHERE key_hash = ?`),
      paused: p(`SELECT ${PAUSED('?', '?')} AS paused`),
      spool: p(`INSERT INTO hookgate_spool (key_hash, key, route, tenant, state, owner, next_at, attempts, replays, received_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (key_hash) DO NOTHING`),
      bytes: p(`INSERT INTO hookgate_spool_body (key_hash, method, path, headers, body, meta) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (key_hash) DO UPDATE SET method = excluded.method, path = excluded.path, headers = excluded.headers, body = excluded.body, meta = excluded.meta`),
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
      body: p(`SELECT method, path, headers, body, meta FROM hookgate_spool_body WHERE key_hash = ?`),
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
      oldest: p(`SELECT route, ? - min(received_at) AS ms FROM hookgate_spool WHERE state IN ('pending', 'delivering') GROUP BY route`),
      expire: p(`UPDATE hookgate_spool SET state = 'dead', last_error = 'expired: older than maxAge', owner = NULL, expires_at = ?, updated_at = ?
        WHERE route = ? AND state = 'pending' AND received_at <= ?`),
      sweepRows: p(`SELECT key_hash FROM hookgate_spool WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`),
      sweepOne: p(`DELETE FROM hookgate_spool WHERE key_hash = ? AND expires_at <= ?`),
      sweepBody: p(`DELETE FROM hookgate_spool_body WHERE key_hash = ?`),
    };
  }

  /** Runs a store operation; SQLite's errors become ledger_unavailable (503 at the accept). */
  private op<T>(what: string, fn: () => T, durable = true): Promise<T> {
    if (this.closed) return Promise.reject(unavailable(`spool ${what}`, new Error('the spool is closed')));
    try {
      this.sync(durable);
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(unavailable(`spool ${what}`, err));
    }
  }

  /**
   * Group commit, as the embedded ledger does: the accepts of one turn of the event loop commit in one
   * IMMEDIATE transaction (one sync of the WAL with synchronous=FULL), each answered only after it.
   */
  accept(a: AcceptInput): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(unavailable('spool accept', new Error('the spool is closed')));
    return new Promise((resolve, reject) => {
      this.acceptQueue.push({ a, resolve, reject });
      this.flushSoon();
    });
  }

  /**
   * Work of the ledger on this connection (its group-commit batches, in its worker thread), committed
   * in the same transaction as the accepts of the turn: one sync to disk for both instead of two.
   */
  ride(r: Rider): void {
    this.riders.push(r);
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flushAccepts());
  }

  /**
   * synchronous=FULL for every commit that stands behind an answer (an accept's 2xx, an operator's
   * replay or pause); NORMAL for the dispatch's claims and settles: one lost on power loss is a
   * delivery sent again, inside the duplicate window, and the next FULL commit syncs it to disk too
   * (one WAL).
   */
  private sync(full: boolean): void {
    if (this.full === full) return;
    // db.pragma, not a prepared statement: SQLite applies this pragma when it is compiled, not when run
    this.db.pragma(`synchronous = ${full ? 'FULL' : 'NORMAL'}`);
    this.full = full;
  }

  /** The connection's own setting again, after this store's NORMAL claims and settles: for the ledger's commits on a shared connection. */
  restore(): void {
    this.sync(this.opened);
  }

  private flushAccepts(): void {
    this.flushing = false;
    const batch = this.acceptQueue;
    this.acceptQueue = [];
    const riders = this.riders;
    this.riders = [];
    if (!batch.length && !riders.length) return;
    // FULL behind a spooled 2xx; a batch of the ledger's alone with its own setting
    this.sync(batch.length ? true : this.opened);
    let results: Array<{ ok: true; value: AcceptResult } | { ok: false; err: unknown }>;
    try {
      results = this.db.transaction(() => {
        for (const r of riders) r.run();
        return batch.map(({ a }) => {
        try {
          // a savepoint each: a failing accept leaves nothing half-written (a row without its bytes)
          return { ok: true as const, value: this.acceptTx(a) };
        } catch (err) {
          // one statement failing is undone alone; an error that ended the transaction fails the batch
          if (!this.db.inTransaction) throw err;
          return { ok: false as const, err };
        }
        });
      }).immediate();
    } catch (err) {
      for (const r of riders) r.failed(err);
      for (const q of batch) q.reject(unavailable('spool accept', err));
      return;
    }
    for (const r of riders) r.committed();
    results.forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(unavailable('spool accept', r.err))));
  }

  private readonly acceptTx = (a: AcceptInput): AcceptResult => this.db.transaction(() => this.acceptOne(a))();

  /** The ledger claim done with acceptStatus, the spool row and its bytes: inside the batch's transaction. */
  private acceptOne(a: AcceptInput): AcceptResult {
    const now = this.now();
    const hash = keyHash(a.key);
    if (a.claim) {
      if (!this.s.claimDone.get(hash, a.ledgerToken, now, a.acceptStatus, now, now, now + a.retentionMs)) {
        // refused by the takeover rule: the row is there, unexpired
        const l = this.s.ledgerRow.get(hash) as { status: string; resp_status: number | null; lease_until: number; expires_at: number };
        return l.status === 'done' ? { state: 'done', status: Number(l.resp_status), expiresInMs: l.expires_at - now } : { state: 'in_flight', retryAfterMs: Math.max(1, l.lease_until - now) };
      }
    } else if (this.s.done.run(a.acceptStatus, now, now, now + a.retentionMs, hash, a.ledgerToken).changes !== 1) return { state: 'lost' };
    const deliver = a.dispatchOwner !== null && !(this.s.paused.get(a.route, a.tenant) as { paused: number }).paused;
    const inserted = this.s.spool.run(hash, a.key, a.route, a.tenant, deliver ? 'delivering' : 'pending', a.dispatchOwner, deliver ? now + a.leaseMs : now + (a.delayMs ?? 0), a.attempts ?? 0, now, now).changes === 1;
    if (!inserted) return { state: 'duplicate' };
    this.s.bytes.run(hash, a.method, a.path, encodeHeaders(a.headers), a.body, encodeMeta(a.meta, a.trace));
    return { state: 'spooled', delivering: deliver, receivedAt: now };
  }

  due(route: string, perTenant: number, limit: number): Promise<Array<{ keyHash: Buffer; tenant: string }>> {
    return this.op('due', () => {
      const now = this.now();
      type Due = { key_hash: Buffer; tenant: string; next_at: number; again: number };
      const rows: Due[] = [];
      for (let t = this.s.firstTenant.get(route) as { tenant: string } | undefined; t; t = this.s.nextTenant.get(route, t.tenant) as { tenant: string } | undefined) {
        if ((this.s.paused.get(route, t.tenant) as { paused: number }).paused) continue;
        rows.push(...(this.s.dueOfTenant.all(route, t.tenant, now, perTenant) as Due[]));
      }
      rows.sort((a, b) => a.again - b.again || a.next_at - b.next_at);
      return rows.slice(0, limit).map((r) => ({ keyHash: r.key_hash, tenant: r.tenant }));
    });
  }

  claim(keyHashes: Buffer[], owner: string, leaseMs: number): Promise<Claimed[]> {
    return this.op('claim', () => this.db.transaction((): Claimed[] => {
      const now = this.now();
      const out: Claimed[] = [];
      for (const hash of keyHashes) {
        const before = (this.s.stateOf.get(hash) as { state: string } | undefined)?.state;
        const c = this.withBytes(this.s.claimOne.get(owner, now + leaseMs, now, hash, now) as ClaimRow | undefined, owner, before === 'delivering');
        if (c) out.push(c);
      }
      return out;
    }).immediate(), false);
  }

  held(keyHashes: Buffer[], owner: string): Promise<Claimed[]> {
    return this.op('claim', () => keyHashes.flatMap((hash) => this.withBytes(this.s.heldOne.get(hash, owner) as ClaimRow | undefined, owner, false) ?? []));
  }

  private withBytes(r: ClaimRow | undefined, owner: string, takeover: boolean): Claimed | undefined {
    if (!r) return undefined;
    const b = this.s.body.get(r.key_hash) as { method: string; path: string; headers: Buffer; body: Buffer; meta: string | null } | undefined;
    if (!b) return undefined;
    return { keyHash: r.key_hash, key: r.key, route: r.route, tenant: r.tenant, owner, takeover, attempts: r.attempts, replays: r.replays, receivedAt: r.received_at, method: b.method, path: b.path, headers: decodeHeaders(b.headers), body: b.body, ...decodeStoredMeta(b.meta) };
  }

  settle(hash: Buffer, owner: string, how: Settle): Promise<boolean> {
    return this.op('settle', () => {
      const now = this.now();
      const args = how.state === 'delivered'
        ? ['delivered', 0, now, how.status, null, now + how.keepMs]
        : how.state === 'pending'
          ? ['pending', how.spend ? 1 : 0, now + how.delayMs, how.status, how.error, null]
          : ['dead', how.spend ? 1 : 0, now, how.status, how.error, now + how.keepMs];
      return this.s.settle.run(...args, now, hash, owner).changes === 1;
    }, false);
  }

  pendingCounts(): Promise<Array<{ route: string; tenant: string; n: number }>> {
    return this.op('count', () => this.s.counts.all() as Array<{ route: string; tenant: string; n: number }>);
  }

  get(key: string): Promise<DeliveryRow | undefined> {
    return this.op('get', () => {
      const r = this.s.get.get(keyHash(key)) as Row | undefined;
      return r ? deliveryRow(r) : undefined;
    });
  }

  async list(f: SpoolFilter): Promise<DeliveryRow[]> {
    return (await this.page(f)).deliveries;
  }

  page(f: SpoolFilter): Promise<{ deliveries: DeliveryRow[]; next: string | null }> {
    const limit = f.limit ?? 100;
    return this.op('list', () => {
      const rows = this.s.list.all({ ...filterParams(f), limit: limit + 1, at: f.after ? Number(f.after.at) : null, ahash: f.after?.hash ?? null }) as Row[];
      const page = pageOf(rows, limit, (r) => ({ at: String(r.received_at), hash: r.key_hash }));
      return { deliveries: page.rows.map(deliveryRow), next: page.next };
    });
  }

  byId(id: string, withBytes: boolean): Promise<(DeliveryRow & { request?: StoredRequest }) | undefined> {
    return this.op('get', () => {
      const hash = idHash(id);
      const r = hash && (this.s.get.get(hash) as Row | undefined);
      if (!r) return undefined;
      const b = withBytes ? (this.s.body.get(hash) as { method: string; path: string; headers: Buffer; body: Buffer } | undefined) : undefined;
      return { ...deliveryRow(r), ...(b ? { request: { method: b.method, path: b.path, headers: decodeHeaders(b.headers), body: b.body } } : {}) };
    });
  }

  replay(id: string): Promise<boolean> {
    return this.op('replay', () => {
      const hash = idHash(id);
      return !!hash && this.s.replay.run({ hash, now: this.now() }).changes === 1;
    });
  }

  replayMany(f: SpoolFilter, dryRun: boolean, pace: ReplayPace = DEFAULT_REPLAY_PACE): Promise<number> {
    return this.op('replay', () => dryRun
      ? (this.s.countMany.get(filterParams(f)) as { n: number }).n
      : this.s.replayMany.run({ ...filterParams(f), now: this.now(), max: pace.max, every: pace.windowMs }).changes);
  }

  cancel(id: string, keepMs: number): Promise<boolean> {
    return this.op('cancel', () => {
      const hash = idHash(id);
      const now = this.now();
      return !!hash && this.s.cancel.run(now + keepMs, now, hash).changes === 1;
    });
  }

  pause(route: string, tenant: string): Promise<void> {
    return this.op('pause', () => void this.s.pause.run(route, tenant, this.now()));
  }

  resume(route: string, tenant: string): Promise<boolean> {
    return this.op('resume', () => this.s.resume.run(route, tenant).changes > 0);
  }

  stats(): Promise<SpoolStats> {
    return this.op('stats', () => ({
      counts: this.s.stateCounts.all() as SpoolStats['counts'],
      oldestPendingMs: (this.s.oldest.all(this.now()) as SpoolStats['oldestPendingMs']).map((r) => ({ route: r.route, ms: Math.max(0, r.ms) })),
      paused: this.s.pausedAll.all() as SpoolStats['paused'],
    }));
  }

  expire(route: string, maxAgeMs: number, keepMs: number): Promise<number> {
    return this.op('expire', () => {
      const now = this.now();
      return this.s.expire.run(now + keepMs, now, route, now - maxAgeMs).changes;
    });
  }

  sweep(limit: number): Promise<number> {
    return this.op('sweep', () => this.db.transaction(() => {
      const now = this.now();
      let n = 0;
      for (const { key_hash } of this.s.sweepRows.all(now, limit) as Array<{ key_hash: Buffer }>) {
        if (this.s.sweepOne.run(key_hash, now).changes === 1) {
          this.s.sweepBody.run(key_hash);
          n++;
        }
      }
      return n;
    }).immediate());
  }

  ping(): Promise<void> {
    return this.op('ping', () => void this.db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.acceptQueue.length || this.riders.length) this.flushAccepts();
    this.closed = true;
    if (this.ownsDb) this.db.close();
  }
}

/** Opens the spool on the embedded ledger's file (already migrated by the ledger), synchronous=FULL. */
export function openSqliteSpool(url: string, busyTimeoutMs = 2000, now?: () => number): SqliteSpoolStore {
  return new SqliteSpoolStore(openSqlite(url, busyTimeoutMs, 'full'), now);
}
