// Keys by fingerprint, for the tables that hold keys in typed arrays (the hot cache, the in-memory
// ledger): a key's fingerprint is the first 16 bytes of its SHA-256, four words an entry in a
// Uint32Array, found through an open-addressing index (linear probing; a slot holds entry + 1, 0 is
// empty). SHA-256 fingerprints cannot be made to collide, so one key is never taken for another.
import { sha256Binary } from './common.js';

/** the little-endian word at byte o of a Latin-1 digest */
function word(d: string, o: number): number {
  return (d.charCodeAt(o) | (d.charCodeAt(o + 1) << 8) | (d.charCodeAt(o + 2) << 16) | (d.charCodeAt(o + 3) << 24)) >>> 0;
}

/** The fingerprint of the last key asked for, kept: a request asks about its key several times in a row. */
export class Fingerprint {
  readonly q = new Uint32Array(4);
  private key: string | undefined;

  of(key: string): Uint32Array {
    const q = this.q;
    if (key === this.key) return q;
    // read with charCodeAt: a Buffer costs more to make than the hash
    const d = sha256Binary(key);
    this.key = key;
    q[0] = word(d, 0);
    q[1] = word(d, 4);
    q[2] = word(d, 8);
    q[3] = word(d, 12);
    return q;
  }
}

/** An index of at least twice `entries` slots (a power of two, so that probing wraps with a mask). */
export function slotsFor(entries: number): Int32Array {
  let n = 1;
  while (n < entries * 2) n *= 2;
  return new Int32Array(n);
}

/** The slot holding the fingerprint fp[o..o+3] (an entry's, or a query's at o = 0), or -1. */
export function findSlot(slots: Int32Array, entries: Uint32Array, fp: Uint32Array, o: number): number {
  const mask = slots.length - 1;
  const a = fp[o]!, b = fp[o + 1]!, c = fp[o + 2]!, d = fp[o + 3]!;
  for (let i = a & mask; ; i = (i + 1) & mask) {
    const s = slots[i]!;
    if (s === 0) return -1;
    const x = (s - 1) * 4;
    if (entries[x] === a && entries[x + 1] === b && entries[x + 2] === c && entries[x + 3] === d) return i;
  }
}

/** Puts entry e (its fingerprint already in `entries`) into the first free slot of its probe path. */
export function addSlot(slots: Int32Array, entries: Uint32Array, e: number): void {
  const mask = slots.length - 1;
  let i = entries[e * 4]! & mask;
  while (slots[i] !== 0) i = (i + 1) & mask;
  slots[i] = e + 1;
}

/** Empties slot i and shifts back the entries after it on their probe paths (no tombstones). */
export function removeSlot(slots: Int32Array, entries: Uint32Array, i: number): void {
  const mask = slots.length - 1;
  for (let j = (i + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
    const home = entries[(slots[j]! - 1) * 4]! & mask;
    // The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
    const stays = i <= j ? home > i && home <= j : home > i || home <= j;
    if (!stays) {
      slots[i] = slots[j]!;
      i = j;
    }
  }
  slots[i] = 0;
}
