// The spool on PostgreSQL and CockroachDB, through the ledger's driver (its own pool: SERIALIZABLE on
// CockroachDB, READ COMMITTED on PostgreSQL, see index.ts; the retry loop of retry.ts, owner-token
// read-backs after an ambiguous error). Both engines run the same
// statements: no correctness rests on SKIP LOCKED (CockroachDB's is best-effort, shared/spool.md §b.1);
// a claim re-checks each row's state and due time in its UPDATE, and SERIALIZABLE (or READ COMMITTED's
// re-evaluation of a concurrently updated row) leaves exactly one winner. The engines differ only in
// DDL (migrations.ts: hash-sharded indexes on CockroachDB).
import { keyHash } from '../../ledger/common.js';
import { DEFAULT_RETRY, withRetry, type Resolution, type RetryPolicy } from '../../ledger/retry.js';
import type { SqlDriver } from '../../ledger/sql.js';
import { DEFAULT_REPLAY_PACE, idHash, type ReplayPace, type AcceptInput, type AcceptResult, type Claimed, type DeliveryRow, type Settle, type SpoolFilter, type SpoolStats, type SpoolState, type SpoolStore, type StoredRequest } from './types.js';
import { decodeHeaders, decodeStoredMeta, encodeHeaders, encodeMeta } from './headers.js';
import { pageOf } from '../cursor.js';
import { spoolStatements } from './sql-statements.js';

const interval = (ms: number) => `${Math.max(0, Math.round(ms))} milliseconds`;

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
      // accepts that claim their keys (spool routes) and accepts of claims made before (hybrid): a statement each
      const claiming = round.filter((q) => q.a.claim);
      const claimed = round.filter((q) => !q.a.claim);
      if (claimed.length === 1) {
        const q = claimed[0]!;
        await this.acceptOne(q.a).then(q.resolve, q.reject);
      } else if (claimed.length) await this.settleAll(claimed, (items) => this.acceptMany(items));
      if (claiming.length) await this.settleAll(claiming, (items) => this.acceptMany(items, true));
    }
  }

  private async settleAll(round: typeof this.acceptQueue, run: (items: AcceptInput[]) => Promise<AcceptResult[]>): Promise<void> {
    try {
      const results = await run(round.map((q) => q.a));
      round.forEach((q, i) => q.resolve(results[i]!));
    } catch (err) {
      for (const q of round) q.reject(err);
    }
  }

  /**
   * Distinct keys, one statement; after an ambiguous error each is resolved through its ledger token
   * and only those still unsettled run again. `claiming`: the accepts claim their keys themselves.
   */
  private acceptMany(items: AcceptInput[], claiming = false): Promise<AcceptResult[]> {
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
      type Row = { ord: string; done: boolean; state: string | null; received_ms: number | null; held?: string | null; resp_status?: number | null; wait_ms?: number; expires_ms?: number };
      const rows = (await this.driver.query(claiming ? this.sql.acceptClaimBatch : this.sql.acceptBatch, params)).rows as Row[];
      for (const r of rows) {
        const i = todo[Number(r.ord) - 1]!;
        out[i] = r.done ? (r.state === null ? { state: 'duplicate' } : { state: 'spooled', delivering: r.state === 'delivering', receivedAt: Math.round(Number(r.received_ms)) })
          : !claiming ? { state: 'lost' }
            : r.held === 'done' ? { state: 'done', status: Number(r.resp_status), expiresInMs: Math.round(Number(r.expires_ms)) }
              : r.held ? { state: 'in_flight', retryAfterMs: Math.max(1, Math.round(Number(r.wait_ms))) }
                // refused, and the row gone by the time the statement read it (expired meanwhile): another request's retry gets it
                : { state: 'in_flight', retryAfterMs: 1 };
      }
      return items.map((_, i) => out[i] ?? { state: 'lost' as const });
    }, async (): Promise<Resolution<AcceptResult[]>> => {
      const { rows } = await this.driver.query(this.sql.acceptLookupBatch, [pick((a) => keyHash(a.key)), pick((a) => a.ledgerToken), pick((a) => a.dispatchOwner)]);
      const byOrd = new Map((rows as Array<{ ord: string; status: string; mine: boolean; state: string | null; ours: boolean | null; received_ms: number | null }>).map((r) => [Number(r.ord), r]));
      const again: number[] = [];
      todo.forEach((i, pos) => {
        const r = byOrd.get(pos + 1);
        if (r?.mine && r.status === 'processing') again.push(i);
        else if (r?.mine && r.status === 'done' && r.state) out[i] = { state: 'spooled', delivering: r.state === 'delivering' && !!r.ours, receivedAt: Math.round(Number(r.received_ms)) };
        // an accept that claims: not ours, so it did not land; running it again answers as the key stands now
        else if (claiming) again.push(i);
        else out[i] = { state: 'lost' };
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

  async stats(live = false): Promise<SpoolStats> {
    const [counts, oldest, paused] = await Promise.all([
      this.run('stats', false, async () => (await this.driver.query(live ? this.sql.liveCounts : this.sql.stateCounts)).rows),
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
