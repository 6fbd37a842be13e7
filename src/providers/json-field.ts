// One field of a JSON body nobody has vouched for yet (a per-tenant route reads its tenant from the
// body to choose the secrets that are to judge it). JSON.parse builds the whole document first,
// many times the HMAC's cost on a large flat body (docs/benchmarks.md). This scanner walks the
// bytes once, validates them as JSON without building anything, descends only along the path's keys,
// and allocates nothing but the answer, so refusing a forged body costs about as much as reading it.
//
// It answers what jsonPath(JSON.parse(text), path) answers (a non-empty string, or a finite number as
// String(n), else undefined), with these refusals:
// - syntax: not one JSON text (JSON.parse would throw);
// - depth: arrays and objects nested deeper than `depthLimit` (64), refused at the first bracket over it;
// - duplicate: a key of the path appears twice in one object on the path. JSON.parse keeps the last
//   one; hookgate refuses rather than guess, so the tenant chosen from the bytes before the MAC can
//   never differ from the one later code reads from the parse (verify.ts compares them anyway).
//   Keys compare after decoding (`"shop\u005fdomain"` is `shop_domain`);
// - utf8: a path key compared against bytes that are not UTF-8, where the decoder's U+FFFD could
//   make them equal (only a path containing U+FFFD; elsewhere such a key simply differs).
//
// One loop over the bytes with its state in locals (nesting is a counter and a small array, not
// recursion), small helpers that take and return an index and that V8 inlines; no regex, no slice
// until the answer.

import { HEX_DIGIT as HEX, UNVERIFIED_MAX_DEPTH, TOO_DEEP } from './primitives.js';

export type JsonFieldProblemKind = 'syntax' | 'depth' | 'duplicate' | 'utf8';
export interface JsonFieldProblem {
  readonly problem: JsonFieldProblemKind;
  /** byte offset where the scanner stopped */
  readonly at: number;
  readonly message: string;
}

export function isJsonFieldProblem(v: string | undefined | JsonFieldProblem): v is JsonFieldProblem {
  return typeof v === 'object';
}

const QUOTE = 0x22;
const BSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACK = 0x5b;
const RBRACK = 0x5d;

/** The byte after a backslash → the code unit it stands for; 0 = not an escape (`u` handled apart). */
const ESCAPE = new Uint16Array(256);
ESCAPE[0x22] = 0x22;
ESCAPE[0x5c] = 0x5c;
ESCAPE[0x2f] = 0x2f;
ESCAPE[0x62] = 0x08;
ESCAPE[0x66] = 0x0c;
ESCAPE[0x6e] = 0x0a;
ESCAPE[0x72] = 0x0d;
ESCAPE[0x74] = 0x09;

const NONE = 0;
const STRING = 1;
const NUMBER = 2;
const OBJ = 1;
const ARR = 2;
const SYNTAX = -1;
const UTF8 = -2;

// Per nesting level: the container's kind, and whether the path's key was seen in it. Reused by every
// call up to the default depth (the scan is synchronous, so two calls never share them).
const KINDS = new Uint8Array(UNVERIFIED_MAX_DEPTH + 2);
const SEEN = new Uint8Array(UNVERIFIED_MAX_DEPTH + 2);

function ws(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = b[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else break;
  }
  return i;
}

/** The 4 hex digits of a \u escape at i, or -1. */
function hex4(b: Uint8Array, i: number, n: number): number {
  if (i + 4 > n) return -1;
  // any -1 digit sets the sign bit, so the result is < 0
  return (HEX[b[i]!]! << 12) | (HEX[b[i + 1]!]! << 8) | (HEX[b[i + 2]!]! << 4) | HEX[b[i + 3]!]!;
}

/** Skips a string whose opening quote is just before i: the index after its closing quote, or SYNTAX. */
function skipString(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = b[i++]!;
    if (c === QUOTE) return i;
    if (c === BSLASH) {
      if (i >= n) return SYNTAX;
      const e = b[i++]!;
      if (e === 0x75 /* u */) {
        if (hex4(b, i, n) < 0) return SYNTAX;
        i += 4;
      } else if (ESCAPE[e] === 0) return SYNTAX;
    } else if (c < 0x20) return SYNTAX; // JSON.parse refuses raw control characters
  }
  return SYNTAX;
}

/** Set by keyEquals: whether the key it read equals the segment. */
let keyMatched = false;

/**
 * Reads a key whose opening quote is just before i and compares it, decoded, with `seg`: the index
 * after its closing quote (keyMatched says whether they are equal), or SYNTAX / UTF8.
 */
