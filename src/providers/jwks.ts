// A route's JWKS key set (RFC 7517), fetched only from the URL in its configuration, cached, and
// refreshed when a token names a `kid` the set does not hold (the provider rotated its keys). A flood of
// tokens with invented `kid`s must not turn the gateway into a fetch amplifier: refreshes are
// single-flight and at most one per `minRefreshMs`; between them an unknown kid is simply not a key.
import { createPublicKey } from 'node:crypto';
import type { JwtKey } from './jws.js';
import { unavailable, type Fetcher, type FetchLimits, type Resolved } from './remote.js';

/** Keys of a JWKS document usable for verifying signatures: public keys only, `use` sig or absent. */
export function keysOfJwks(doc: unknown): JwtKey[] {
  const list = doc && typeof doc === 'object' && Array.isArray((doc as { keys?: unknown }).keys) ? (doc as { keys: unknown[] }).keys : null;
  if (!list) throw new Error('not a JWKS document ({"keys": [...]})');
  const out: JwtKey[] = [];
  for (const jwk of list) {
    const k = jwkKey(jwk);
    if (k) out.push(k);
  }
  return out;
}

/**
 * One JWK as a verification key, or null when it cannot verify: symmetric (`oct`) keys never come from
 * a JWKS (a published shared secret would let anyone sign), `use: enc` keys are for encryption.
 */
export function jwkKey(jwk: unknown): JwtKey | null {
  if (!jwk || typeof jwk !== 'object') return null;
  const j = jwk as Record<string, unknown>;
  if (j.kty === 'oct' || (j.use !== undefined && j.use !== 'sig')) return null;
  // only the public members: a private JWK published by mistake still yields only its public key
  const pub: Record<string, unknown> = {};
  for (const m of ['kty', 'crv', 'x', 'y', 'n', 'e']) if (j[m] !== undefined) pub[m] = j[m];
  try {
    const key = createPublicKey({ key: pub as never, format: 'jwk' });
    const out: JwtKey = { key };
    if (typeof j.kid === 'string') out.kid = j.kid;
    if (typeof j.alg === 'string') out.alg = j.alg;
    return out;
  } catch {
    return null;
  }
}

export interface JwksOptions {
  url: URL;
  fetcher: Fetcher;
  limits: FetchLimits;
  /** fewest ms between two fetches (an unknown kid does not refetch before) */
  minRefreshMs: number;
  /** a set older than this is fetched again before use (stale keys are kept if that fails) */
  maxAgeMs: number;
}

export class JwksCache {
  private keys: JwtKey[] | null = null;
  private fetchedAt = -Infinity;
  private inFlight: Promise<void> | null = null;
  /** fetches made (observable in tests: an unknown-kid flood must not raise it unboundedly) */
  fetches = 0;

  constructor(private readonly o: JwksOptions) {}

  /** The key set to verify a token naming `kid` with; fetches first only when needed and allowed. */
  resolve(kid: string | undefined, nowMs: number): Resolved | Promise<Resolved> {
    const fresh = this.keys !== null && nowMs - this.fetchedAt < this.o.maxAgeMs;
    const known = kid === undefined || (this.keys?.some((k) => k.kid === kid) ?? false);
    if (fresh && known) return { ok: true, material: this.keys };
    const mayFetch = nowMs - this.fetchedAt >= this.o.minRefreshMs;
    if (!mayFetch) return this.keys ? { ok: true, material: this.keys } : unavailable('the JWKS could not be fetched; retry later');
    return this.refresh(nowMs).then(() => (this.keys ? { ok: true, material: this.keys } : unavailable('the JWKS could not be fetched; retry later')));
  }

  private refresh(nowMs: number): Promise<void> {
    if (this.inFlight) return this.inFlight;
    // the attempt counts even when it fails: an unreachable key server is not hammered either
    this.fetchedAt = nowMs;
    this.fetches++;
    this.inFlight = this.o
      .fetcher(this.o.url, this.o.limits)
      .then((bytes) => {
        this.keys = keysOfJwks(JSON.parse(bytes.toString('utf8')));
      })
      .catch(() => {
        /* keep the previous set, if any; the caller answers keys_unavailable without one */
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }
}
