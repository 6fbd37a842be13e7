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
import { Fingerprint, addSlot, findSlot, removeSlot, slotsFor } from './fingerprints.js';

/** "no entry" in the order-of-use links */
const NIL = 0xffffffff;

export class DoneKeys {
  /** entries the arrays hold */
  readonly capacity: number;
  size = 0;
  private readonly fp: Uint32Array; // 4 words an entry
  private readonly status: Uint16Array;
  private readonly expires: Float64Array; // this.now() ms
  private readonly prev: Uint32Array;
  private readonly next: Uint32Array;
  /** the index of fingerprints (fingerprints.ts) */
  private readonly slots: Int32Array;
  private head = NIL; // most recently used
  private tail = NIL; // least recently used
  /** the claim stage asks get(key) and the ledger's claim asks again: the fingerprint is kept */
  private readonly fingerprint = new Fingerprint();

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
    this.slots = slotsFor(capacity);
  }

  /** The status of a live key, which becomes the most recently used; undefined when absent or expired. */
  get(key: string): number | undefined {
    if (this.size === 0) return undefined;
    const i = findSlot(this.slots, this.fp, this.fingerprint.of(key), 0);
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
    const i = this.size === 0 ? -1 : findSlot(this.slots, this.fp, this.fingerprint.of(key), 0);
    return i < 0 ? 0 : Math.max(0, this.expires[this.slots[i]! - 1]! - this.now());
  }

  /** Holds key → status for ttl ms as the most recently used, evicting the least recently used when full. */
  set(key: string, status: number, ttl: number): void {
    const q = this.fingerprint.of(key);
    const i = findSlot(this.slots, this.fp, q, 0);
    let e: number;
    if (i >= 0) {
      e = this.slots[i]! - 1;
    } else {
      if (this.size === this.capacity) this.remove(findSlot(this.slots, this.fp, this.fp, this.tail * 4));
      e = this.size++;
      this.fp.set(q, e * 4);
      addSlot(this.slots, this.fp, e);
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
    removeSlot(this.slots, this.fp, i);
    this.unlink(e);
    const last = --this.size;
    if (e === last) return;
    // Move the last entry to e: its slot, its neighbours' links, and its data.
    const j = findSlot(this.slots, this.fp, this.fp, last * 4);
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
}
