// Bounds checked on bytes nobody has vouched for yet, before a parser builds anything from them.
// JSON.parse costs far more than reading the bytes when they nest deeply, more than the HMAC that
// would refuse them (docs/benchmarks.md, "Parsing an unsigned body"), so an unsigned body is scanned
// first. Pure and allocation-free: one pass over the bytes, usable on any JSON, valid or not. A byte loop, not indexOf per string: most strings in JSON are short, and a call per
// string costs more than the bytes it skips.

export type JsonShapeProblem = 'depth' | 'items';

/**
 * Whether the text stays within the bounds: arrays and objects nested at most `maxDepth` deep (`{}`
 * is depth 1), and at most `maxItems` commas outside strings (about the number of members and
 * elements, which is what JSON.parse's cost follows). Brackets and commas inside strings do not count;
 * escapes inside strings are honoured. It does not validate the JSON. Stops at the first byte over a
 * bound, so refusing a hostile body costs little more than the bytes read up to there.
 */
export function jsonShapeProblem(buf: Uint8Array, maxDepth: number, maxItems = Infinity): JsonShapeProblem | null {
  let depth = 0;
  let items = 0;
  const n = buf.length;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === 0x22 /* " */) {
      // Skip the string. Bytes of multi-byte UTF-8 sequences are all >= 0x80, so no quote or
      // backslash hides inside one.
      for (i++; i < n; i++) {
        const s = buf[i]!;
        if (s === 0x5c /* \ */) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return 'depth';
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && ++items > maxItems) {
      return 'items';
    }
  }
  return null;
}

/** Whether the arrays and objects of `buf` nest at most `maxDepth` deep (`{}` is depth 1); see jsonShapeProblem. */
export function jsonWithinDepth(buf: Uint8Array, maxDepth: number): boolean {
  return jsonShapeProblem(buf, maxDepth) !== 'depth';
}

/**
 * Whether an application/x-www-form-urlencoded body holds more than `limit` `name=value` pairs,
 * counting up to `limit + 1` only. Empty pairs (`a&&b`) count too: the parser visits them.
 */
export function formPairsOver(buf: Uint8Array, limit: number): boolean {
  if (buf.length === 0) return false;
  let pairs = 1;
  for (let i = buf.indexOf(0x26 /* & */); i >= 0; i = buf.indexOf(0x26, i + 1)) if (++pairs > limit) return true;
  return false;
}
