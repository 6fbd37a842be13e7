// The spool in the embedded SQLite file, for one replica. Its own connection to the ledger's file
// (the ledger's worker thread holds another): each operation is one IMMEDIATE transaction, so the
// accept's ledger update and spool inserts commit together, and with synchronous=FULL a commit is on
// disk before the provider hears 2xx (SQLite's NORMAL may lose the last commits on power loss).
// Time is this process's clock, as in the embedded ledger.
import type Database from 'better-sqlite3';
import { keyHash } from '../../ledger/common.js';
import { openSqlite } from '../../ledger/embedded.js';
import { unavailable } from '../../ledger/retry.js';
import type { AcceptInput, AcceptResult, Claimed, DeliveryRow, Settle, SpoolState, SpoolStore } from './types.js';
import { decodeHeaders, encodeHeaders } from './headers.js';

interface Row {
  key: string; route: string; tenant: string; state: SpoolState; attempts: number; replays: number;
  last_status: number | null; last_error: string | null; received_at: number; next_at: number;
}

const deliveryRow = (r: Row): DeliveryRow => ({
  key: r.key, route: r.route, tenant: r.tenant, state: r.state, attempts: r.attempts, replays: r.replays,
  lastStatus: r.last_status, lastError: r.last_error, receivedAt: r.received_at, nextAt: r.next_at,
});

const PAUSED = (route: string, tenant: string) => `EXISTS (SELECT 1 FROM hookgate_spool_pause AS p WHERE p.route = ${route} AND p.tenant IN (${tenant}, '*'))`;

export class SqliteSpoolStore implements SpoolStore {
  readonly backend = 'embedded' as const;
  private readonly s;
  private closed = false;

