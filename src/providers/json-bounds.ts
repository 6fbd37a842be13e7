// Bounds checked on bytes nobody has vouched for yet, before a parser builds anything from them.
// JSON.parse costs far more than reading the bytes when they nest deeply (1 MB of `[[[…` takes
// ~85 ms, against ~1 ms for the HMAC that would refuse it), so an unsigned body is scanned first.
// Pure and allocation-free: one pass over the bytes, usable on any JSON, valid or not.

/**
 * Whether the arrays and objects of `buf` nest at most `maxDepth` deep (`{}` is depth 1). Brackets
 * inside strings do not count; escapes inside strings are honoured. It does not validate the JSON:
 * a true answer only says JSON.parse will not have to build anything deeper. Stops at the first
 * bracket over the limit, so refusing a hostile body costs at most a few bytes of reading.
 */
export function jsonWithinDepth(buf: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  const n = buf.length;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === 0x22 /* " */) {
      // Skip the string to its closing quote, one not escaped by an odd run of backslashes. Bytes of
      // multi-byte UTF-8 sequences are all >= 0x80, so no quote or backslash hides inside one.
      for (;;) {
        i = buf.indexOf(0x22, i + 1);
        if (i < 0) return true; // unterminated: JSON.parse refuses it at once
        let b = i - 1;
        while (buf[b] === 0x5c /* \ */) b--;
        if ((i - 1 - b) % 2 === 0) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return true;
}

/**
 * How many `name=value` pairs an application/x-www-form-urlencoded body holds, counting up to
 * `limit + 1` only (so a huge body is not counted to the end). Empty pairs (`a&&b`) count too: the
 * parser visits them.
 */
export function formPairsOver(buf: Uint8Array, limit: number): boolean {
  if (buf.length === 0) return false;
  let pairs = 1;
  for (let i = buf.indexOf(0x26 /* & */); i >= 0; i = buf.indexOf(0x26, i + 1)) if (++pairs > limit) return true;
  return false;
}
