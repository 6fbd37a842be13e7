// The JWT family: a provider sends a signed JWT (a header, `Authorization: Bearer`, the body itself or
// a field of it) and, where it binds the body, a claim holding the body's SHA-256 (Plaid, Netlify,
// Vonage, FusionAuth). Where it does not (Google Pub/Sub push, Bot Framework), the token proves the
// sender, not the body: the scheme covers no body (`json:` keys and tenants are refused) and the
// delivery's key is the body's digest. Keys: the route's secrets (shared secret, PEM, JWK or JWKS
// JSON), else the JWKS URL of the route (or the provider's), fetched by src/providers/jwks.ts.
import { createHash, createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type KeyObject } from 'node:crypto';
import { algFor, headerProblem, isSymmetric, keyFits, parseCompact, parseDetachedUnencoded, signCompact, verifySignature, type JwsAlg, type JwtKey } from './jws.js';
import { JwksCache, jwkKey, keysOfJwks } from './jwks.js';
import { DEFAULT_LIMITS, type RemoteKeys } from './remote.js';
import { decodeBase64, decodeHex, fail, invalid, jsonPath, outOfTolerance, parseJson, safeEqual, single } from './primitives.js';
import type { Coverage, ProviderInfo, Scheme, SchemeOptions, SignedRequest, Verdict } from './types.js';

/** Where the token travels. */
export type TokenPlace = { kind: 'header'; name: string; bearer: boolean } | { kind: 'body' } | { kind: 'json'; path: string };

export interface BodyHash {
  claim: string;
  encoding: 'hex' | 'base64';
}

/** The route's effective settings: the provider's facts with the route's `jwt:` block over them (src/config/jwt.ts). */
export interface JwtOptions {
  token: TokenPlace;
  algorithms: readonly JwsAlg[];
  /** `iss` must be one of these; null: not checked */
  issuer: readonly string[] | null;
  /** `aud` (a string or a list) must hold one of these; null: not checked */
  audience: readonly string[] | null;
  bodyHash: BodyHash | null;
  /** true: `iat` is required and must be within the route's tolerance, both directions */
  iatWindow: boolean;
  /** true: `exp` is required */
  expRequired: boolean;
  /** where keys come from when the route has no secrets */
  jwksUrl: URL | null;
  /** RFC 7797: `header..signature` over the raw body, the time in the protected header's `ts` */
  detached: boolean;
}

/** A named provider's facts. */
export interface JwtProvider {
  name: string;
  docs: string;
  token: TokenPlace;
  algorithms: readonly JwsAlg[];
  issuer?: readonly string[];
  /** the route must name its audience (the provider signs tokens for anyone's audience) */
  audienceRequired?: boolean;
  /** the route must name the issuer (one key set signs for many issuers: Entra ID tenants) */
  issuerRequired?: boolean;
  /** the unsigned subscription probe it sends (src/providers/handshakes.ts) */
  handshake?: import('./handshakes.js').HandshakeKind;
  bodyHash: BodyHash | null;
  iatWindow: boolean;
  expRequired?: boolean;
  /** the provider's own JWKS and the origins a route may point `jwt.jwksUrl` at */
  jwks?: { url: string; origins: readonly string[] };
  /** the JSON path of the id in the body, only where the token binds the body; absent: the key is the body's digest */
  idPath?: string;
  /** RFC 7797 detached, unencoded payload: the body is what is signed, `ts` in the header is the time */
  detached?: boolean;
  /** extra sign() claims */
  claims?: (body: Buffer, url: string) => Record<string, unknown>;
  warnings?: readonly string[];
  /** what `hookgate providers` says beyond these facts (family, docs, time, id and secret form are derived from them) */
  info: Pick<ProviderInfo, 'headers' | 'signed' | 'notes'>;
}

