// The declarative HMAC engine (issue 15): a provider whose signature is "a MAC (or keyed hash) over a
// concatenation of known pieces, compared with values parsed out of headers" is a few lines of data, an
// `HmacPreset`, instead of a scheme file. provider-catalog.md §3.2/§3.3 list what the data must express:
// key encodings, ms / ISO timestamps, templates other than `ts.body`, pair / list / positional signature
// headers, repeated or twin headers, base64url, keyed hashes that are not HMACs.
//
// Rules kept from the hand-written schemes (providers.md §2): the signature is compared before the
// timestamp is judged; the body is parsed only once it is authentic; a header sent twice is malformed
// unless the preset says the provider repeats it; an id comes only from signed material.
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  type Digest, FORM_NOT_UTF8, decodeBase64, decodeHex, fail, formDecodesToUtf8, jsonObject, jsonPath, parseRfc3339, verdict,
} from './primitives.js';
import { NO_PUBLIC_URL, signedUrl } from './public-url.js';
import type { ProviderInfo, Scheme, SignInput, SignedRequest, Verdict } from './types.js';

export type SignatureEncoding = 'hex' | 'base64' | 'base64url';
export type KeyEncoding = 'utf8' | 'hex' | 'base64' | 'whsec';

export interface SignatureSpec {
  /** lower-case header names. Without `all`: the first one present is read (alternative spellings). */
  headers: readonly string[];
  /** every listed header present is read and any of their values may match (Box primary/secondary) */
  all?: boolean;
  /** the provider sends the header several times during a rotation (Mollie): every value may match */
  repeated?: boolean;
  /**
   * single:     `<prefix><sig>`
   * list:       `<prefix><sig><sep><prefix><sig>…`; entries without the prefix are other versions, ignored
   * pairs:      `<tsKey>=<ts><sep><sigKey>=<sig><sep>…`; other keys ignored (downgrade protection)
   * positional: `<ts><sep><sig>[<sep><sig>…]` (Recurly)
   */
  format: 'single' | 'list' | 'pairs' | 'positional';
  /** list / pairs / positional separator (values are trimmed, so `, ` works with `,`) */
  separator?: string;
  /** how sign() joins pairs (WorkOS writes `, `); default `separator` */
  joiner?: string;
  prefix?: string;
  /** the prefix may be absent (Mollie's validator strips `sha256=` when present); sign() writes it */
  optionalPrefix?: boolean;
  sigKey?: string;
  tsKey?: string;
  encoding: SignatureEncoding;
}

export interface TimestampSpec {
  /** the header that carries it; absent: the signature header (pairs / positional formats) */
  header?: string;
  /**
   * s, ms, auto (up to 11 digits seconds, 13 digits milliseconds: the provider documents both), iso (RFC 3339),
   * iso-utc (RFC 3339 whose zone may be left out, meaning UTC: Orb's `2024-03-27T15:42:29.551`)
   */
  unit: 's' | 'ms' | 'auto' | 'iso' | 'iso-utc';
}

export interface Vector {
  secret: string;
  body: string;
  headers: Record<string, string>;
  /** the clock (ms) at which it is fresh, for timestamped schemes */
  now?: number;
  /** the id it yields, when the scheme has one */
  id?: string;
  /** published (where) or built from the documented construction */
  source: string;
}

export interface HmacPreset {
  name: string;
  docs: string;
  aliases?: readonly string[];
  /** the listing's family when not derived (hmac, keyed-hash, url-signed) */
  family?: string;
  notes?: readonly string[];
  /** check's extra warnings for routes on this provider */
  warnings?: readonly string[];
  algorithm: Digest;
  /** hmac (default), or hash: a plain digest of the template, where `{secret}` places the key (Recharge, Cloudinary) */
  mac?: 'hmac' | 'hash';
  key?: KeyEncoding;
  /**
   * What is signed: literals and `{body}`, `{timestamp}` (as sent), `{header:NAME}` (a header's value as
   * sent), `{url}` (the route's publicUrl + the request's query: the scheme is then URL-signed), `{secret}`,
   * `{form:sorted}` (a form body's fields sorted by name, each name then value, decoded, no separators: Mandrill).
   */
  signed: string;
  signature: SignatureSpec;
  timestamp?: TimestampSpec;
  /** json:PATH (of the signed body) or header:NAME (a header that `signed` covers); absent: the digest */
  id?: `json:${string}` | `header:${string}`;
  /** the provider's own delivery-id header, not signed: sign() sends it so a handler sees what it expects */
  idHeader?: string;
  /** the window the provider's own SDK allows, when wider than the default (ProviderInfo.tolerance) */
  tolerance?: string;
  /** headers the provider sends unchanged on every delivery, which its SDK requires (Box's signature version): sign() sends them */
  sends?: Readonly<Record<string, string>>;
  vector: Vector;
}

