// A route's `jwt:` block, validated once: merged over the provider's facts (src/providers/jwt-providers.ts),
// refused with a message naming the field where it would weaken them.
import type { RawRoute } from './schema.js';
import { isSymmetric, type JwsAlg } from '../providers/jws.js';
import { coversBody, providerDefaults, type JwtOptions, type TokenPlace } from '../providers/jwt.js';
import { JWT_PROVIDERS } from '../providers/jwt-providers.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const list = (v: string | string[] | undefined): string[] | null => (v === undefined ? null : Array.isArray(v) ? v : [v]);

function tokenPlace(s: string): TokenPlace {
  if (s === 'bearer') return { kind: 'header', name: 'authorization', bearer: true };
  if (s === 'body') return { kind: 'body' };
  if (s.startsWith('json:')) return { kind: 'json', path: s.slice(5) };
  return { kind: 'header', name: s.slice(7).toLowerCase(), bearer: false };
}

/** The route's JWT settings, or undefined for other providers; problems and warnings are pushed with their field. */
export function resolveJwt(raw: RawRoute, at: string, problems: string[], warnings: string[]): JwtOptions | undefined {
  const def = JWT_PROVIDERS[raw.provider];
  const block = raw.jwt;
  if (!def) {
    if (block) problems.push(`${at}.jwt: only allowed with a JWT provider (${Object.keys(JWT_PROVIDERS).join(', ')})`);
    return undefined;
  }
  const o = providerDefaults(def);
  const generic = def.algorithms.length === 0;
  const b = block ?? {};
  const before = problems.length;

  if (b.token !== undefined) {
    if (generic) o.token = tokenPlace(b.token);
    else problems.push(`${at}.jwt.token: ${raw.provider} sends its token in a fixed place; remove it`);
  }
  if (b.algorithms) {
    const extra = b.algorithms.filter((a) => !generic && !def.algorithms.includes(a as JwsAlg));
    if (extra.length) problems.push(`${at}.jwt.algorithms: ${raw.provider} signs with ${def.algorithms.join(', ')}; ${extra.join(', ')} would only widen what a forger may use`);
    o.algorithms = b.algorithms as JwsAlg[];
  } else if (generic) problems.push(`${at}.jwt.algorithms: is required for provider jwt (e.g. [RS256], or [HS256] with a shared secret)`);
  // One route holds either shared secrets or public keys: mixing them is how an RSA public key ends up
  // verifying an HS256 token (algorithm confusion, RFC 8725 §2.1).
  if (o.algorithms.some(isSymmetric) && !o.algorithms.every(isSymmetric))
    problems.push(`${at}.jwt.algorithms: mixes HS* (shared secret) with public-key algorithms; a route verifies with one kind of key, so split it into two routes`);

  const iss = list(b.issuer);
  if (iss) {
    if (def.issuer && !iss.every((i) => def.issuer!.includes(i))) problems.push(`${at}.jwt.issuer: ${raw.provider} tokens are issued by ${def.issuer.join(' or ')}`);
    else o.issuer = iss;
  }
  if (def.issuerRequired && !iss)
    problems.push(`${at}.jwt.issuer: is required for ${raw.provider}: one key set signs tokens for every Entra ID tenant, and only the issuer (https://sts.windows.net/<tenant id>/ or https://login.microsoftonline.com/<tenant id>/v2.0) says the token is your tenant's`);
  o.audience = list(b.audience);
  if (def.audienceRequired && !o.audience)
    problems.push(`${at}.jwt.audience: is required for ${raw.provider}: its tokens are signed for every customer, and only the audience (${raw.provider === 'google-pubsub' ? "the subscription's audience, by default the push endpoint URL" : 'your app id or app id URI'}) says a token is for this route`);

  if (b.bodyHashClaim !== undefined || b.bodyHashEncoding !== undefined) {
    if (!generic) problems.push(`${at}.jwt.bodyHashClaim: ${raw.provider} names its own body-hash claim; remove it`);
    else if (b.bodyHashClaim) o.bodyHash = { claim: b.bodyHashClaim, encoding: b.bodyHashEncoding ?? 'hex' };
    else problems.push(`${at}.jwt.bodyHashEncoding: needs bodyHashClaim`);
  }
  if (b.requireIat !== undefined) {
    if (def.iatWindow && !b.requireIat) problems.push(`${at}.jwt.requireIat: ${raw.provider} signs iat, and the window is what refuses old captures; remove it`);
    else o.iatWindow = b.requireIat;
  }

  if (b.jwksUrl !== undefined) {
    const url = new URL(b.jwksUrl);
    if (o.algorithms.every(isSymmetric)) problems.push(`${at}.jwt.jwksUrl: HS* tokens are verified with a shared secret (secrets), never with published keys`);
    else if (url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) problems.push(`${at}.jwt.jwksUrl: must be https (http only on loopback), got ${url.origin}`);
    else if (def.jwks && !def.jwks.origins.includes(url.origin)) problems.push(`${at}.jwt.jwksUrl: ${raw.provider} publishes its keys on ${def.jwks.origins.join(', ')}, not ${url.origin}`);
    else if (url.username || url.password) problems.push(`${at}.jwt.jwksUrl: must not carry credentials`);
    else o.jwksUrl = url;
  }
  if (raw.secrets !== undefined) {
    if (b.jwksUrl !== undefined) warnings.push(`${at}.jwt.jwksUrl: not used: the route's secrets are its keys, and nothing is fetched; remove one of them`);
    o.jwksUrl = null; // configured keys win
  }
  else if (!o.jwksUrl) problems.push(`${at}.secrets: is required (${o.algorithms.every(isSymmetric) ? 'the shared secret' : 'public keys as PEM, JWK or JWKS JSON'}), or set jwt.jwksUrl`);
  if (problems.length > before) return undefined;

  if (!coversBody(o) && !def.warnings)
    warnings.push(`${at}: the ${raw.provider} token does not cover the body (no jwt.bodyHashClaim): it proves who sent the request, not what it holds; the key is the body's digest and json: keys and tenants are refused`);
  // no signed time (no iat window, no detached ts): load.ts's replay warning says so, from these options
  return o;
}
