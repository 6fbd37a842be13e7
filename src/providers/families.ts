// Scheme builders for the shapes several providers share (providers.md §5: the ~20 schemes reduce to a
// handful of constructions). A provider file picks one and states the few facts that make it different.
import type { KeyObject } from 'node:crypto';
import {
  type Digest, decodeHex, fail, hmac, jsonObject, jsonPath, matchAny, pairs, parseUnixSeconds, signatureValues,
  single, utf8Key, verdict,
} from './primitives.js';
import { jsonFieldUnverified } from './json-field.js';
import type { Scheme, SignInput } from './types.js';

/** Reads a delivery id from the signed body: a string, undefined (no id: the key is the body digest), or null (malformed). */
export type IdFrom = (body: Buffer) => string | undefined | null;

// The scanner answers jsonPath(JSON.parse(body), path) without building the document (docs/benchmarks.md).
// Whatever it does not answer with an id (none there, a key given twice, too deep, not JSON) goes the
// parse's way, so every answer is the parse's.
const scanned = (body: Buffer, path: string): string | undefined => {
  const id = jsonFieldUnverified(body, path);
  return typeof id === 'string' ? id : undefined;
};

/** The id at a dotted path of a JSON body; a body that is not JSON is malformed (the scheme always sends JSON). */
export const jsonId = (path: string): IdFrom => (body) => {
  const id = scanned(body, path);
  if (id !== undefined) return id;
  const o = jsonObject(body);
  return o === undefined ? null : jsonPath(o, path);
};

/** The id at a dotted path when the body is JSON; other bodies (Slack's form posts) just have none. */
export const jsonIdIfJson = (path: string): IdFrom => (body) => {
  const id = scanned(body, path);
  if (id !== undefined) return id;
  const o = jsonObject(body);
  return o === undefined ? undefined : jsonPath(o, path);
};

const idHeaders = (name: string | undefined, input: SignInput): Record<string, string> =>
  name && input.id ? { [name]: input.id } : {};

// ---------------------------------------------------------------------------------------------------
/** HMAC of the raw body, in one header (GitHub, Shopify, Intercom, Typeform, Bitbucket, PagerDuty, Linear). */
export interface BodyHmac {
  name: string;
  /** lower-case header names; the first one present is read (Shopify has two spellings) */
  headers: readonly string[];
  algorithm: Digest;
  encoding: 'hex' | 'base64';
  prefix: string;
  /** several values in one header (PagerDuty `v1=a,v1=b`) */
  separator?: string;
  id?: IdFrom;
  /** the provider's (unsigned) delivery-id header, sent by sign() when an id is given */
  idHeader?: string;
}

export function bodyHmac(def: BodyHmac): Scheme<KeyObject> {
  const [header] = def.headers as [string];
  return {
    name: def.name,
    signedHeaders: [],
    signsBody: true,
    key: (secret) => utf8Key(secret),
    verify(req, keys) {
      const name = def.headers.find((h) => req.headers[h] !== undefined) ?? header;
      const h = single(req.headers, name);
      if (!h.ok) return h;
      const sigs = signatureValues(h.value, def.prefix, def.encoding, def.separator);
      if (sigs === null) return fail('malformed', `header ${name} is not ${def.prefix}<${def.encoding}>`);
      const i = matchAny(keys, sigs, (k) => hmac(def.algorithm, k, req.body));
      return verdict(i, null, def.id && (() => def.id!(req.body)));
    },
    sign: (input) => ({
      [header]: def.prefix + hmac(def.algorithm, input.secret, input.body).toString(def.encoding),
      ...idHeaders(def.idHeader, input),
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
/**
 * `t=<unix s>,v1=<hex>[,v1=…]` in one header, HMAC-SHA256 over `t` + joiner + body (Stripe, Calendly;
 * Paddle with `;`, `ts`, `h1` and `:`). Every signature value is tried (rotation); unknown keys such as
 * Stripe's test-mode `v0` are ignored (downgrade protection, providers.md §3.1).
 */
export interface PairHmac {
  name: string;
  header: string;
  separator: string;
  tsKey: string;
  sigKey: string;
  joiner: string;
  id?: IdFrom;
}

export function pairHmac(def: PairHmac): Scheme<KeyObject> {
  return {
    name: def.name,
    signedHeaders: [],
    signsBody: true,
    key: (secret) => utf8Key(secret),
    verify(req, keys, opts, nowMs) {
      const h = single(req.headers, def.header);
      if (!h.ok) return h;
      const p = pairs(h.value, def.separator);
      const ts = p.filter(([k]) => k === def.tsKey);
      // two timestamps (a duplicated header joined with ", ") are ambiguous: refuse rather than pick one
      const timestampMs = ts.length === 1 ? parseUnixSeconds(ts[0]![1]) : null;
      const sigs = p.filter(([k]) => k === def.sigKey).map(([, v]) => decodeHex(v));
      if (timestampMs === null || sigs.some((s) => s === null || s.length === 0)) {
        return fail('malformed', `header ${def.header} is not ${def.tsKey}=<unix seconds>${def.separator}${def.sigKey}=<hex>`);
      }
      const t = ts[0]![1];
      const i = matchAny(keys, sigs as Buffer[], (k) => hmac('sha256', k, t, def.joiner, req.body));
      return verdict(i, { timestampMs, nowMs, toleranceMs: opts.toleranceMs }, def.id && (() => def.id!(req.body)));
    },
    sign(input) {
      const mac = hmac('sha256', input.secret, String(input.timestamp), def.joiner, input.body).toString('hex');
      return { [def.header]: `${def.tsKey}=${input.timestamp}${def.separator}${def.sigKey}=${mac}` };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
/** `v0=<hex>` over `v0:<timestamp>:<body>`, the timestamp in its own header (Slack, Zoom: byte-identical constructions). */
export interface V0Hmac {
  name: string;
  sigHeader: string;
  tsHeader: string;
  /** timestamp header → ms, or null when unparseable */
  parseTs: (s: string) => number | null;
  id?: IdFrom;
}

export function v0Hmac(def: V0Hmac): Scheme<KeyObject> {
  return {
    name: def.name,
    signedHeaders: [def.tsHeader],
    signsBody: true,
    key: (secret) => utf8Key(secret),
    verify(req, keys, opts, nowMs) {
      const h = single(req.headers, def.sigHeader);
      if (!h.ok) return h;
      const t = single(req.headers, def.tsHeader, 'malformed');
      if (!t.ok) return t;
      const timestampMs = def.parseTs(t.value);
      const sigs = signatureValues(h.value, 'v0=', 'hex');
      if (timestampMs === null) return fail('malformed', `header ${def.tsHeader} is not a unix timestamp`);
      if (sigs === null) return fail('malformed', `header ${def.sigHeader} is not v0=<hex>`);
      const i = matchAny(keys, sigs, (k) => hmac('sha256', k, 'v0:', t.value, ':', req.body));
      return verdict(i, { timestampMs, nowMs, toleranceMs: opts.toleranceMs }, def.id && (() => def.id!(req.body)));
    },
    sign(input) {
      const ts = String(input.timestamp);
      return {
        [def.sigHeader]: 'v0=' + hmac('sha256', input.secret, 'v0:', ts, ':', input.body).toString('hex'),
        [def.tsHeader]: ts,
      };
    },
  };
}
