// The spool's statements behind one interface (CONTRACT.md, Spool; shared/spool.md §c.3-c.6): one
// implementation for PostgreSQL and CockroachDB (sql.ts), one for the embedded SQLite file (sqlite.ts).
// Every write after a claim is fenced by the claim's owner token, as in the ledger.

import type { StoredSpanContext } from '../../observability/tracing.js';

export type SpoolState = 'pending' | 'delivering' | 'delivered' | 'dead' | 'cancelled';

/** What the accept stage stores: the request as the upstream will receive it, and its ledger claim. */
export interface AcceptInput {
  /** the delivery key (its sha256 is the row's key, the ledger's too) */
  key: string;
  /** the ledger claim's owner token: the accept marks that claim done, fenced by it */
  ledgerToken: string;
  /**
   * No claim was made: the accept claims the key itself, as done, in the same transaction (a `spool`
   * route; its token is `ledgerToken`). A key the ledger holds answers `done` or `in_flight`.
   */
  claim?: boolean;
  /** answered to the provider, and remembered by the ledger for duplicates */
  acceptStatus: number;
  /** how long the ledger remembers the key (ledger.retention) */
  retentionMs: number;
  route: string;
  tenant: string;
  /** set when this replica delivers it at once: the row is stored `delivering` under this owner (unless paused) */
  dispatchOwner: string | null;
  leaseMs: number;
  method: string;
  /** path + query on the upstream */
  path: string;
  /** raw header pairs [name, value, name, value, …] in order and case */
  headers: string[];
  body: Buffer;
  /** what re-signing needs (timestamped schemes): never a secret */
  meta: SigningMeta | null;
  /** the accepting request's delivery span (tracing on): its dispatches are linked to it; stored in the meta column */
  trace?: StoredSpanContext;
  /** hybrid: attempts already spent by the synchronous try (default 0) and when it is due (default now) */
  attempts?: number;
  delayMs?: number;
}

/** Which secret verified the delivery, its signed timestamp and id: enough to re-sign it later. */
export interface SigningMeta {
  secretIndex: number;
  /** ms */
  signedAt: number;
  id?: string;
}

export type AcceptResult =
  /** stored; `delivering` when this replica owns its first dispatch */
  | { state: 'spooled'; delivering: boolean; receivedAt: number }
  /** the key was already spooled (the ledger key is done with acceptStatus) */
  | { state: 'duplicate' }
  /** the ledger claim is no longer ours (its lease ran out and another request took it): nothing stored */
  | { state: 'lost' }
  /** `claim`: the key is settled in the ledger (a duplicate): its first status, and how long it is kept */
  | { state: 'done'; status: number; expiresInMs: number }
  /** `claim`: another request holds the key */
  | { state: 'in_flight'; retryAfterMs: number };

/** A claimed delivery, with its bytes. */
export interface Claimed {
  keyHash: Buffer;
  key: string;
  route: string;
  tenant: string;
  owner: string;
  /** the claim took over a lapsed lease (its replica died or stalled mid-dispatch) */
  takeover?: boolean;
  /** attempts spent before this dispatch (a takeover of a lapsed lease counts one) */
  attempts: number;
  replays: number;
  receivedAt: number;
  method: string;
  path: string;
  headers: string[];
  body: Buffer;
  meta: SigningMeta | null;
  /** the accepting request's delivery span, when it was traced */
  trace?: StoredSpanContext;
}

/** How a dispatch ends, as written back (fenced by the owner token). */
export type Settle =
  | { state: 'delivered'; status: number; keepMs: number }
  /** failed, attempts left: spend one, due again after `delayMs` */
  | { state: 'pending'; spend: boolean; delayMs: number; status: number | null; error: string | null }
  | { state: 'dead'; spend: boolean; status: number | null; error: string; keepMs: number };

export interface DeliveryRow {
  /** hex sha256 of the key: how the admin API and the CLI name a delivery */
  id: string;
  key: string;
  route: string;
  tenant: string;
  state: SpoolState;
  attempts: number;
  replays: number;
  lastStatus: number | null;
  lastError: string | null;
  receivedAt: number;
  nextAt: number;
}