/** The listing of a JWT provider: its facts, and the headers and wording it names (src/cli/providers.ts). */
export function jwtInfo(def: JwtProvider): ProviderInfo {
  return {
    family: 'jwt',
    docs: def.docs,
    ...def.info,
    timestamp: def.detached ? 'protected header ts, unix s' : def.iatWindow ? 'claim iat, unix s' : null,
    id: def.idPath ? `json:${def.idPath}` : 'digest',
    secret: def.algorithms.length > 0 && !def.algorithms.every(isSymmetric) ? 'public-key' : 'utf8',
  };
}

const idOf = (def: JwtProvider, body: Buffer): string | undefined => (def.idPath ? jsonPath(parseJson(body), def.idPath) : undefined);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

/**
 * One configured secret as keys: a shared secret for HS* routes; for the others a PEM public key or
 * certificate, a JWK, or a JWKS document (JSON). A private key is refused: the route holds what verifies.
 */
export function jwtKeys(secret: string, opts: SchemeOptions, who: string): JwtKey[] {
  const j = opts.jwt;
  if (!j) throw new Error(`${who}: the route has no jwt settings`);
  if (j.algorithms.every(isSymmetric)) {
    if (secret === '') throw new Error('the secret is empty');
    return [{ key: createSecretKey(Buffer.from(secret, 'utf8')) }];
  }
  const text = secret.trim();
  const BAD = `${who}: the key must be a PEM public key or certificate, a JWK or a JWKS document (JSON) for ${j.algorithms.join('/')}`;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new Error(`${who}: a private key was given; the route needs the public key (hookgate sign takes the private one)`);
  let keys: JwtKey[];
  try {
    if (text.startsWith('-----BEGIN CERTIFICATE')) keys = [{ key: new X509Certificate(text).publicKey }];
    else if (text.startsWith('-----BEGIN')) keys = [{ key: createPublicKey(text) }];
    else {
      const doc = JSON.parse(text) as unknown;
      if (doc && typeof doc === 'object' && 'keys' in doc) keys = keysOfJwks(doc);
      else {
        const k = jwkKey(doc);
        keys = k ? [k] : [];
      }
    }
  } catch {
    throw new Error(BAD);
  }
  if (!keys.some((k) => j.algorithms.some((a) => keyFits(a, k)))) throw new Error(`${BAD}; none of its keys fits those algorithms`);
  return keys;
}

/** The token of a request, or a refusal. */
function tokenOf(req: SignedRequest, place: TokenPlace): { ok: true; token: string } | { ok: false; v: Verdict } {
  if (place.kind === 'body') return { ok: true, token: req.body.toString('latin1').trim() };
  if (place.kind === 'json') {
    const t = jsonPath(parseJson(req.body), place.path);
    return t === undefined ? { ok: false, v: fail('signature_missing', `the body has no ${place.path} token`) } : { ok: true, token: t };
  }
  const h = single(req.headers, place.name);
  if (!h.ok) return { ok: false, v: fail(h.code, h.message) };
  if (!place.bearer) return { ok: true, token: h.value.trim() };
  const m = /^Bearer +(\S+)$/i.exec(h.value.trim());
  return m ? { ok: true, token: m[1]! } : { ok: false, v: fail('malformed', `header ${place.name} is not "Bearer <token>"`) };
}

const numeric = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Verifies a delivery's JWT. Keys: the route's prepared secrets (one list per secret, for the rotation
 * index), or the JWKS set resolved by the stage (`fetched`, index 0). Signature first, then the claims:
 * a forger learns nothing about our clock, issuer or audience.
 */
