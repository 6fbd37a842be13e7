// generic: any HMAC scheme not built in, described by the route's `generic:` block (CONTRACT.md):
// HMAC-<algorithm> of the body, or of `<timestamp header><separator><body>` when timestampHeader is set
// (then the timestamp, unix seconds, must be within the route's tolerance); `<prefix><hex|base64>` in `header`.
import type { KeyObject } from 'node:crypto';
import { fail, hmac, matchAny, parseUnixSeconds, signatureValues, single, utf8Key, verdict } from './primitives.js';
import type { GenericOptions, Scheme } from './types.js';

function options(g: GenericOptions | undefined): GenericOptions {
  if (!g) throw new Error('provider generic needs a generic: block (header, algorithm, encoding)');
  return g;
}

export const generic: Scheme<KeyObject> = {
  name: 'generic',
  // depends on the route (its timestampHeader is signed); check reads opts.generic for that
  signedHeaders: [],
  signsBody: true,
  key(secret, opts) {
    options(opts.generic);
    return utf8Key(secret);
  },
  verify(req, keys, opts, nowMs) {
    const g = options(opts.generic);
    const header = g.header.toLowerCase();
    const h = single(req.headers, header);
    if (!h.ok) return h;
    const sigs = signatureValues(h.value, g.prefix, g.encoding);
    if (sigs === null) return fail('malformed', `header ${header} is not ${g.prefix}<${g.encoding}>`);
    if (!g.timestampHeader) return verdict(matchAny(keys, sigs, (k) => hmac(g.algorithm, k, req.body)));

    const tsHeader = g.timestampHeader.toLowerCase();
    const t = single(req.headers, tsHeader, 'malformed');
    if (!t.ok) return t;
    const timestampMs = parseUnixSeconds(t.value);
    if (timestampMs === null) return fail('malformed', `header ${tsHeader} is not unix seconds`);
    const i = matchAny(keys, sigs, (k) => hmac(g.algorithm, k, t.value, g.separator, req.body));
    // no id: the route's idempotencyKey (json:PATH) names one when the body carries it, else the digest
    return verdict(i, { timestampMs, nowMs, toleranceMs: opts.toleranceMs });
  },
  sign(input) {
    const g = options(input.generic);
    const ts = String(input.timestamp);
    const parts = g.timestampHeader ? [ts, g.separator, input.body] : [input.body];
    const out: Record<string, string> = { [g.header.toLowerCase()]: g.prefix + hmac(g.algorithm, input.secret, ...parts).toString(g.encoding) };
    if (g.timestampHeader) out[g.timestampHeader.toLowerCase()] = ts;
    return out;
  },
};
