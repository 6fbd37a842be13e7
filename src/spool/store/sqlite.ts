// The spool in the embedded SQLite file, for one replica, on the ledger worker's connection when there
// is one (sqlite-serve.ts), else its own. Each operation is one IMMEDIATE transaction: the accept's
// ledger write and spool inserts commit together, with synchronous=FULL on disk before the provider
// hears 2xx (NORMAL may lose the last commits on power loss). Time is this process's clock.
import type Database from 'better-sqlite3';
import { keyHash } from '../../ledger/common.js';
import { openSqlite } from '../../ledger/sqlite-connection.js';
import { unavailable } from '../../ledger/retry.js';
import { DEFAULT_REPLAY_PACE, idHash, type ReplayPace, type AcceptInput, type AcceptResult, type Claimed, type DeliveryRow, type Settle, type SpoolFilter, type SpoolStats, type SpoolStore, type StoredRequest } from './types.js';
import { decodeHeaders, decodeStoredMeta, encodeHeaders, encodeMeta } from './headers.js';
import { deliveryRow, filterParams, sqliteStatements, type ClaimRow, type Row } from './sqlite-statements.js';
import type { Rider } from '../../ledger/embedded-serve.js';
import { pageOf } from '../cursor.js';

export class SqliteSpoolStore implements SpoolStore {
  readonly backend = 'embedded' as const;
  private readonly s: ReturnType<typeof sqliteStatements>;
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
    this.s = sqliteStatements(db);
  }

  /**
   * Runs a store operation; SQLite's errors become ledger_unavailable (503 at the accept). `durable`:
   * FULL or NORMAL for its commit; null for a read, which has no commit and leaves the setting as it
   * is (the dispatcher reads before each claim: a switch there costs two pragmas a poll).
   */
  private op<T>(what: string, fn: () => T, durable: boolean | null = true): Promise<T> {
    if (this.closed) return Promise.reject(unavailable(`spool ${what}`, new Error('the spool is closed')));
    try {
      if (durable !== null) this.sync(durable);
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
    const row = this.s.spool.run(hash, a.key, a.route, a.tenant, deliver ? 'delivering' : 'pending', a.dispatchOwner, deliver ? now + a.leaseMs : now + (a.delayMs ?? 0), a.attempts ?? 0, now, now);
    if (row.changes !== 1) return { state: 'duplicate' };
    this.s.bytes.run(row.lastInsertRowid, a.method, a.path, encodeHeaders(a.headers), a.body, encodeMeta(a.meta, a.trace));
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
    }, null);
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
    return this.op('claim', () => keyHashes.flatMap((hash) => this.withBytes(this.s.heldOne.get(hash, owner) as ClaimRow | undefined, owner, false) ?? []), null);
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
    return this.op('count', () => this.s.counts.all() as Array<{ route: string; tenant: string; n: number }>, null);
  }

  get(key: string): Promise<DeliveryRow | undefined> {
    return this.op('get', () => {
      const r = this.s.get.get(keyHash(key)) as Row | undefined;
      return r ? deliveryRow(r) : undefined;
    }, null);
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
    }, null);
  }

  byId(id: string, withBytes: boolean): Promise<(DeliveryRow & { request?: StoredRequest }) | undefined> {
    return this.op('get', () => {
      const hash = idHash(id);
      const r = hash && (this.s.get.get(hash) as Row | undefined);
      if (!r) return undefined;
      const b = withBytes ? (this.s.body.get(hash) as { method: string; path: string; headers: Buffer; body: Buffer } | undefined) : undefined;
      return { ...deliveryRow(r), ...(b ? { request: { method: b.method, path: b.path, headers: decodeHeaders(b.headers), body: b.body } } : {}) };
    }, null);
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

  stats(live = false): Promise<SpoolStats> {
    return this.op('stats', () => ({
      counts: (live ? this.s.liveCounts : this.s.stateCounts).all() as SpoolStats['counts'],
      oldestPendingMs: (this.s.oldest.all(this.now()) as SpoolStats['oldestPendingMs']).map((r) => ({ route: r.route, ms: Math.max(0, r.ms) })),
      paused: this.s.pausedAll.all() as SpoolStats['paused'],
    }), null);
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
      for (const { id } of this.s.sweepRows.all(now, limit) as Array<{ id: number }>) {
        if (this.s.sweepOne.run(id, now).changes === 1) {
          this.s.sweepBody.run(id);
          n++;
        }
      }
      return n;
    }).immediate());
  }

  ping(): Promise<void> {
    return this.op('ping', () => void this.db.prepare('SELECT 1').get(), null);
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