type Part =
  | { kind: 'literal'; value: string }
  | { kind: 'body' | 'timestamp' | 'url' | 'secret' | 'form' }
  | { kind: 'header'; name: string };

export function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  const re = /\{([a-z]+)(?::([^}]+))?\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) parts.push({ kind: 'literal', value: template.slice(last, m.index) });
    const [, kind, arg] = m;
    if (kind === 'header' && arg) parts.push({ kind: 'header', name: arg.toLowerCase() });
    else if (kind === 'form' && arg === 'sorted') parts.push({ kind: 'form' });
    else if (!arg && (kind === 'body' || kind === 'timestamp' || kind === 'url' || kind === 'secret')) parts.push({ kind });
    else throw new Error(`template ${template}: unknown placeholder ${m[0]}`);
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ kind: 'literal', value: template.slice(last) });
  return parts;
}

interface Key {
  /** HMAC key (hmac) */
  mac: KeyObject | null;
  /** the key bytes (hash: placed by `{secret}`) */
  raw: Buffer;
}

function keyBytes(secret: string, encoding: KeyEncoding, name: string): Buffer {
  if (secret === '') throw new Error(`${name}: the secret is empty`);
  let b: Buffer | null;
  switch (encoding) {
    case 'utf8':
      return Buffer.from(secret, 'utf8');
    case 'hex':
      b = decodeHex(secret.trim());
      if (b === null || b.length === 0) throw new Error(`${name}: the secret is the hex key the provider shows; this one is not hex`);
      return b;
    case 'base64':
      b = decodeBase64(secret.trim());
      if (b === null || b.length === 0) throw new Error(`${name}: the secret is the base64 key the provider shows; this one is not base64`);
      return b;
    case 'whsec':
      b = decodeBase64(secret.startsWith('whsec_') ? secret.slice(6) : secret);
      if (b === null || b.length === 0) throw new Error(`${name}: the secret is whsec_ followed by base64; this one is not valid base64`);
      return b;
  }
}

function encode(b: Buffer, e: SignatureEncoding): string {
  return b.toString(e);
}

function decodeSig(s: string, e: SignatureEncoding): Buffer | null {
  const b = e === 'hex' ? decodeHex(s) : decodeBase64(s);
  return b === null || b.length === 0 ? null : b;
}

/** All values of the signature header(s): null when none is present, 'twice' when one is sent twice where it must not be. */
function rawValues(headers: IncomingHttpHeaders, spec: SignatureSpec): { name: string; values: string[] } | null | 'twice' {
  const present = spec.headers.filter((h) => headers[h] !== undefined && headers[h] !== '');
  if (present.length === 0) return null;
  const read = spec.all ? present : present.slice(0, 1);
  const values: string[] = [];
  for (const h of read) {
    const v = headers[h]!;
    if (Array.isArray(v)) {
      if (v.length !== 1 && !spec.repeated) return 'twice';
      values.push(...v);
    } else if (spec.repeated && spec.format === 'single') {
      // Node joins a repeated header into one value with ", "; single values never hold a comma
      values.push(...v.split(','));
    } else values.push(v);
  }
  return { name: read[0]!, values };
}

interface Parsed {
  sigs: Buffer[];
  /** the timestamp carried by the signature header, when the format has one */
  ts?: string;
}

