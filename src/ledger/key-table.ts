// The in-memory ledger's table (memory.ts): keys by fingerprint, each row's columns in typed arrays,
// an expiry queue in write order. The rules are the SQLite engine's; the oracle tests hold it to them.
import type { ClaimResult } from './types.js';
import { Fingerprint, addSlot, findSlot, removeSlot, slotsFor } from './fingerprints.js';

const FREE = 0;
const PROCESSING = 1;
const DONE = 2;
const FAILED = 3;
const STATUS = ['free', 'processing', 'done', 'failed'] as const;
type Status = 'processing' | 'done' | 'failed';

/** One key's row, as a test or a diagnostic sees it (the table holds none of these). */
export interface Row {
  status: Status;
  /** the claim's token while processing; '' once settled (no token can settle it again) */
  owner: string;
  attempt: number;
  leaseUntil: number;
  /** the upstream's first status once done; 0 otherwise */
  respStatus: number;
  expiresAt: number;
}

/** How many expired entries one write may remove on its way (amortized: a key is inserted once, removed once). */
const SWEEP_PER_WRITE = 4;
const INITIAL = 1024;

/** A frozen `done` answer per status: a duplicate answered from memory allocates nothing. */
const DONE_ANSWERS = new Map<number, ClaimResult>();
function doneAnswer(status: number): ClaimResult {
  let r = DONE_ANSWERS.get(status);
  if (r === undefined) DONE_ANSWERS.set(status, (r = Object.freeze({ state: 'done', status }) as ClaimResult));
  return r;
}

/**
 * The table: keys by fingerprint (fingerprints.ts), each entry's columns in typed arrays that double
 * as they fill. Not a Map of key strings and row objects: those lived for the whole retention, so
 * every delivery left two objects for the collector to promote and then trace at every mark
 * (docs/benchmarks.md); here a delivery leaves nothing on the JavaScript heap. Entries keep their
 * index for life (freed ones are reused), so the expiry queue can name them.
 *
 * The expiry queue holds (entry, expiry) for every write that set an expiry, in write order, which
 * with one retention is expiry order. The sweep removes from the head while the head is due; a
 * record whose entry has since moved its expiry (a complete, a takeover) or gone is skipped. O(removed)
 * amortized, never a scan of the table.
 */
export class KeyTable {
  size = 0;
  private capacity = INITIAL;
  /** entries ever handed out; those below it and not on the free stack are in use */
  private used = 0;
  private fp!: Uint32Array; // 4 words an entry
  private state!: Uint8Array;
  private attempt!: Uint32Array;
  private resp!: Uint16Array;
  private lease!: Float64Array; // ms
  private expires!: Float64Array; // ms
  /** the claim's token as a number, 0 once settled */
  private owner!: Float64Array;
  private freeStack!: Uint32Array;
  private freeCount = 0;
  private slots!: Int32Array;
  // the expiry queue: a ring of (entry, expiry)
  private qEntry!: Uint32Array;
  private qExpiry!: Float64Array;
  private qHead = 0;
  private qLength = 0;
  /** tokens are a count, unique for the table's life (several ledgers may share a table) */
  private issued = 0;
  private readonly fingerprint = new Fingerprint();