function keyEquals(b: Uint8Array, i: number, n: number, seg: string): number {
  const len = seg.length;
  let j = 0;
  // equal so far; at the first difference the rest of the key only needs to be valid JSON: skipString
  while (i < n) {
    const c = b[i++]!;
    if (c === QUOTE) {
      keyMatched = j === len;
      return i;
    }
    if (c < 0x80 && c !== BSLASH) {
      if (c < 0x20) return SYNTAX;
      if (j < len && seg.charCodeAt(j) === c) {
        j++;
        continue;
      }
    } else if (c === BSLASH) {
      if (i >= n) return SYNTAX;
      const e = b[i++]!;
      let u: number;
      if (e === 0x75 /* u */) {
        u = hex4(b, i, n);
        if (u < 0) return SYNTAX;
        i += 4;
      } else {
        u = ESCAPE[e]!;
        if (u === 0) return SYNTAX;
      }
      // one code unit each, as JSON.parse decodes: a surrogate pair escaped as two \u compares as two units
      if (j < len && seg.charCodeAt(j) === u) {
        j++;
        continue;
      }
    } else {
      const l = utf8Length(b, i - 1, n);
      if (l === 0) {
        // JSON.parse sees U+FFFD here; only a path holding U+FFFD could be fooled by that
        if (j < len && seg.charCodeAt(j) === 0xfffd) return UTF8;
      } else {
        let cp = c & (0xff >> (l + 1));
        for (let k = 1; k < l; k++) cp = (cp << 6) | (b[i++]! & 0x3f);
        if (cp < 0x10000) {
          if (j < len && seg.charCodeAt(j) === cp) {
            j++;
            continue;
          }
        } else {
          const v = cp - 0x10000;
          if (j + 1 < len && seg.charCodeAt(j) === (0xd800 | (v >> 10)) && seg.charCodeAt(j + 1) === (0xdc00 | (v & 0x3ff))) {
            j += 2;
            continue;
          }
        }
      }
    }
    keyMatched = false;
    return skipString(b, i, n);
  }
  return SYNTAX;
}

const cont = (b: Uint8Array, i: number, n: number) => i < n && (b[i]! & 0xc0) === 0x80;

/**
 * The length of the well-formed UTF-8 sequence whose lead byte is at i, or 0 (its continuation bytes
 * are never ASCII, so skipping them never swallows anything JSON cares about).
 */
function utf8Length(b: Uint8Array, i: number, n: number): number {
  const c = b[i]!;
  if (c >= 0xc2 && c <= 0xdf) return cont(b, i + 1, n) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(b, i + 1, n) || !cont(b, i + 2, n)) return 0;
    const c1 = b[i + 1]!;
    return (c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) ? 0 : 3; // overlong; surrogates
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(b, i + 1, n) || !cont(b, i + 2, n) || !cont(b, i + 3, n)) return 0;
    const c1 = b[i + 1]!;
    return (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f) ? 0 : 4; // overlong; above U+10FFFF
  }
  return 0;
}

function digits(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = b[i]!;
    if (c >= 0x30 && c <= 0x39) i++;
    else break;
  }
  return i;
}

/** Skips a number at i by JSON's grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?: its end, or SYNTAX. */
function skipNumber(b: Uint8Array, i: number, n: number): number {
  if (b[i] === 0x2d /* - */) i++;
  if (i >= n) return SYNTAX;
  if (b[i] === 0x30) i++;
  else {
    const e = digits(b, i, n);
    if (e === i) return SYNTAX;
    i = e;
  }
  if (i < n && b[i] === 0x2e /* . */) {
    const e = digits(b, ++i, n);
    if (e === i) return SYNTAX;
    i = e;
  }
  if (i < n && (b[i] === 0x65 || b[i] === 0x45) /* e E */) {
    i++;
    if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    const e = digits(b, i, n);
    if (e === i) return SYNTAX;
    i = e;
  }
  return i;
}

/** true, false or null at i: its end, or SYNTAX. */
function literal(b: Uint8Array, i: number, n: number): number {
  const c = b[i]!;
  if (c === 0x74 /* t */) return i + 3 < n && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65 ? i + 4 : SYNTAX;
  if (c === 0x6e /* n */) return i + 3 < n && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c ? i + 4 : SYNTAX;
  if (c === 0x66 /* f */) return i + 4 < n && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65 ? i + 5 : SYNTAX;
  return SYNTAX;
}

/** The string at [s, e) of `buf` (inside its quotes, already validated), escapes decoded. */
function decodeString(buf: Buffer, s: number, e: number): string {
  let i = s;
  while (i < e && buf[i] !== BSLASH) i++;
  if (i === e) return buf.toString('utf8', s, e);
  // Runs between escapes are decoded on their own: every run ends at an ASCII byte, where a UTF-8
  // decoder restarts, so each reads as it does inside the whole text JSON.parse decodes.
  let out = '';
  let run = s;
  while (i < e) {
    if (buf[i] !== BSLASH) {
      i++;
      continue;
    }
    out += buf.toString('utf8', run, i);
    const esc = buf[i + 1]!;
    if (esc === 0x75) {
      out += String.fromCharCode((HEX[buf[i + 2]!]! << 12) | (HEX[buf[i + 3]!]! << 8) | (HEX[buf[i + 4]!]! << 4) | HEX[buf[i + 5]!]!);
      i += 6;
    } else {
      out += String.fromCharCode(ESCAPE[esc]!);
      i += 2;
    }
    run = i;
  }
  return out + buf.toString('utf8', run, e);
}

