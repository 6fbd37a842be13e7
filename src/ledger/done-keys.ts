// The hot cache's table: settled keys by a 128-bit fingerprint (the first 16 bytes of their SHA-256),
// each with the upstream's first status and an expiry, kept in order of use and bounded. Typed
// arrays, not a Map of key strings: a fraction of the memory (docs/benchmarks.md) and nothing for the
// GC to trace. SHA-256 fingerprints cannot be made to collide, so a new delivery is never taken for a
// settled one.
// The arrays are made once, for `max` entries: they are zero pages the kernel maps only when written,
// so an idle gateway carries none of them and entries (kept dense) cost memory as they arrive. Grown
// by doubling instead, each growth freed the arrays before, which raised glibc's mmap threshold and
// left the main heap fragmented (docs/benchmarks.md, Memory).
import { performance } from 'node:perf_hooks';
import { sha256Binary } from './common.js';

/** "no entry" in the order-of-use links */
const NIL = 0xffffffff;

/** the little-endian word at byte o of a Latin-1 digest */
function word(d: string, o: number): number {
  return (d.charCodeAt(o) | (d.charCodeAt(o + 1) << 8) | (d.charCodeAt(o + 2) << 16) | (d.charCodeAt(o + 3) << 24)) >>> 0;
}

export class DoneKeys {
  /** entries the arrays hold */
  readonly capacity: number;
  size = 0;
  private readonly fp: Uint32Array; // 4 words an entry
  private readonly status: Uint16Array;
  private readonly expires: Float64Array; // this.now() ms
  private readonly prev: Uint32Array;
  private readonly next: Uint32Array;
  /** open addressing, linear probing: entry + 1, 0 = empty; at least twice the capacity */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private head = NIL; // most recently used
  private tail = NIL; // least recently used
  /** the fingerprint of the key being looked up (no allocation a lookup) */
  private readonly q = new Uint32Array(4);
  /** whose fingerprint `q` holds: the claim stage asks get(key) and the ledger's claim asks again */
  private qKey: string | undefined;

  constructor(
    readonly max: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    const capacity = Math.max(1, max);
    this.capacity = capacity;
    this.fp = new Uint32Array(capacity * 4);
    this.status = new Uint16Array(capacity);
    this.expires = new Float64Array(capacity);
    this.prev = new Uint32Array(capacity);
    this.next = new Uint32Array(capacity);
    let slots = 1;
    while (slots < capacity * 2) slots *= 2;
    this.slots = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** the first free slot on the probe path of entry e's fingerprint */
  private home(e: number): number {
    let i = this.fp[e * 4]! & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    return i;
  }

  private fingerprint(key: string): Uint32Array {
    const q = this.q;
    if (key === this.qKey) return q;
    // read with charCodeAt: a Buffer costs more to make than the hash
    const d = sha256Binary(key);
    this.qKey = key;
    q[0] = word(d, 0);
    q[1] = word(d, 4);
    q[2] = word(d, 8);
    q[3] = word(d, 12);
    return q;
  }

  /** the slot holding the fingerprint in `q`, or -1 */
  private find(q: Uint32Array): number {
    const fp = this.fp;
    for (let i = q[0]! & this.mask; ; i = (i + 1) & this.mask) {
      const s = this.slots[i]!;
      if (s === 0) return -1;
      const o = (s - 1) * 4;
      if (fp[o] === q[0] && fp[o + 1] === q[1] && fp[o + 2] === q[2] && fp[o + 3] === q[3]) return i;
    }
  }

  /** The status of a live key, which becomes the most recently used; undefined when absent or expired. */
  get(key: string): number | undefined {
    if (this.size === 0) return undefined;
    const i = this.find(this.fingerprint(key));
    if (i < 0) return undefined;
    const e = this.slots[i]! - 1;
    if (this.expires[e]! <= this.now()) {
      this.remove(i);
      return undefined;
    }
    this.toFront(e);
    return this.status[e];
  }

  /** ms a live key has left, 0 when absent or expired (for tests and diagnostics; no change of order) */
  remainingMs(key: string): number {
    const i = this.size === 0 ? -1 : this.find(this.fingerprint(key));
    return i < 0 ? 0 : Math.max(0, this.expires[this.slots[i]! - 1]! - this.now());
  }

  /** Holds key → status for ttl ms as the most recently used, evicting the least recently used when full. */
  set(key: string, status: number, ttl: number): void {
    const q = this.fingerprint(key);
    const i = this.find(q);
    let e: number;
    if (i >= 0) {
      e = this.slots[i]! - 1;
    } else {
      if (this.size === this.capacity) this.remove(this.find(this.fpOf(this.tail)));
      e = this.size++;
      this.fp.set(q, e * 4);
      this.slots[this.home(e)] = e + 1;
      this.link(e);
    }
    this.status[e] = status;
    this.expires[e] = this.now() + ttl;
    this.toFront(e);
  }

  clear(): void {
    this.size = 0;
    this.head = this.tail = NIL;
    this.slots.fill(0);
  }

  private fpOf(e: number): Uint32Array {
    return this.fp.subarray(e * 4, e * 4 + 4);
  }

  /** puts a new entry at the front of the order of use */
  private link(e: number): void {
    this.prev[e] = NIL;
    this.next[e] = this.head;
    if (this.head !== NIL) this.prev[this.head] = e;
    this.head = e;
    if (this.tail === NIL) this.tail = e;
  }

  private unlink(e: number): void {
    const p = this.prev[e]!;
    const n = this.next[e]!;
    if (p === NIL) this.head = n; else this.next[p] = n;
    if (n === NIL) this.tail = p; else this.prev[n] = p;
  }

  private toFront(e: number): void {
    if (this.head === e) return;
    this.unlink(e);
    this.link(e);
  }

  /** Removes the entry in slot i; the last entry moves into its place so that entries stay dense. */
  private remove(i: number): void {
    const e = this.slots[i]! - 1;
    this.unslot(i);
    this.unlink(e);
    const last = --this.size;
    if (e === last) return;
    // Move the last entry to e: its slot, its neighbours' links, and its data.
    const j = this.find(this.fpOf(last));
    this.slots[j] = e + 1;
    this.fp.copyWithin(e * 4, last * 4, last * 4 + 4);
    this.status[e] = this.status[last]!;
    this.expires[e] = this.expires[last]!;
    const p = this.prev[last]!;
    const n = this.next[last]!;
    this.prev[e] = p;
    this.next[e] = n;
    if (p === NIL) this.head = e; else this.next[p] = e;
    if (n === NIL) this.tail = e; else this.prev[n] = e;
  }

  /** Empties slot i and shifts back the entries after it on their probe paths (no tombstones). */
  private unslot(i: number): void {
    const { slots, fp, mask } = this;
    for (let j = (i + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const home = fp[(slots[j]! - 1) * 4]! & mask;
      // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        slots[i] = slots[j]!;
        i = j;
      }
    }
    slots[i] = 0;
  }
}