  constructor() {
    this.allocate(INITIAL);
    this.newQueue(INITIAL * 2);
  }

  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.fp = new Uint32Array(capacity * 4);
    this.state = new Uint8Array(capacity);
    this.attempt = new Uint32Array(capacity);
    this.resp = new Uint16Array(capacity);
    this.lease = new Float64Array(capacity);
    this.expires = new Float64Array(capacity);
    this.owner = new Float64Array(capacity);
    this.freeStack = new Uint32Array(capacity);
    this.slots = slotsFor(capacity);
  }

  /** The queue grows on its own: a key written more than twice (a release, a takeover) leaves more records than entries. */
  private newQueue(length: number): void {
    this.qEntry = new Uint32Array(length);
    this.qExpiry = new Float64Array(length);
  }

  /** the entry of `key`, expired or not, or -1 */
  private find(key: string): number {
    const i = this.size === 0 ? -1 : findSlot(this.slots, this.fp, this.fingerprint.of(key), 0);
    return i < 0 ? -1 : this.slots[i]! - 1;
  }

  /** The row of `key`, expired or not, or undefined. For tests and diagnostics: it allocates. */
  row(key: string): Row | undefined {
    const e = this.find(key);
    if (e < 0) return undefined;
    const owner = this.owner[e]!;
    return {
      status: STATUS[this.state[e]!] as Status,
      owner: owner === 0 ? '' : String(owner),
      attempt: this.attempt[e]!,
      leaseUntil: this.lease[e]!,
      respStatus: this.resp[e]!,
      expiresAt: this.expires[e]!,
    };
  }

  /** The live row of `key`, or undefined (absent or expired). */
  live(key: string, now: number): Row | undefined {
    const r = this.row(key);
    return r !== undefined && r.expiresAt > now ? r : undefined;
  }

  // Times are plain arguments (ms), not an object: nothing allocated per operation but its answer.
  claim(key: string, now: number, leaseMs: number, retentionMs: number): ClaimResult {
    let e = this.find(key);
    if (e < 0) {
      e = this.add(this.fingerprint.of(key));
      this.state[e] = PROCESSING;
      this.attempt[e] = 1;
      return this.take(e, now, leaseMs, retentionMs);
    }
    // SQLite's takeover rule: expired (claimed afresh, attempt 1), failed, or a lease that ran out.
    const state = this.state[e]!;
    const expired = this.expires[e]! <= now;
    if (expired || state === FAILED || (state === PROCESSING && this.lease[e]! <= now)) {
      this.state[e] = PROCESSING;
      this.attempt[e] = expired ? 1 : this.attempt[e]! + 1;
      return this.take(e, now, leaseMs, retentionMs);
    }
    if (state === DONE) return { state: 'done', status: this.resp[e]!, expiresInMs: this.expires[e]! - now };
    return { state: 'in_flight', retryAfterMs: Math.max(1, this.lease[e]! - now) };
  }

  /** entry e, processing, gets a new owner, lease and expiry */
  private take(e: number, now: number, leaseMs: number, retentionMs: number): ClaimResult {
    const token = ++this.issued;
    this.owner[e] = token;
    this.lease[e] = now + leaseMs;
    this.resp[e] = 0;
    this.expire(e, now + retentionMs);
    this.sweep(now, SWEEP_PER_WRITE);
    return { state: 'claimed', token: String(token), attempt: this.attempt[e]! };
  }

  /** What a claim of a done key answers, without a write: the frozen answer, or undefined. */
  done(key: string, now: number): ClaimResult | undefined {
    const e = this.find(key);
    return e >= 0 && this.state[e] === DONE && this.expires[e]! > now ? doneAnswer(this.resp[e]!) : undefined;
  }

  /** Fenced by the owner token: only the claim that holds the key settles it. */
  complete(key: string, token: string, status: number, now: number, retentionMs: number): boolean {
    const e = this.owned(key, token, now);
    if (e < 0) return false;
    this.state[e] = DONE;
    this.owner[e] = 0;
    this.resp[e] = status;
    this.lease[e] = now;
    this.expire(e, now + retentionMs);
    return true;
  }

  release(key: string, token: string, now: number): boolean {
    const e = this.owned(key, token, now);
    if (e < 0) return false;
    this.state[e] = FAILED;
    this.owner[e] = 0;
    this.lease[e] = now;
    return true;
  }

  /** the live, processing entry of `key` that `token` owns, or -1 */
  private owned(key: string, token: string, now: number): number {
    const e = this.find(key);
    if (e < 0 || this.expires[e]! <= now || this.state[e] !== PROCESSING) return -1;
    const owner = this.owner[e]!;
    // tokens are the decimal counts claim handed out: the number first (no string made), then the exact text
    return owner === Number(token) && token === String(owner) ? e : -1;
  }

  /** Sets entry e's expiry and queues it (the end of the queue: the latest expiry). */
  private expire(e: number, expiresAt: number): void {
    this.expires[e] = expiresAt;
    if (this.qLength === this.qEntry.length) this.growQueue();
    const at = (this.qHead + this.qLength++) % this.qEntry.length;
    this.qEntry[at] = e;
    this.qExpiry[at] = expiresAt;
  }

  /** Removes up to `max` expired entries from the head of the queue; returns how many. */
  sweep(now: number, max: number): number {
    let removed = 0;
    const n = this.qEntry.length;
    while (this.qLength > 0 && removed < max) {
      const x = this.qExpiry[this.qHead]!;
      if (x > now) break;
      const e = this.qEntry[this.qHead]!;
      this.qHead = (this.qHead + 1) % n;
      this.qLength--;
      // a record the entry has outgrown (a later write queued it again) or of an entry since removed
      if (this.state[e] === FREE || this.expires[e] !== x) continue;
      this.remove(e);
      removed++;
    }
    return removed;
  }

  clear(): void {
    this.size = this.used = this.freeCount = this.qHead = this.qLength = 0;
    this.allocate(INITIAL);
    this.newQueue(INITIAL * 2);
  }

  /** a new entry holding fingerprint q, indexed */
  private add(q: Uint32Array): number {
    let e: number;
    if (this.freeCount > 0) e = this.freeStack[--this.freeCount]!;
    else {
      if (this.used === this.capacity) this.grow();
      e = this.used++;
    }
    this.fp.set(q, e * 4);
    addSlot(this.slots, this.fp, e);
    this.size++;
    return e;
  }

  private remove(e: number): void {
    removeSlot(this.slots, this.fp, findSlot(this.slots, this.fp, this.fp, e * 4));
    this.state[e] = FREE;
    this.owner[e] = 0;
    this.freeStack[this.freeCount++] = e;
    this.size--;
  }

  /** twice the entries: the columns copied, the index rebuilt (every entry is in use when it grows) */
  private grow(): void {
    const { fp, state, attempt, resp, lease, expires, owner } = this;
    this.allocate(this.capacity * 2);
    this.fp.set(fp);
    this.state.set(state);
    this.attempt.set(attempt);
    this.resp.set(resp);
    this.lease.set(lease);
    this.expires.set(expires);
    this.owner.set(owner);
    for (let e = 0; e < this.used; e++) addSlot(this.slots, this.fp, e);
  }

  /** twice the ring, its records copied in order to the start */
  private growQueue(): void {
    const { qEntry, qExpiry, qHead, qLength } = this;
    this.newQueue(qEntry.length * 2);
    for (let k = 0; k < qLength; k++) {
      const from = (qHead + k) % qEntry.length;
      this.qEntry[k] = qEntry[from]!;
      this.qExpiry[k] = qExpiry[from]!;
    }
    this.qHead = 0;
  }
}