  constructor(private readonly db: Database.Database, private readonly now: () => number = Date.now) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      done: p(`UPDATE hookgate_ledger SET status = 'done', resp_status = ?, lease_until = ?, updated_at = ?, expires_at = ?
        WHERE key_hash = ? AND owner = ? AND status = 'processing'`),
      paused: p(`SELECT ${PAUSED('?', '?')} AS paused`),
      spool: p(`INSERT INTO hookgate_spool (key_hash, key, route, tenant, state, owner, next_at, attempts, replays, received_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT (key_hash) DO NOTHING`),
      bytes: p(`INSERT INTO hookgate_spool_body (key_hash, method, path, headers, body) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (key_hash) DO UPDATE SET method = excluded.method, path = excluded.path, headers = excluded.headers, body = excluded.body`),
      due: p(`SELECT key_hash, tenant FROM (
          SELECT s.key_hash, s.tenant, s.next_at, row_number() OVER (PARTITION BY s.tenant ORDER BY s.next_at) AS rn
            FROM hookgate_spool AS s
           WHERE s.route = ? AND s.state IN ('pending', 'delivering') AND s.next_at <= ? AND NOT ${PAUSED('s.route', 's.tenant')}
        ) WHERE rn <= ? ORDER BY next_at LIMIT ?`),
      claimOne: p(`UPDATE hookgate_spool AS s SET state = 'delivering', owner = ?, next_at = ?, updated_at = ?,
          attempts = CASE WHEN s.state = 'delivering' THEN s.attempts + 1 ELSE s.attempts END
        WHERE s.key_hash = ? AND s.state IN ('pending', 'delivering') AND s.next_at <= ? AND NOT ${PAUSED('s.route', 's.tenant')}
        RETURNING key_hash, key, route, tenant, attempts, replays, received_at`),
      body: p(`SELECT method, path, headers, body FROM hookgate_spool_body WHERE key_hash = ?`),
      settle: p(`UPDATE hookgate_spool SET state = ?, attempts = attempts + ?, next_at = ?, last_status = ?, last_error = ?, expires_at = ?, updated_at = ?
        WHERE key_hash = ? AND owner = ? AND state = 'delivering'`),
      counts: p(`SELECT route, tenant, count(*) AS n FROM hookgate_spool WHERE state IN ('pending', 'delivering') GROUP BY route, tenant`),
      get: p(`SELECT key, route, tenant, state, attempts, replays, last_status, last_error, received_at, next_at FROM hookgate_spool WHERE key_hash = ?`),
      list: p(`SELECT key, route, tenant, state, attempts, replays, last_status, last_error, received_at, next_at FROM hookgate_spool
        WHERE (@route IS NULL OR route = @route) AND (@tenant IS NULL OR tenant = @tenant) AND (@state IS NULL OR state = @state) ORDER BY received_at DESC LIMIT @limit`),
    };
  }

  /** Runs a store operation; SQLite's errors become ledger_unavailable (503 at the accept). */
  private op<T>(what: string, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(unavailable(`spool ${what}`, new Error('the spool is closed')));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(unavailable(`spool ${what}`, err));
    }
  }

  accept(a: AcceptInput): Promise<AcceptResult> {
    return this.op('accept', () => this.db.transaction((): AcceptResult => {
      const now = this.now();
      const hash = keyHash(a.key);
      if (this.s.done.run(a.acceptStatus, now, now, now + a.retentionMs, hash, a.ledgerToken).changes !== 1) return { state: 'lost' };
      const deliver = a.dispatchOwner !== null && !(this.s.paused.get(a.route, a.tenant) as { paused: number }).paused;
      const inserted = this.s.spool.run(hash, a.key, a.route, a.tenant, deliver ? 'delivering' : 'pending', a.dispatchOwner, deliver ? now + a.leaseMs : now, now, now).changes === 1;
      if (!inserted) return { state: 'duplicate' };
      this.s.bytes.run(hash, a.method, a.path, encodeHeaders(a.headers), a.body);
      return { state: 'spooled', delivering: deliver, receivedAt: now };
    }).immediate());
  }

  due(route: string, perTenant: number, limit: number): Promise<Array<{ keyHash: Buffer; tenant: string }>> {
    return this.op('due', () => (this.s.due.all(route, this.now(), perTenant, limit) as Array<{ key_hash: Buffer; tenant: string }>).map((r) => ({ keyHash: r.key_hash, tenant: r.tenant })));
  }

  claim(keyHashes: Buffer[], owner: string, leaseMs: number): Promise<Claimed[]> {
    return this.op('claim', () => this.db.transaction((): Claimed[] => {
      const now = this.now();
      const out: Claimed[] = [];
      for (const hash of keyHashes) {
        const r = this.s.claimOne.get(owner, now + leaseMs, now, hash, now) as { key_hash: Buffer; key: string; route: string; tenant: string; attempts: number; replays: number; received_at: number } | undefined;
        if (!r) continue;
        const b = this.s.body.get(hash) as { method: string; path: string; headers: Buffer; body: Buffer } | undefined;
        if (!b) continue;
        out.push({ keyHash: r.key_hash, key: r.key, route: r.route, tenant: r.tenant, owner, attempts: r.attempts, replays: r.replays, receivedAt: r.received_at, method: b.method, path: b.path, headers: decodeHeaders(b.headers), body: b.body });
      }
      return out;
    }).immediate());
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
    });
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

  list(f: { route?: string; tenant?: string; state?: SpoolState; limit?: number }): Promise<DeliveryRow[]> {
    return this.op('list', () => (this.s.list.all({ route: f.route ?? null, tenant: f.tenant ?? null, state: f.state ?? null, limit: f.limit ?? 100 }) as Row[]).map(deliveryRow));
  }

  ping(): Promise<void> {
    return this.op('ping', () => void this.db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Opens the spool on the embedded ledger's file (already migrated by the ledger), synchronous=FULL. */
export function openSqliteSpool(url: string, busyTimeoutMs = 2000, now?: () => number): SqliteSpoolStore {
  return new SqliteSpoolStore(openSqlite(url, busyTimeoutMs, 'full'), now);
}
