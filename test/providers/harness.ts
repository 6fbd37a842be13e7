// The cases every signature scheme must pass, table-driven so each scheme's test file states only its
// facts (how to sign, which header carries the signature, what id it yields). Each case is a named subtest
// under the scheme's own test file, so a failure reads "stripe › a changed byte is refused".
import type { Test } from 'tap';
import { getScheme } from '../../src/providers/index.js';
import type { SchemeOptions, SignedRequest, Verdict } from '../../src/providers/types.js';

export const SECRET = 'test_secret_0123456789';
export const T = 1_700_000_000; // unix seconds of every fixed-time case
export const NOW = T * 1000;
export const BODY = Buffer.from('{"id":"evt_123","type":"test.event","data":{"x":1}}');

export type Headers = Record<string, string | string[]>;
export interface Delivery {
  headers: Headers;
  body: Buffer;
}

export interface SchemeSpec {
  name: string;
  /** shown in case names instead of name (a scheme tested in several configurations) */
  label?: string;
  secret?: string;
  /** a second valid secret of the scheme's format (rotation; also the "wrong" secret) */
  other: string;
  /** a valid delivery signed at `ts` (unix s) with `secret`, ideally by the provider's official package */
  sign: (secret: string, ts: number) => Delivery | Promise<Delivery>;
  /** what signed it, shown in the first case's name */
  signer: string;
  /** the header carrying the signature */
  header: string;
  /** true when the scheme signs a timestamp (stale and future deliveries are refused) */
  timestamped: boolean;
  /** the id a valid delivery yields (undefined: none, the key is the digest) */
  id: string | undefined;
  opts?: Partial<SchemeOptions>;
  /** true when the body is not covered (GitLab's plain token): a changed byte is then accepted */
  bodyUnsigned?: boolean;
  /** what a garbled signature header gives (default malformed) */
  garbled?: 'malformed' | 'signature_invalid';
  /** what the header sent twice gives once Node has joined it with ", " (default malformed) */
  joined?: 'malformed' | 'signature_invalid' | 'ok';
}

export const TOLERANCE = 300_000;

export function options(extra?: Partial<SchemeOptions>): SchemeOptions {
  return { toleranceMs: TOLERANCE, publicUrl: null, ...extra };
}

/** Verifies a delivery with the named scheme and the given secrets (prepared by key(), as at config load). */
export function verify(name: string, secrets: string[], d: Delivery, nowMs = NOW, extra?: Partial<SchemeOptions>): Verdict {
  const scheme = getScheme(name);
  if (!scheme) throw new Error(`no scheme ${name}`);
  const opts = options(extra);
  const keys = secrets.map((s) => scheme.key(s, opts));
  const req: SignedRequest = { method: 'POST', url: '/hook', headers: lower(d.headers), body: d.body };
  return scheme.verify(req, keys, opts, nowMs);
}

export function lower(h: Headers): Headers {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/** One byte of the body changed (the last one that is not a space). */
export function flipByte(b: Buffer): Buffer {
  const c = Buffer.from(b);
  const i = c.length - 2 >= 0 ? c.length - 2 : 0;
  c[i] = c[i]! ^ 0x01;
  return c;
}

function code(v: Verdict): string {
  return v.ok ? 'ok' : v.code;
}

export function runCommonCases(t: Test, spec: SchemeSpec): void {
  const secret = spec.secret ?? SECRET;
  const { header } = spec;
  const scheme = spec.name;
  const name = spec.label ?? spec.name;
  const opts = spec.opts;
  const at = async (ts = T) => {
    const d = await spec.sign(secret, ts);
    return { headers: lower(d.headers), body: d.body };
  };

  t.test(`${name}: a delivery signed by ${spec.signer} is accepted`, async (t) => {
    const v = verify(scheme, [secret], await at(), NOW, opts);
    // what the key is made of beyond these (covered headers, the signed content's digest) is each scheme's own test
    if (v.ok) delete v.headers, delete v.digest;
    t.same(v, {
      ok: true,
      secretIndex: 0,
      ...(spec.id !== undefined ? { id: spec.id } : {}),
      ...(spec.timestamped ? { timestamp: NOW } : {}),
    });
  });

  t.test(`${name}: our sign() produces a delivery that verifies`, async (t) => {
    const d = await at();
    const headers = getScheme(scheme)!.sign({ secret, body: d.body, url: 'https://hooks.example.com/hook', method: 'POST', timestamp: T, id: 'msg_sign_1', ...(opts?.generic ? { generic: opts.generic } : {}) });
    const v = verify(scheme, [secret], { headers, body: d.body }, NOW, opts);
    t.equal(code(v), 'ok', JSON.stringify(v));
  });

  t.test(`${name}: a changed byte is ${spec.bodyUnsigned ? 'accepted (the body is not signed)' : 'refused'}`, async (t) => {
    const d = await at();
    t.equal(code(verify(scheme, [secret], { ...d, body: flipByte(d.body) }, NOW, opts)), spec.bodyUnsigned ? 'ok' : 'signature_invalid');
  });

  t.test(`${name}: a wrong secret is refused`, async (t) => {
    t.equal(code(verify(scheme, [spec.other], await at(), NOW, opts)), 'signature_invalid');
  });

  t.test(`${name}: the second of two secrets is accepted and reported as index 1`, async (t) => {
    const v = verify(scheme, [spec.other, secret], await at(), NOW, opts);
    t.equal(code(v), 'ok');
    t.equal(v.ok && v.secretIndex, 1);
  });

  t.test(`${name}: no signature header is signature_missing`, async (t) => {
    const d = await at();
    delete d.headers[header];
    t.equal(code(verify(scheme, [secret], d, NOW, opts)), 'signature_missing');
  });

  t.test(`${name}: the signature header sent twice is malformed`, async (t) => {
    const d = await at();
    const v = d.headers[header] as string;
    t.equal(code(verify(scheme, [secret], { ...d, headers: { ...d.headers, [header]: [v, v] } }, NOW, opts)), 'malformed', 'as two values');
    t.equal(code(verify(scheme, [secret], { ...d, headers: { ...d.headers, [header]: `${v}, ${v}` } }, NOW, opts)), spec.joined ?? 'malformed', 'joined by Node with ", "');
  });

  t.test(`${name}: a garbled signature header is ${spec.garbled ?? 'malformed'}`, async (t) => {
    const d = await at();
    t.equal(code(verify(scheme, [secret], { ...d, headers: { ...d.headers, [header]: 'garbage!' } }, NOW, opts)), spec.garbled ?? 'malformed');
  });

  if (spec.timestamped) {
    t.test(`${name}: stale and future timestamps are refused, both edges of the window accepted`, async (t) => {
      const d = await at();
      t.equal(code(verify(scheme, [secret], d, NOW + TOLERANCE + 1000, opts)), 'timestamp_out_of_tolerance', 'stale');
      t.equal(code(verify(scheme, [secret], d, NOW - TOLERANCE - 1000, opts)), 'timestamp_out_of_tolerance', 'future');
      t.equal(code(verify(scheme, [secret], d, NOW + TOLERANCE, opts)), 'ok', 'oldest accepted');
      t.equal(code(verify(scheme, [secret], d, NOW - TOLERANCE, opts)), 'ok', 'newest accepted');
    });
    t.test(`${name}: a forged delivery learns nothing about the window (signature is checked first)`, async (t) => {
      const d = await at();
      t.equal(code(verify(scheme, [spec.other], d, NOW + 10 * TOLERANCE, opts)), 'signature_invalid');
    });
  }
}
