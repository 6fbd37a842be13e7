// The few operations every scheme is made of. Kept pure and allocation-light: they run on every delivery.
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { Verdict, VerifyFailure } from './types.js';
import { formPairsOver, jsonShapeProblem } from './json-bounds.js';

export type Digest = 'sha1' | 'sha256' | 'sha512';

/** HMAC over the concatenation of parts, without building the concatenated buffer. */
export function hmac(algorithm: Digest, key: Buffer | string | KeyObject, ...parts: (Buffer | string)[]): Buffer {
  const h = createHmac(algorithm, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Constant-time equality; a length difference is not secret (every scheme's length is public). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const HEX = /^[0-9a-fA-F]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** Strict decoding: Node's decoders silently skip bad characters, which would let garbage compare. */
export function decodeHex(s: string): Buffer | null {
  return s.length % 2 === 0 && HEX.test(s) ? Buffer.from(s, 'hex') : null;
}
export function decodeBase64(s: string): Buffer | null {
  if (B64.test(s) && s.length % 4 === 0) return Buffer.from(s, 'base64');
  if (B64URL.test(s)) return Buffer.from(s, 'base64url');
  return null;
}
export function decode(s: string, encoding: 'hex' | 'base64'): Buffer | null {
  return encoding === 'hex' ? decodeHex(s) : decodeBase64(s);
}

/** Index of the first key whose expected MAC equals one of the candidates, else -1. Tries every key and candidate. */
export function matchAny<K>(keys: readonly K[], candidates: readonly Buffer[], expected: (key: K) => Buffer): number {
  let found = -1;
  for (let i = 0; i < keys.length; i++) {
    const want = expected(keys[i]!);
    for (const c of candidates) if (safeEqual(want, c) && found < 0) found = i;
  }
  return found;
}

export type HeaderResult = { ok: true; value: string } | { ok: false; code: VerifyFailure; message: string };

/**
 * One header's single value. Missing or empty: signature_missing (or malformed when `missingIs` says so);
 * sent twice: malformed, since an attacker could pair a valid value with one of their own.
 */
export function single(headers: IncomingHttpHeaders, name: string, missingIs: VerifyFailure = 'signature_missing'): HeaderResult {
  const v = headers[name];
  if (v === undefined || v === '') return { ok: false, code: missingIs, message: `header ${name} is missing` };
  if (Array.isArray(v)) {
    if (v.length !== 1) return { ok: false, code: 'malformed', message: `header ${name} was sent more than once` };
    return { ok: true, value: v[0]! };
  }
  return { ok: true, value: v };
}

export function fail(code: VerifyFailure, message: string): Verdict {
  return { ok: false, code, message };
}

/** Parses a unix-seconds timestamp (digits only). */
export function parseUnixSeconds(s: string): number | null {
  return /^\d{1,12}$/.test(s) ? Number(s) * 1000 : null;
}

/** Both directions: an old delivery is a replay, one from the future is a forgery with a clock in hand. */
export function withinTolerance(timestampMs: number, nowMs: number, toleranceMs: number): boolean {
  return Math.abs(nowMs - timestampMs) <= toleranceMs;
}

export function outOfTolerance(): Verdict {
  return fail('timestamp_out_of_tolerance', 'the signed timestamp is outside the allowed window');
}

export function invalid(what = 'signature'): Verdict {
  return fail('signature_invalid', `the ${what} does not match any configured secret`);
}

/** Parses `a=1,b=2,b=3` style headers into ordered pairs (Stripe, Calendly, Paddle with `;`). */
export function pairs(value: string, sep: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of value.split(sep)) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out.push([part.slice(0, i).trim(), part.slice(i + 1).trim()]);
  }
  return out;
}

/** Reads a dotted path (`data.object.id`) from parsed JSON; only strings and finite numbers count as ids. */
export function jsonPath(obj: unknown, path: string): string | undefined {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (typeof cur === 'string' && cur !== '') return cur;
  if (typeof cur === 'number' && Number.isFinite(cur)) return String(cur);
  return undefined;
}

/** JSON.parse that answers undefined instead of throwing. Unbounded: for bytes a MAC has vouched for. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

// Bounds for bodies parsed before any MAC (Mailgun's signature lives in the body, Twilio signs form
// parameters, a per-tenant route reads its tenant before it knows the secret). Generous for what
// providers send (tens of fields, a handful of levels), tight enough that parsing stays linear and cheap.
export const UNVERIFIED_MAX_DEPTH = 64;
export const UNVERIFIED_MAX_PARAMS = 1000;

export type Bounded<T> = { ok: true; value: T } | { ok: false; message: string };

export const TOO_DEEP = `the body nests JSON deeper than ${UNVERIFIED_MAX_DEPTH} levels, which hookgate does not parse before the signature is checked`;
export const TOO_MANY_PARAMS = `the body has more than ${UNVERIFIED_MAX_PARAMS} form parameters, which hookgate does not parse before the signature is checked`;
const tooManyItems = (max: number) => `the body holds more than ${max} JSON members and elements, which hookgate does not parse before the signature is checked`;

/**
 * parseJson for bytes nobody has vouched for yet: refused when nested deeper than `maxDepth` or
 * holding more than `maxItems` members and elements (for schemes whose payloads are known to be
 * small); value undefined when not JSON.
 */
export function parseUnverifiedJson(body: Buffer, maxDepth = UNVERIFIED_MAX_DEPTH, maxItems = Infinity): Bounded<unknown> {
  const problem = jsonShapeProblem(body, maxDepth, maxItems);
  if (problem === 'depth') return { ok: false, message: TOO_DEEP };
  if (problem === 'items') return { ok: false, message: tooManyItems(maxItems) };
  return { ok: true, value: parseJson(body) };
}

/** Hex digit (a byte) → its value, -1 for any other byte. */
export const HEX_DIGIT = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGIT[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX_DIGIT[0x41 + i] = HEX_DIGIT[0x61 + i] = 10 + i;

export const FORM_NOT_UTF8 = 'the form body does not decode to UTF-8, so its signed fields could stand for other bytes';

/**
 * Whether a urlencoded body's fields decode to UTF-8, raw bytes and %XX escapes alike. A form parser
 * turns every byte that is not UTF-8 into U+FFFD, so `%80` and `%81` decode to the same field: a
 * signature over decoded fields (Mandrill's, Twilio's) would vouch for bodies it never saw, which an
 * application reading raw bytes (PHP's $_POST) tells apart. Providers send UTF-8. The escapes are
 * decoded over the whole body: `&` and `=` are ASCII, so no sequence that is valid here spans two fields.
 */
export function formDecodesToUtf8(body: Buffer): boolean {
  if (!body.includes(0x25)) return isUtf8(body);
  const out = Buffer.allocUnsafe(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    const hi = c === 0x25 && i + 2 < body.length ? HEX_DIGIT[body[i + 1]!]! : -1;
    const lo = hi >= 0 ? HEX_DIGIT[body[i + 2]!]! : -1;
    if (lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else out[n++] = c;
  }
  return isUtf8(out.subarray(0, n));
}

/** An application/x-www-form-urlencoded body, refused when it holds more than `maxParams` parameters. */
export function parseForm(body: Buffer, maxParams = UNVERIFIED_MAX_PARAMS): Bounded<URLSearchParams> {
  if (formPairsOver(body, maxParams)) return { ok: false, message: TOO_MANY_PARAMS };
  return { ok: true, value: new URLSearchParams(body.toString('utf8')) };
}

// ---- shared by several schemes (stripe, github, standard, slack, … ) ----

/** A secret used verbatim as UTF-8 (most schemes), prepared once. Throws, without the secret, when empty. */
export function utf8Key(secret: string): KeyObject {
  if (secret === '') throw new Error('the secret is empty');
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/** SHA-256 of a token: compares tokens of any length in constant time without revealing the length. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The signature values of a header. One value: it must carry `prefix` and decode, else null (malformed).
 * With `separator` (multi-signature headers: PagerDuty's `v1=a,v1=b`): entries without `prefix` are other
 * schemes and are ignored (providers.md §2.6); an entry with it that does not decode makes the whole null.
 */
export function signatureValues(value: string, prefix: string, encoding: 'hex' | 'base64', separator?: string): Buffer[] | null {
  const entries = separator === undefined ? [value] : value.split(separator).map((e) => e.trim()).filter((e) => e.startsWith(prefix));
  const out: Buffer[] = [];
  for (const e of entries) {
    if (!e.startsWith(prefix)) return null;
    const b = decode(e.slice(prefix.length), encoding);
    if (b === null || b.length === 0) return null;
    out.push(b);
  }
  return out;
}

export interface Window {
  timestampMs: number;
  nowMs: number;
  toleranceMs: number;
}

/**
 * The verdict once the MACs were compared. Signature first, then the window: a forger gets
 * signature_invalid whatever timestamp it sent, so it learns nothing about our clock or window;
 * only a genuinely signed (captured) delivery can be told it is stale. `id` runs last, on signed bytes;
 * it answers null when the body is not the JSON the scheme needs (malformed).
 */
export function verdict(index: number, window?: Window | null, id?: () => string | undefined | null): Verdict {
  if (index < 0) return invalid();
  if (window && !withinTolerance(window.timestampMs, window.nowMs, window.toleranceMs)) return outOfTolerance();
  const v = id?.();
  if (v === null) return fail('malformed', 'the signed body is not the JSON this provider sends');
  const out: Verdict = { ok: true, secretIndex: index };
  if (v !== undefined) out.id = v;
  if (window) out.timestamp = window.timestampMs;
  return out;
}

/** The parsed body when it is a JSON object (or array), else undefined. */
export function jsonObject(body: Buffer): object | undefined {
  const v = parseJson(body);
  return v !== null && typeof v === 'object' ? v : undefined;
}

/** RFC 3339 with up to nanoseconds (Twitch); strict, so `Date.parse` leniency cannot widen what we accept. */
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;
export function parseRfc3339(s: string): number | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}${m[3]!.toUpperCase()}`);
  return Number.isFinite(ms) ? ms : null;
}

/** `2023-11-14T22:13:20.000000000Z` from unix seconds (the nanosecond form Twitch sends). */
export function rfc3339Nano(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, -1) + '000000Z';
}
