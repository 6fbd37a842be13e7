// Shared-token providers (catalog family T): the header carries a secret the operator chose, verbatim
// (optionally after a fixed prefix such as `Bearer `). Nothing of the body is signed and no timestamp
// is, so a captured delivery can be replayed with any body: `check` says so, the idempotency key is
// the digest of the body (an id in the body could be changed freely), and `json:` tenants and keys are
// refused on these routes like on GitLab's secret token.
import { fail, safeEqual, single, tokenDigest, verdict } from './primitives.js';
import type { Vector } from './hmac-engine.js';
import type { Scheme } from './types.js';

export interface TokenPreset {
  name: string;
  docs: string;
  header: string;
  /** text before the token in the header (`Bearer `) */
  prefix?: string;
  aliases?: readonly string[];
  notes?: readonly string[];
  vector: Vector;
}

const NONE: readonly string[] = Object.freeze([]);

export const TOKEN_WARNING =
  'the provider sends a shared token, not a signature: the body and the time are not signed, so anyone who captures one delivery can send any body with it; keep the endpoint on TLS, rotate the token if it leaks, and prefer a signed mode where the provider has one';

export function tokenScheme(p: TokenPreset): Scheme<Buffer> {
  const header = p.header.toLowerCase();
  const prefix = p.prefix ?? '';
  return {
    name: p.name,
    signedHeaders: NONE,
    signsBody: false,
    warnings: [TOKEN_WARNING],
    info: {
      family: 'token',
      docs: p.docs,
      headers: [p.header],
      signed: 'nothing (a shared token)',
      timestamp: null,
      id: 'digest',
      secret: 'utf8',
      ...(p.aliases ? { aliases: p.aliases } : {}),
      ...(p.notes ? { notes: p.notes } : {}),
    },
    key(secret) {
      if (secret === '') throw new Error(`${p.name}: the token is empty`);
      return tokenDigest(secret);
    },
    verify(req, keys) {
      const h = single(req.headers, header);
      if (!h.ok) return h;
      if (!h.value.startsWith(prefix)) return fail('malformed', `header ${header} is not ${prefix}<token>`);
      // digests: a constant-time compare that does not reveal the token's length either
      const got = tokenDigest(h.value.slice(prefix.length));
      let found = -1;
      for (let i = 0; i < keys.length; i++) if (safeEqual(got, keys[i]!) && found < 0) found = i;
      const v = verdict(found);
      if (v.ok) v.headers = NONE;
      return v;
    },
    sign: (input) => ({ [header]: prefix + input.secret }),
  };
}