/** One header value → signatures (and the timestamp of pair / positional formats); a string: why it is malformed. */
function parseValue(value: string, spec: SignatureSpec): Parsed | string {
  const prefix = spec.prefix ?? '';
  const sep = spec.separator ?? ',';
  const shape = describe(spec);
  switch (spec.format) {
    case 'single': {
      const v = value.trim();
      const has = v.startsWith(prefix);
      if (!has && !spec.optionalPrefix) return shape;
      const b = decodeSig(has ? v.slice(prefix.length) : v, spec.encoding);
      return b === null ? shape : { sigs: [b] };
    }
    case 'list': {
      const sigs: Buffer[] = [];
      for (const e of value.split(sep).map((x) => x.trim())) {
        if (!e.startsWith(prefix) || e === '') continue;
        const b = decodeSig(e.slice(prefix.length), spec.encoding);
        if (b === null) return shape;
        sigs.push(b);
      }
      return sigs.length ? { sigs } : shape;
    }
    case 'pairs': {
      const sigs: Buffer[] = [];
      const ts: string[] = [];
      for (const part of value.split(sep)) {
        const i = part.indexOf('=');
        if (i <= 0) continue;
        const k = part.slice(0, i).trim();
        const v = part.slice(i + 1).trim();
        if (k === spec.tsKey) ts.push(v);
        else if (k === spec.sigKey) {
          const b = decodeSig(v, spec.encoding);
          if (b === null) return shape;
          sigs.push(b);
        }
      }
      // two timestamps (a duplicated header joined with ", ") are ambiguous: refuse rather than pick one
      if ((spec.tsKey !== undefined && ts.length !== 1) || sigs.length === 0) return shape;
      return ts.length ? { sigs, ts: ts[0]! } : { sigs };
    }
    case 'positional': {
      const [ts, ...rest] = value.split(sep).map((x) => x.trim());
      const sigs = rest.map((s) => decodeSig(s, spec.encoding));
      if (!ts || sigs.length === 0 || sigs.some((s) => s === null)) return shape;
      return { sigs: sigs as Buffer[], ts };
    }
  }
}

function describe(spec: SignatureSpec): string {
  const p = spec.prefix ?? '';
  const sep = spec.separator ?? ',';
  const e = spec.encoding;
  switch (spec.format) {
    case 'single': return `${p}<${e}>`;
    case 'list': return `a list of ${p}<${e}> separated by "${sep}"`;
    case 'pairs': return `${spec.tsKey ? `${spec.tsKey}=<timestamp>${sep}` : ''}${spec.sigKey}=<${e}>`;
    case 'positional': return `<timestamp>${sep}<${e}>[${sep}<${e}>…]`;
  }
}

function parseTimestamp(s: string, unit: TimestampSpec['unit']): number | null {
  switch (unit) {
    case 's': return /^\d{1,12}$/.test(s) ? Number(s) * 1000 : null;
    case 'ms': return /^\d{1,15}$/.test(s) ? Number(s) : null;
    // 13 digits can only be milliseconds (as seconds they would be the year 33658)
    case 'auto': return /^\d{13}$/.test(s) ? Number(s) : /^\d{1,11}$/.test(s) ? Number(s) * 1000 : null;
    case 'iso': return parseRfc3339(s);
    case 'iso-utc': return parseRfc3339(/(z|[+-]\d{2}:\d{2})$/i.test(s) ? s : `${s}Z`);
  }
}

function formatTimestamp(unixSeconds: number, unit: TimestampSpec['unit']): string {
  switch (unit) {
    case 's':
    case 'auto': return String(unixSeconds);
    case 'ms': return String(unixSeconds * 1000);
    case 'iso': return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
    case 'iso-utc': return new Date(unixSeconds * 1000).toISOString().slice(0, -1);
  }
}

/** `{form:sorted}`: every field of a urlencoded body, sorted by name (stable), name + value, decoded. */
function sortedForm(body: Buffer): string {
  const fields = [...new URLSearchParams(body.toString('utf8'))];
  fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return fields.map(([k, v]) => k + v).join('');
}

function mac(p: HmacPreset, key: Key, parts: readonly (Buffer | string)[]): Buffer {
  const h = p.mac === 'hash' ? createHash(p.algorithm) : createHmac(p.algorithm, key.mac!);
  for (const x of parts) h.update(x);
  return h.digest();
}