export interface SpoolStore {
  readonly backend: 'embedded' | 'postgres' | 'cockroachdb';
  /** one statement: the ledger claim done with acceptStatus, the spool row and its bytes inserted */
  accept(input: AcceptInput): Promise<AcceptResult>;
  /** due deliveries of a route (pending and due, or delivering with a lapsed lease), not paused: up to `perTenant` a tenant, oldest first */
  due(route: string, perTenant: number, limit: number): Promise<Array<{ keyHash: Buffer; tenant: string }>>;
  /** claims those of `keyHashes` still due, under `owner` for `leaseMs`; one statement */
  claim(keyHashes: Buffer[], owner: string, leaseMs: number): Promise<Claimed[]>;
  /** those of `keyHashes` still delivering under `owner` (a claim or an accept whose answer was lost) */
  held(keyHashes: Buffer[], owner: string): Promise<Claimed[]>;
  /** writes a dispatch's end; false when the owner no longer holds it (taken over) */
  settle(keyHash: Buffer, owner: string, how: Settle): Promise<boolean>;
  /** pending + delivering rows, per route and tenant (for maxPending, tenantMaxPending) */
  pendingCounts(): Promise<Array<{ route: string; tenant: string; n: number }>>;
  /** one delivery, by its key */
  get(key: string): Promise<DeliveryRow | undefined>;
  /** one delivery by id, with its request when `withBytes` */
  byId(id: string, withBytes: boolean): Promise<(DeliveryRow & { request?: StoredRequest }) | undefined>;
  /** deliveries (newest first), for the CLI, the admin API and tests */
  list(filter: SpoolFilter): Promise<DeliveryRow[]>;
  /** one page of them (newest first, `limit` rows, after `filter.after`) and the cursor of the next page (null: the last) */
  page(filter: SpoolFilter): Promise<{ deliveries: DeliveryRow[]; next: string | null }>;
  /** deliver again now (any state but delivering): pending, attempts 0, one more replay; false when absent or delivering */
  replay(id: string): Promise<boolean>;
  /**
   * the same for every delivery the filter matches (never delivering ones); the count (`dryRun`: only
   * counted). Paced: oldest first, `pace.max` of them due a `pace.windowMs`, by their next_at (durable).
   */
  replayMany(filter: SpoolFilter, dryRun: boolean, pace?: ReplayPace): Promise<number>;
  /** a pending or dead delivery becomes cancelled (kept `keepMs`); false otherwise */
  cancel(id: string, keepMs: number): Promise<boolean>;
  /** stops (resumes) dispatch of a route, or of one tenant of it; accepting goes on. Survives restarts. */
  pause(route: string, tenant: string): Promise<void>;
  resume(route: string, tenant: string): Promise<boolean>;
  /**
   * Counts by state, the oldest live delivery's age per route, the pauses. `live`: pending and
   * delivering only, read from the ready index; without it the terminal rows kept for replay are
   * counted too, a read of the whole table.
   */
  stats(live?: boolean): Promise<SpoolStats>;
  /** deletes terminal rows whose keep time ran out, and their bytes; live rows are never touched */
  sweep(limit: number): Promise<number>;
  /** pending deliveries of a route older than `maxAgeMs` become dead (kept `keepMs`): also those of a paused or unreachable route, which no claim sees */
  expire(route: string, maxAgeMs: number, keepMs: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface SpoolFilter {
  route?: string;
  tenant?: string;
  state?: SpoolState;
  /** received at or after (ms) */
  since?: number;
  /** received before (ms) */
  until?: number;
  limit?: number;
  /** only rows before this position (newest first): the decoded cursor of the previous page */
  after?: ListPosition;
}

/** Where a listing stopped: received_at at the store's precision (decimal digits) and the key hash. */
export interface ListPosition {
  at: string;
  hash: Buffer;
}

/** How fast a bulk replay makes its deliveries due. */
export interface ReplayPace {
  max: number;
  windowMs: number;
}

/** A bulk replay's default pace: a hundred deliveries a second (fresh ones still go first). */
export const DEFAULT_REPLAY_PACE: ReplayPace = { max: 100, windowMs: 1000 };

export interface StoredRequest {
  method: string;
  path: string;
  headers: string[];
  body: Buffer;
}

export interface SpoolStats {
  counts: Array<{ route: string; tenant: string; state: SpoolState; n: number }>;
  /** per route: age of its oldest pending or delivering delivery (ms) */
  oldestPendingMs: Array<{ route: string; ms: number }>;
  paused: Array<{ route: string; tenant: string }>;
}

/** An id from the API or the command line, as a key hash; undefined when it is not one. */
export function idHash(id: string): Buffer | undefined {
  return /^[0-9a-f]{64}$/.test(id) ? Buffer.from(id, 'hex') : undefined;
}