export function verifyJwt(def: JwtProvider, req: SignedRequest, keys: readonly JwtKey[][], opts: SchemeOptions, nowMs: number, fetched?: unknown): Verdict {
  const j = opts.jwt;
  if (!j) return fail('signature_invalid', 'the route has no jwt settings');
  const t = tokenOf(req, j.token);
  if (!t.ok) return t.v;
  const jws = j.detached ? parseDetachedUnencoded(t.token, req.body) : parseCompact(t.token);
  if (!jws) return fail('malformed', j.detached ? 'the signature is not a detached JWS with b64: false (header..signature)' : 'the token is not a compact JWS (header.payload.signature)');
  const problem = headerProblem(jws, j.algorithms, j.detached);
  if (problem) return fail('signature_invalid', problem);
  const alg = jws.alg as JwsAlg;
  const lists: readonly (readonly JwtKey[])[] = keys.length ? keys : Array.isArray(fetched) ? [fetched as JwtKey[]] : [];
  let found = -1;
  for (let i = 0; i < lists.length && found < 0; i++) {
    for (const k of lists[i]!) {
      // a kid narrows the JWKS; keys without one (a PEM, a secret) are tried whatever the token names
      if (jws.kid !== undefined && k.kid !== undefined && k.kid !== jws.kid) continue;
      if (keyFits(alg, k) && verifySignature(alg, k.key, jws.signingInput, jws.signature)) {
        found = i;
        break;
      }
    }
  }
  if (found < 0) return invalid('token signature');
  if (j.detached) {
    // the payload is the body (signed as is); the only claim is the protected header's ts
    const ts = numeric(jws.header.ts);
    if (ts === null) return fail('malformed', 'the signature header has no numeric ts');
    if (Math.abs(nowMs - ts * 1000) > opts.toleranceMs) return outOfTolerance();
    const id = idOf(def, req.body);
    return id === undefined ? { ok: true, secretIndex: found, timestamp: ts * 1000 } : { ok: true, secretIndex: found, timestamp: ts * 1000, id };
  }
  const claims = parseJson(jws.payload);
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return fail('malformed', 'the token payload is not a JSON object');
  const c = claims as Record<string, unknown>;

  const skew = opts.toleranceMs;
  const exp = numeric(c.exp);
  const nbf = numeric(c.nbf);
  const iat = numeric(c.iat);
  if ((c.exp !== undefined && exp === null) || (c.nbf !== undefined && nbf === null) || (c.iat !== undefined && iat === null)) return fail('malformed', 'the token has a non-numeric exp, nbf or iat');
  if (j.expRequired && exp === null) return fail('signature_invalid', 'the token has no exp claim');
  if (exp !== null && nowMs > exp * 1000 + skew) return outOfTolerance();
  if (nbf !== null && nowMs < nbf * 1000 - skew) return outOfTolerance();
  if (j.iatWindow) {
    if (iat === null) return fail('signature_invalid', 'the token has no iat claim');
    if (Math.abs(nowMs - iat * 1000) > skew) return outOfTolerance();
  } else if (iat !== null && iat * 1000 > nowMs + skew) return outOfTolerance();
  if (j.issuer && !(typeof c.iss === 'string' && j.issuer.includes(c.iss))) return fail('signature_invalid', 'the token was issued by another issuer than the route allows');
  if (j.audience) {
    const aud = typeof c.aud === 'string' ? [c.aud] : Array.isArray(c.aud) ? c.aud : [];
    if (!aud.some((a) => typeof a === 'string' && j.audience!.includes(a))) return fail('signature_invalid', 'the token is for another audience than the route');
  }
  if (j.bodyHash) {
    const v = c[j.bodyHash.claim];
    const claimed = typeof v === 'string' ? (j.bodyHash.encoding === 'hex' ? decodeHex(v.toLowerCase()) : decodeBase64(v)) : null;
    if (!claimed) return fail('signature_invalid', `the token has no ${j.bodyHash.claim} claim`);
    if (!safeEqual(claimed, sha256(req.body))) return fail('signature_invalid', `the body does not match the token's ${j.bodyHash.claim}`);
  }
  const out: Verdict = { ok: true, secretIndex: found };
  if (iat !== null) out.timestamp = iat * 1000;
  const id = idOf(def, req.body);
  if (id !== undefined) out.id = id;
  return out;
}

/** True when the route's token covers the body (a hash claim, or the body is the token). */
export function coversBody(j: JwtOptions | undefined): boolean {
  return !!j && (j.bodyHash !== null || j.token.kind === 'body' || j.detached);
}

