// Compact JWS (RFC 7515) verified synchronously with node:crypto, so the jwt family stays a pure,
// synchronous verifier like every other scheme. What this file refuses is the point of it:
//   - `alg: none` and any algorithm outside the route's list (RFC 8725 §3.1, §2.1);
//   - a key of the wrong type for the algorithm: HS* only with a shared secret, RS*/PS* only with RSA
//     (2048 bits or more), ES* only with its own curve, EdDSA only with Ed25519/Ed448. So an RSA public
//     key can never be used as an HMAC secret (the "alg confusion" attack, RFC 8725 §2.1);
//   - header parameters that name their own key (`jku`, `x5u`, `jwk`, `x5c`) are never read: keys come
//     only from the route's configuration or its configured JWKS URL;
//   - `crit` (extensions we do not implement must be refused, RFC 7515 §4.1.11), `b64: false`.
import { constants, createHmac, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { safeEqual } from './primitives.js';

export const JWS_ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type JwsAlg = (typeof JWS_ALGS)[number];

export const isSymmetric = (alg: JwsAlg): boolean => alg.startsWith('HS');

/** One verification key: from a route secret (PEM, JWK, shared secret) or a JWKS document. */
export interface JwtKey {
  key: KeyObject;
  /** the JWK's `kid`, when it has one */
  kid?: string;
  /** the JWK's `alg`, when it pins one */
  alg?: string;
}

export interface ParsedJws {
  header: Record<string, unknown>;
  alg: string;
  kid: string | undefined;
  payload: Buffer;
  signingInput: Buffer;
  signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function b64url(s: string): Buffer | null {
  return B64URL.test(s) && s.length % 4 !== 1 ? Buffer.from(s, 'base64url') : null;
}

function jsonObject(b: Buffer): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(b.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Splits and decodes a compact JWS; null when it is not one (three base64url parts, a JSON header with an `alg`). */
export function parseCompact(token: string): ParsedJws | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const headerBytes = b64url(h);
  const payload = b64url(p);
  const signature = b64url(s);
  if (!headerBytes || !payload || !signature || h === '') return null;
  const header = jsonObject(headerBytes);
  if (!header || typeof header.alg !== 'string') return null;
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  return { header, alg: header.alg, kid, payload, signingInput: Buffer.from(`${h}.${p}`, 'ascii'), signature };
}

/**
 * A detached JWS with an unencoded payload (RFC 7797: `b64: false`, `crit: ["b64"]`), the body being
 * the payload: `header..signature`, signing input `header` + `.` + the raw body (Constant Contact).
 */
export function parseDetachedUnencoded(token: string, body: Buffer): ParsedJws | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] !== '') return null;
  const [h, , s] = parts as [string, string, string];
  const headerBytes = b64url(h);
  const signature = b64url(s);
  if (!headerBytes || !signature || h === '') return null;
  const header = jsonObject(headerBytes);
  if (!header || typeof header.alg !== 'string') return null;
  // exactly the RFC 7797 extension, marked critical as it must be; anything else is not this format
  if (header.b64 !== false || !Array.isArray(header.crit) || header.crit.length !== 1 || header.crit[0] !== 'b64') return null;
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  return { header, alg: header.alg, kid, payload: body, signingInput: Buffer.concat([Buffer.from(`${h}.`, 'ascii'), body]), signature };
}

/** Why a parsed header is refused before any key is tried, or null. `unencoded`: an RFC 7797 token parsed by parseDetachedUnencoded. */
export function headerProblem(jws: ParsedJws, allowed: readonly JwsAlg[], unencoded = false): string | null {
  if (jws.alg === 'none' || !(allowed as readonly string[]).includes(jws.alg)) return `algorithm ${JSON.stringify(jws.alg).slice(0, 20)} is not allowed on this route`;
  if (unencoded) return null;
  if (jws.header.crit !== undefined) return 'the token has critical header extensions, which are not supported';
  if (jws.header.b64 !== undefined) return 'unencoded (b64) payloads are not supported';
  return null;
}

const CURVE: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const SIG_LEN: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 };

/** The key may be used with the algorithm (the defence against algorithm confusion). */
export function keyFits(alg: JwsAlg, k: JwtKey): boolean {
  if (k.alg !== undefined && k.alg !== alg) return false;
  const key = k.key;
  if (isSymmetric(alg)) return key.type === 'secret';
  if (key.type !== 'public') return false;
  const type = key.asymmetricKeyType;
  if (alg.startsWith('RS') || alg.startsWith('PS')) {
    const ok = type === 'rsa' || (alg.startsWith('PS') && type === 'rsa-pss');
    return ok && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  }
  if (alg.startsWith('ES')) return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE[alg];
  return alg === 'EdDSA' && (type === 'ed25519' || type === 'ed448');
}

const hashOf = (alg: JwsAlg): string => (alg === 'EdDSA' ? '' : `sha${alg.slice(2)}`);

/** Verifies the signature with one key that fits the algorithm (checked by the caller). */
export function verifySignature(alg: JwsAlg, key: KeyObject, input: Buffer, sig: Buffer): boolean {
  try {
    if (isSymmetric(alg)) return safeEqual(createHmac(hashOf(alg), key).update(input).digest(), sig);
    if (alg === 'EdDSA') return cryptoVerify(null, input, key, sig);
    if (alg.startsWith('ES')) return sig.length === SIG_LEN[alg] && cryptoVerify(hashOf(alg), input, { key, dsaEncoding: 'ieee-p1363' }, sig);
    if (alg.startsWith('PS')) return cryptoVerify(hashOf(alg), input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
    return cryptoVerify(hashOf(alg), input, key, sig);
  } catch {
    return false; // a signature of the wrong shape: not a match
  }
}

/** The algorithm a private key signs with by default (hookgate sign). */
export function algFor(key: KeyObject): JwsAlg {
  if (key.type === 'secret') return 'HS256';
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec': {
      const alg = Object.keys(CURVE).find((a) => CURVE[a] === key.asymmetricKeyDetails?.namedCurve);
      if (alg) return alg as JwsAlg;
    }
  }
  throw new Error('the key is not one JWS signs with (an HMAC secret, RSA, EC P-256/384/521 or Ed25519)');
}

/** A compact JWS of a JSON payload (hookgate sign; tests sign with jose instead); `detached`: RFC 7797 over raw bytes, `header..signature`. */
export function signCompact(header: Record<string, unknown>, payload: Record<string, unknown> | Buffer, key: KeyObject): string {
  const alg = header.alg as JwsAlg;
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  if (Buffer.isBuffer(payload)) {
    const sig = rawSign(alg, Buffer.concat([Buffer.from(`${h}.`), payload]), key);
    return `${h}..${sig.toString('base64url')}`;
  }
  const input = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${rawSign(alg, Buffer.from(input), key).toString('base64url')}`;
}

function rawSign(alg: JwsAlg, input: Buffer, key: KeyObject): Buffer {
  let sig: Buffer;
  if (isSymmetric(alg)) sig = createHmac(hashOf(alg), key).update(input).digest();
  else if (alg === 'EdDSA') sig = cryptoSign(null, input, key);
  else if (alg.startsWith('ES')) sig = cryptoSign(hashOf(alg), input, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg.startsWith('PS')) sig = cryptoSign(hashOf(alg), input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  else sig = cryptoSign(hashOf(alg), input, key);
  return sig;
}
