// How deep a JSON text nests, in one linear pass over the bytes and without parsing it, so a payload
// rule can refuse a deeply nested body before anything builds (or recurses over) its tree.
// NOTE: branch h-ops adds src/providers/json-bounds.ts, a one-pass scanner for the same purpose
// (parse-before-verify); after both are merged this should become one function.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * true when no object or array of `body` nests deeper than `max` levels (`{}` is 1, `{"a":[]}` is 2).
 * Brackets inside strings do not count. A malformed text is judged by its brackets alone: the parse
 * that follows refuses what is not JSON.
 */
export function jsonDepthWithin(body: Buffer, max: number): boolean {
  let depth = 0;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const c = body[i]!;
    if (c === QUOTE) {
      // Skip the string with the native search for its closing quote: one not preceded by an odd run
      // of backslashes. Each run is walked back once, so the pass stays linear.
      for (;;) {
        const q = body.indexOf(QUOTE, i + 1);
        if (q < 0) return true; // unterminated: no bracket after it counts
        let b = q - 1;
        while (body[b] === BACKSLASH) b--;
        i = q;
        if (((q - 1 - b) & 1) === 0) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return true;
}