function describe(kind: JsonFieldProblemKind, path: string, at: number, key: string): string {
  switch (kind) {
    case 'syntax':
      return `the body is not JSON (at byte ${at})`;
    case 'depth':
      return TOO_DEEP;
    case 'duplicate':
      return `the body names ${JSON.stringify(key)} twice in one object on the path ${path}; hookgate does not guess which one is meant`;
    case 'utf8':
      return `a key on the path ${path} is not UTF-8`;
  }
}

/**
 * jsonPath(JSON.parse(buf), path) without parsing: the non-empty string or finite number (as a
 * string) at the dotted `path`, undefined when there is none, or the problem that refuses the body.
 * Never throws.
 */
export function jsonFieldUnverified(buf: Buffer, path: string, depthLimit = UNVERIFIED_MAX_DEPTH): string | undefined | JsonFieldProblem {
  const segs = path.split('.');
  const last = segs.length;
  const b = buf;
  const n = b.length;
  // nesting never exceeds the number of bytes, whatever the limit
  const levels = Math.min(depthLimit, n) + 2;
  const big = levels > KINDS.length;
  const kinds = big ? new Uint8Array(levels) : KINDS;
  const seen = big ? new Uint8Array(levels) : SEEN;
  let i = 0;
  let depth = 0;
  let live = 0; // the depth of the deepest open object on the path (0: none)
  let onKey = false; // the value about to be read follows the path's key in the object at depth `live`
  let needKey = false; // a member's key comes next
  let problem: JsonFieldProblemKind | null = null;
  let found = NONE;
  let vs = 0;
  let ve = 0;

  // One loop, one value (or member) a turn; containers are a depth counter and KINDS, not recursion.
  scan: for (;;) {
    if (needKey) {
      needKey = false;
      i = ws(b, i, n);
      if (i >= n || b[i] !== QUOTE) {
        problem = 'syntax';
        break;
      }
      const key = i;
      if (live === depth) {
        i = keyEquals(b, i + 1, n, segs[depth - 1]!);
        if (i < 0) {
          problem = i === UTF8 ? 'utf8' : 'syntax';
          i = key;
          break;
        }
        if (keyMatched) {
          if (seen[depth] === 1) {
            problem = 'duplicate';
            break;
          }
          seen[depth] = 1;
          onKey = true;
        }
      } else {
        i = skipString(b, i + 1, n);
        if (i < 0) {
          problem = 'syntax';
          i = key;
          break;
        }
      }
      i = ws(b, i, n);
      if (i >= n || b[i] !== COLON) {
        problem = 'syntax';
        break;
      }
      i++;
    }

    // a value
    i = ws(b, i, n);
    if (i >= n) {
      problem = 'syntax';
      break;
    }
    const c = b[i]!;
    if (c === LBRACE || c === LBRACK) {
      if (++depth > depthLimit) {
        problem = 'depth';
        break;
      }
      const isObj = c === LBRACE;
      kinds[depth] = isObj ? OBJ : ARR;
      // on the path: the root object, or an object under the path's key short of the last segment
      if (isObj && (depth === 1 || (onKey && depth <= last))) {
        live = depth;
        seen[depth] = 0;
      }
      onKey = false;
      i = ws(b, i + 1, n);
      if (i < n && b[i] === (isObj ? RBRACE : RBRACK)) {
        i++;
        if (live === depth) live--;
        depth--;
      } else {
        needKey = isObj;
        continue;
      }
    } else {
      const s = i;
      if (c === QUOTE) i = skipString(b, i + 1, n);
      else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = skipNumber(b, i, n);
      else i = literal(b, i, n);
      if (i < 0) {
        problem = 'syntax';
        i = s;
        break;
      }
      if (onKey && depth === last) {
        if (c === QUOTE) (found = STRING), (vs = s + 1), (ve = i - 1);
        else if (c !== 0x74 && c !== 0x66 && c !== 0x6e) (found = NUMBER), (vs = s), (ve = i);
      }
      onKey = false;
    }

    // after a value: a comma, or closing brackets
    for (;;) {
      if (depth === 0) break scan;
      i = ws(b, i, n);
      if (i >= n) {
        problem = 'syntax';
        break scan;
      }
      const d = b[i++]!;
      const kind = kinds[depth];
      if (d === COMMA) {
        needKey = kind === OBJ;
        continue scan;
      }
      if (d !== (kind === OBJ ? RBRACE : RBRACK)) {
        i--;
        problem = 'syntax';
        break scan;
      }
      if (live === depth) live--;
      depth--;
    }
  }
  if (problem === null && ws(b, i, n) !== n) {
    i = ws(b, i, n);
    problem = 'syntax';
  }
  if (problem !== null) return { problem, at: i, message: describe(problem, path, i, segs[Math.max(0, depth - 1)] ?? '') };
  if (found === STRING) return vs === ve ? undefined : decodeString(buf, vs, ve);
  if (found === NUMBER) {
    const v = Number(buf.toString('latin1', vs, ve));
    return Number.isFinite(v) ? String(v) : undefined;
  }
  return undefined;
}