export function jwtScheme(def: JwtProvider): Scheme<JwtKey[]> {
  const signer = (input: { secret: string; body: Buffer; url: string; timestamp: number }) => {
    if (def.algorithms.length === 0) throw new Error(`${def.name}: routes are configured per route (jwt.token, jwt.algorithms, claims); sign with jose and the route's settings`);
    const text = input.secret.trim();
    let key: KeyObject;
    try {
      key = def.algorithms.every(isSymmetric) ? createSecretKey(Buffer.from(input.secret, 'utf8')) : createPrivateKey(text);
    } catch {
      throw new Error(`${def.name}: signing needs a PEM private key for ${def.algorithms.join('/')} (or @FILE holding one)`);
    }
    const alg = algFor(key);
    if (!def.algorithms.includes(alg)) throw new Error(`${def.name}: signing needs a key for ${def.algorithms.join('/')} (${def.algorithms.every(isSymmetric) ? 'the shared secret' : 'a PEM private key, or @FILE'})`);
    if (def.detached) return signCompact({ alg, b64: false, crit: ['b64'], ts: input.timestamp }, input.body, key);
    const claims: Record<string, unknown> = { iat: input.timestamp, exp: input.timestamp + 300 };
    if (def.issuer) claims.iss = def.issuer[0];
    if (def.bodyHash) claims[def.bodyHash.claim] = sha256(input.body).toString(def.bodyHash.encoding);
    Object.assign(claims, def.claims?.(input.body, input.url));
    return signCompact({ alg, typ: 'JWT' }, claims, key);
  };
  const scheme: Scheme<JwtKey[]> = {
    name: def.name,
    docs: def.docs,
    info: jwtInfo(def),
    signedHeaders: [],
    signsBody: def.bodyHash !== null || def.token.kind !== 'header' || !!def.detached,
    asymmetric: !def.algorithms.every(isSymmetric),
    key: (secret, opts) => jwtKeys(secret, opts, def.name),
    verify: (req, keys, opts, nowMs, fetched) => verifyJwt(def, req, keys, opts, nowMs, fetched),
    coverageOf: (opts): Coverage => ({ body: coversBody(opts.jwt), headers: [] }),
    needsSecrets: (opts) => !opts.jwt?.jwksUrl,
    remote(opts, fetcher): RemoteKeys {
      const j = opts.jwt;
      const url = j?.jwksUrl;
      if (!j || !url) return { resolve: () => ({ ok: true, material: [] }) };
      const cache = new JwksCache({ url, fetcher, limits: DEFAULT_LIMITS, minRefreshMs: 30_000, maxAgeMs: 3_600_000 });
      return {
        resolve(req, nowMs) {
          // only the token's kid is read here (unverified): it decides whether a refresh may help
          const t = tokenOf(req, j.token);
          const jws = t.ok ? parseCompact(t.token) : null;
          if (!jws) return { ok: true, material: [] }; // verify() reports the malformed token
          return cache.resolve(jws.kid, nowMs);
        },
      };
    },
    sign(input) {
      const token = signer(input);
      if (def.token.kind !== 'header') return { 'Content-Type': 'application/jwt' };
      return { [def.token.name]: def.token.bearer ? `Bearer ${token}` : token };
    },
  };
  if (def.handshake) (scheme as { handshake?: string }).handshake = def.handshake;
  if (def.token.kind === 'body') scheme.signBody = (input) => Buffer.from(signer(input));
  if (def.warnings) (scheme as { warnings?: readonly string[] }).warnings = def.warnings;
  return scheme;
}

/** The provider's defaults as route options (a route's `jwt:` block is merged over them in src/config/jwt.ts). */
export function providerDefaults(def: JwtProvider): JwtOptions {
  return {
    token: def.token,
    algorithms: def.algorithms,
    issuer: def.issuer ?? null,
    audience: null,
    bodyHash: def.bodyHash,
    iatWindow: def.iatWindow,
    expRequired: def.expRequired ?? false,
    jwksUrl: def.jwks ? new URL(def.jwks.url) : null,
    detached: def.detached ?? false,
  };
}