/** Builds the scheme of a preset; throws at startup when the data contradicts itself. */
export function hmacScheme(p: HmacPreset): Scheme<Key> {
  const parts = parseTemplate(p.signed);
  const has = (k: Part['kind']) => parts.some((x) => x.kind === k);
  const templateHeaders = parts.flatMap((x) => (x.kind === 'header' ? [x.name] : []));
  const tsHeader = p.timestamp?.header?.toLowerCase();
  if (p.timestamp && !has('timestamp')) throw new Error(`${p.name}: a timestamp that is not in what is signed would not be signed`);
  if (has('timestamp') && !p.timestamp) throw new Error(`${p.name}: {timestamp} needs a timestamp spec`);
  if (p.tolerance && !p.timestamp) throw new Error(`${p.name}: a tolerance without a signed timestamp bounds nothing`);
  if (p.timestamp && !tsHeader && p.signature.format !== 'pairs' && p.signature.format !== 'positional')
    throw new Error(`${p.name}: the timestamp needs a header, or a pairs / positional signature`);
  if (has('secret') !== (p.mac === 'hash')) throw new Error(`${p.name}: {secret} belongs in keyed hashes, and only there`);
  const idHeader = p.id?.startsWith('header:') ? p.id.slice(7).toLowerCase() : undefined;
  const idJson = p.id?.startsWith('json:') ? p.id.slice(5) : undefined;
  if (idHeader && !templateHeaders.includes(idHeader)) throw new Error(`${p.name}: the id header ${idHeader} is not signed`);
  if (idJson && !has('body') && !has('form')) throw new Error(`${p.name}: a json id needs a signed body`);
  const signedHeaders = Object.freeze([...new Set([...templateHeaders, ...(tsHeader ? [tsHeader] : [])])]);
  const urlSigned = has('url');
  const signsForm = has('form');
  const keyEnc = p.key ?? 'utf8';
  const sigHeader = p.signature.headers[0]!;

  const info: ProviderInfo = {
    family: p.family ?? (p.mac === 'hash' ? 'keyed-hash' : urlSigned ? 'url-signed' : 'hmac'),
    docs: p.docs,
    headers: p.signature.all ? p.signature.headers : [sigHeader],
    signed: p.signed,
    timestamp: p.timestamp ? `${tsHeader ? `header ${tsHeader}` : `${sigHeader} (${p.signature.tsKey ?? 'first value'})`}, ${p.timestamp.unit === 'iso' ? 'RFC 3339' : p.timestamp.unit === 'iso-utc' ? 'ISO 8601, UTC when it names no zone' : p.timestamp.unit === 'auto' ? 'unix s or ms' : `unix ${p.timestamp.unit}`}` : null,
    id: p.id ?? 'digest',
    secret: keyEnc,
    ...(p.idHeader ? { deliveryIdHeader: p.idHeader } : {}),
    ...(p.aliases ? { aliases: p.aliases } : {}),
    ...(p.notes ? { notes: p.notes } : {}),
    ...(p.tolerance ? { tolerance: p.tolerance } : {}),
  };

  const makeKey = (secret: string): Key => {
    const raw = keyBytes(secret, keyEnc, p.name);
    return { raw, mac: p.mac === 'hash' ? null : createSecretKey(raw) };
  };

  const pieces = (req: SignedRequest | null, input: SignInput | null, ts: string | undefined, url: string, key: Key): (Buffer | string)[] =>
    parts.map((x) => {
      switch (x.kind) {
        case 'literal': return x.value;
        case 'body': return req ? req.body : input!.body;
        case 'form': return sortedForm(req ? req.body : input!.body);
        case 'timestamp': return ts!;
        case 'url': return url;
        case 'secret': return key.raw;
        case 'header': {
          if (input) return x.name === idHeader ? input.id : x.name === tsHeader ? ts! : '';
          const v = req!.headers[x.name];
          return typeof v === 'string' ? v : '';
        }
      }
    });

  return {
    name: p.name,
    signedHeaders,
    signsBody: has('body') || has('form'),
    ...(urlSigned ? { urlSigned: true } : {}),
    ...(p.warnings ? { warnings: p.warnings } : {}),
    info,
    key: makeKey,
    verify(req, keys, opts, nowMs): Verdict {
      const found = rawValues(req.headers, p.signature);
      if (found === null) return fail('signature_missing', `header ${sigHeader} is missing`);
      if (found === 'twice') return fail('malformed', `header ${sigHeader} was sent more than once`);
      const sigs: Buffer[] = [];
      let sigTs: string | undefined;
      for (const v of found.values) {
        const parsed = parseValue(v, p.signature);
        if (typeof parsed === 'string') return fail('malformed', `header ${found.name} is not ${parsed}`);
        if (parsed.ts !== undefined) {
          if (sigTs !== undefined && sigTs !== parsed.ts) return fail('malformed', `header ${found.name} carries two timestamps`);
          sigTs = parsed.ts;
        }
        sigs.push(...parsed.sigs);
      }
      // headers the template reads must each be sent once: a second value could pair a capture with new content
      for (const h of templateHeaders) {
        const v = req.headers[h];
        if (v === undefined || v === '') return fail('malformed', `header ${h} is missing`);
        if (Array.isArray(v)) return fail('malformed', `header ${h} was sent more than once`);
      }
      let ts: string | undefined;
      let timestampMs: number | null = null;
      if (p.timestamp) {
        if (tsHeader) {
          const v = req.headers[tsHeader];
          if (v === undefined || v === '') return fail('malformed', `header ${tsHeader} is missing`);
          if (Array.isArray(v)) return fail('malformed', `header ${tsHeader} was sent more than once`);
          ts = v;
        } else ts = sigTs;
        timestampMs = ts === undefined ? null : parseTimestamp(ts, p.timestamp.unit);
        if (timestampMs === null) return fail('malformed', `the timestamp is not ${info.timestamp}`);
      }
      if (signsForm && !formDecodesToUtf8(req.body)) return fail('malformed', FORM_NOT_UTF8);
      let url = '';
      if (urlSigned) {
        if (opts.publicUrl === null) return fail('signature_invalid', NO_PUBLIC_URL);
        url = signedUrl(opts.publicUrl, req.url);
      }
      let index = -1;
      for (let i = 0; i < keys.length; i++) {
        const want = mac(p, keys[i]!, pieces(req, null, ts, url, keys[i]!));
        for (const s of sigs) if (s.length === want.length && timingSafeEqual(s, want) && index < 0) index = i;
      }
      const window = timestampMs === null ? null : { timestampMs, nowMs, toleranceMs: opts.toleranceMs };
      const v = verdict(index, window, () => {
        if (idHeader) return req.headers[idHeader] as string;
        if (idJson) {
          const o = jsonObject(req.body);
          return o === undefined ? undefined : jsonPath(o, idJson);
        }
        return undefined;
      });
      if (v.ok && urlSigned) {
        // the key when there is no id: the digest of what was signed (URL and body), not of the body alone
        const h = createHash('sha256');
        for (const x of pieces(req, null, ts, url, keys[v.secretIndex]!)) if (x !== keys[v.secretIndex]!.raw) h.update(x);
        v.digest = h.digest('hex');
      }
      return v;
    },
    sign(input) {
      const key = makeKey(input.secret);
      const ts = p.timestamp ? formatTimestamp(input.timestamp, p.timestamp.unit) : undefined;
      const sig = encode(mac(p, key, pieces(null, input, ts, input.url, key)), p.signature.encoding);
      const s = p.signature;
      const pre = s.prefix ?? '';
      let value: string;
      switch (s.format) {
        case 'single':
        case 'list': value = pre + sig; break;
        case 'pairs': {
          const j = s.joiner ?? s.separator ?? ',';
          value = s.tsKey && !tsHeader ? `${s.tsKey}=${ts}${j}${s.sigKey}=${sig}` : `${s.sigKey}=${sig}`;
          break;
        }
        case 'positional': value = `${ts}${s.joiner ?? s.separator ?? ','}${sig}`; break;
      }
      const out: Record<string, string> = { ...p.sends, [sigHeader]: value };
      if (tsHeader && ts !== undefined) out[tsHeader] = ts;
      if (idHeader) out[idHeader] = input.id;
      if (p.idHeader && input.id) out[p.idHeader] = input.id;
      return out;
    },
  };
}
