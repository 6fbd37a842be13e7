// The JWT family's verifier, pure: tokens signed by jose (the reference JOSE library, not hookgate's
// signer), each named provider's genuine delivery and forgeries, and the JWT attacks (RFC 8725): alg none,
// HS256 keyed with the route's RSA public key (algorithm confusion), an algorithm the route did not allow,
// wrong iss/aud, expired, a body that does not match the token's hash claim, a key named by the token
// itself (jku/jwk). jose also verifies what `hookgate sign` makes (both directions).
import t from 'tap';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT, jwtVerify, CompactSign, FlattenedSign, flattenedVerify } from 'jose';
import { getScheme } from '../../src/providers/index.js';
import { resolveJwt } from '../../src/config/jwt.js';
import type { RawRoute } from '../../src/config/schema.js';
import type { SchemeOptions, SignedRequest, Verdict } from '../../src/providers/types.js';

const NOW_S = 1_700_000_000;
const NOW = NOW_S * 1000;
const BODY = Buffer.from('{"event":{"id":"e-1","type":"user.create"},"webhook_code":"DEFAULT_UPDATE"}\r\n');
const sha = (b: Buffer) => createHash('sha256').update(b).digest();

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const RSA = rsa();
const RSA2 = rsa();
const EC = ec();
const EC2 = ec();
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'spki' }).toString();
const jwk = (k: KeyObject, kid?: string) => JSON.stringify({ ...k.export({ format: 'jwk' }), ...(kid ? { kid } : {}) });

/** Route options for a provider, through the same resolver as config load. */
function opts(provider: string, jwt?: RawRoute['jwt'], secrets = true): SchemeOptions {
  const problems: string[] = [];
  const raw = { path: '/h', provider, methods: ['POST'], tenant: 'acme', tolerance: '5m', idempotencyKey: 'default', ...(secrets ? { secrets: ['x'] } : {}), ...(jwt ? { jwt } : {}) } as RawRoute;
  const j = resolveJwt(raw, 'routes[0]', problems, []);
  if (problems.length) throw new Error(problems.join('; '));
  return { toleranceMs: 300_000, publicUrl: null, jwt: j! };
}

function verify(provider: string, secrets: string[], headers: Record<string, string>, body = BODY, o = opts(provider), now = NOW): Verdict {
  const scheme = getScheme(provider)!;
  const keys = secrets.map((s) => scheme.key(s, o));
  const req: SignedRequest = { method: 'POST', url: '/h', headers, body };
  return scheme.verify(req, keys, o, now);
}

const hs = (secret: string) => new TextEncoder().encode(secret);

t.test('plaid: ES256 with request_body_sha256 (hex) and iat; the key is the JWK from Plaid', async (t) => {
  const token = await new SignJWT({ request_body_sha256: sha(BODY).toString('hex') }).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' }).setIssuedAt(NOW_S).sign(EC.privateKey);
  const key = jwk(EC.publicKey, 'k1');
  t.same(verify('plaid', [key], { 'plaid-verification': token }), { ok: true, secretIndex: 0, timestamp: NOW });
  t.match(verify('plaid', [jwk(EC2.publicKey, 'k2'), key], { 'plaid-verification': token }), { ok: true, secretIndex: 1 }, 'rotation: the second key matches');
  t.match(verify('plaid', [jwk(EC2.publicKey)], { 'plaid-verification': token }), { ok: false, code: 'signature_invalid' }, "another key's token");
  t.match(verify('plaid', [key], { 'plaid-verification': token }, Buffer.from(BODY.toString().replace('e-1', 'e-2'))), { ok: false, code: 'signature_invalid', message: /request_body_sha256/ }, 'a changed body');
  t.match(verify('plaid', [key], { 'plaid-verification': token }, BODY, opts('plaid'), NOW + 301_000), { ok: false, code: 'timestamp_out_of_tolerance' }, 'iat older than 5 minutes');
  t.match(verify('plaid', [key], {}), { ok: false, code: 'signature_missing' });
  t.match(verify('plaid', [key], { 'plaid-verification': 'not.a.jwt!' }), { ok: false, code: 'malformed' });
  const noIat = await new SignJWT({ request_body_sha256: sha(BODY).toString('hex') }).setProtectedHeader({ alg: 'ES256' }).sign(EC.privateKey);
  t.match(verify('plaid', [key], { 'plaid-verification': noIat }), { ok: false, code: 'signature_invalid', message: /iat/ }, 'a token without iat');
});

t.test('netlify: HS256 with iss netlify and the body sha256 (hex)', async (t) => {
  const sign = (iss: string, secret = 'netlify-jws-secret') => new SignJWT({ sha256: sha(BODY).toString('hex') }).setProtectedHeader({ alg: 'HS256' }).setIssuer(iss).sign(hs(secret));
  t.same(verify('netlify', ['netlify-jws-secret'], { 'x-webhook-signature': await sign('netlify') }), { ok: true, secretIndex: 0 });
  t.match(verify('netlify', ['netlify-jws-secret'], { 'x-webhook-signature': await sign('someone-else') }), { ok: false, code: 'signature_invalid', message: /issuer/ }, 'wrong iss');
  t.match(verify('netlify', ['netlify-jws-secret'], { 'x-webhook-signature': await sign('netlify', 'other') }), { ok: false, code: 'signature_invalid' }, 'wrong secret');
});

t.test('vonage: Authorization: Bearer HS256 with payload_hash and iat', async (t) => {
  const token = await new SignJWT({ payload_hash: sha(BODY).toString('hex'), api_key: 'abc' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(NOW_S).setJti('j1').sign(hs('vonage-signature-secret'));
  t.same(verify('vonage', ['vonage-signature-secret'], { authorization: `Bearer ${token}` }), { ok: true, secretIndex: 0, timestamp: NOW });
  t.match(verify('vonage', ['vonage-signature-secret'], { authorization: token }), { ok: false, code: 'malformed' }, 'not a Bearer value');
  t.match(verify('vonage', ['vonage-signature-secret'], { authorization: `Bearer ${token}` }, Buffer.from('{}')), { ok: false, code: 'signature_invalid' }, 'body hash mismatch');
});

t.test('fusionauth: RS256 (PEM or JWKS JSON) with request_body_sha256 (base64); the id is the signed body event.id', async (t) => {
  const token = await new SignJWT({ request_body_sha256: sha(BODY).toString('base64') }).setProtectedHeader({ alg: 'RS256', kid: 'fa' }).sign(RSA.privateKey);
  t.same(verify('fusionauth', [pem(RSA.publicKey)], { 'x-fusionauth-signature-jwt': token }), { ok: true, secretIndex: 0, id: 'e-1' });
  const jwks = JSON.stringify({ keys: [JSON.parse(jwk(RSA2.publicKey, 'other')), JSON.parse(jwk(RSA.publicKey, 'fa'))] });
  t.match(verify('fusionauth', [jwks], { 'x-fusionauth-signature-jwt': token }), { ok: true, id: 'e-1' }, 'a JWKS document as the secret');
  const hmacToken = await new SignJWT({ request_body_sha256: sha(BODY).toString('base64') }).setProtectedHeader({ alg: 'HS512' }).sign(hs('fa-hmac-key'));
  t.match(verify('fusionauth-hmac', ['fa-hmac-key'], { 'x-fusionauth-signature-jwt': hmacToken }), { ok: true, id: 'e-1' }, 'an HMAC key');
});

t.test('google-pubsub and bot-framework: the token proves the sender, not the body (no id, coverage without the body)', async (t) => {
  const aud = 'https://hooks.example.com/push';
  const o = opts('google-pubsub', { audience: aud });
  const token = (a: string, iss = 'https://accounts.google.com', exp = NOW_S + 3600) =>
    new SignJWT({ email: 'push@example.iam.gserviceaccount.com' }).setProtectedHeader({ alg: 'RS256', kid: 'g1' }).setIssuer(iss).setAudience(a).setIssuedAt(NOW_S).setExpirationTime(exp).sign(RSA.privateKey);
  const v = verify('google-pubsub', [pem(RSA.publicKey)], { authorization: `Bearer ${await token(aud)}` }, BODY, o);
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW }, 'no id: the key is the digest of the body');
  t.match(verify('google-pubsub', [pem(RSA.publicKey)], { authorization: `Bearer ${await token(aud)}` }, Buffer.from('anything'), o), { ok: true }, 'any body passes with a genuine token: what check warns about');
  t.same(getScheme('google-pubsub')!.coverageOf!(o), { body: false, headers: [] });
  t.match(verify('google-pubsub', [pem(RSA.publicKey)], { authorization: `Bearer ${await token('https://other.example.com/push')}` }, BODY, o), { ok: false, code: 'signature_invalid', message: /audience/ }, 'a token for another audience');
  t.match(verify('google-pubsub', [pem(RSA.publicKey)], { authorization: `Bearer ${await token(aud, 'https://evil.example.com')}` }, BODY, o), { ok: false, code: 'signature_invalid', message: /issuer/ }, 'another issuer');
  t.match(verify('google-pubsub', [pem(RSA.publicKey)], { authorization: `Bearer ${await token(aud, undefined, NOW_S - 301)}` }, BODY, o), { ok: false, code: 'timestamp_out_of_tolerance' }, 'expired beyond the clock tolerance');
  const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer('https://accounts.google.com').setAudience(aud).sign(RSA.privateKey);
  t.match(verify('google-pubsub', [pem(RSA.publicKey)], { authorization: `Bearer ${noExp}` }, BODY, o), { ok: false, message: /exp/ }, 'a token without exp');
  const bo = opts('bot-framework', { audience: 'bot-app-id' });
  const bot = await new SignJWT({ serviceurl: 'https://smba.trafficmanager.net/' }).setProtectedHeader({ alg: 'RS256' }).setIssuer('https://api.botframework.com').setAudience('bot-app-id').setExpirationTime(NOW_S + 600).sign(RSA.privateKey);
  t.same(verify('bot-framework', [pem(RSA.publicKey)], { authorization: `Bearer ${bot}` }, BODY, bo), { ok: true, secretIndex: 0 });
});

t.test('attack: alg none is refused, whatever the route allows', async (t) => {
  const none = new UnsecuredJWT({ request_body_sha256: sha(BODY).toString('base64') }).encode();
  t.match(verify('fusionauth', [pem(RSA.publicKey)], { 'x-fusionauth-signature-jwt': none }), { ok: false, code: 'signature_invalid', message: /not allowed/ });
  t.match(verify('fusionauth-hmac', ['k'], { 'x-fusionauth-signature-jwt': none }), { ok: false, code: 'signature_invalid' });
  // "None"/"NONE" spellings too
  const header = Buffer.from('{"alg":"None"}').toString('base64url');
  t.match(verify('fusionauth', [pem(RSA.publicKey)], { 'x-fusionauth-signature-jwt': `${header}.${none.split('.')[1]}.` }), { ok: false });
});

t.test('attack: HS256 keyed with the route\'s RSA public key (algorithm confusion) is refused', async (t) => {
  const publicPem = pem(RSA.publicKey);
  // what a naive verifier that takes the route's key bytes as the HMAC secret would accept
  const forged = await new SignJWT({ request_body_sha256: sha(BODY).toString('base64') }).setProtectedHeader({ alg: 'HS256' }).sign(hs(publicPem));
  t.match(verify('fusionauth', [publicPem], { 'x-fusionauth-signature-jwt': forged }), { ok: false, code: 'signature_invalid' }, 'HS256 is not among the route\'s algorithms');
  // even on a generic route that lists HS256 and RS256, load refuses the mix, and the key type check refuses the use
  t.throws(() => opts('jwt', { token: 'header:x-sig', algorithms: ['RS256', 'HS256'] }), /mixes HS\* \(shared secret\) with public-key/);
  const generic = opts('jwt', { token: 'header:x-sig', algorithms: ['RS256'] });
  const widened = { ...generic, jwt: { ...generic.jwt!, algorithms: ['RS256', 'HS256'] as const } } as SchemeOptions;
  t.match(verify('jwt', [publicPem], { 'x-sig': forged }, BODY, widened), { ok: false, code: 'signature_invalid' }, 'an RSA key never verifies an HMAC');
});

t.test('attack: an algorithm the route did not allow is refused, even with the right key', async (t) => {
  const ps = await new SignJWT({ request_body_sha256: sha(BODY).toString('base64') }).setProtectedHeader({ alg: 'PS256' }).sign(RSA.privateKey);
  t.match(verify('fusionauth', [pem(RSA.publicKey)], { 'x-fusionauth-signature-jwt': ps }), { ok: false, code: 'signature_invalid', message: /PS256.*not allowed/ });
  const o = opts('jwt', { token: 'header:x-sig', algorithms: ['RS256'], bodyHashClaim: 'h', bodyHashEncoding: 'base64' });
  const tok = await new SignJWT({ h: sha(BODY).toString('base64') }).setProtectedHeader({ alg: 'RS512' }).sign(RSA.privateKey);
  t.match(verify('jwt', [pem(RSA.publicKey)], { 'x-sig': tok }, BODY, o), { ok: false, code: 'signature_invalid' }, 'RS512 on an RS256 route');
  t.throws(() => opts('plaid', { algorithms: ['ES256', 'RS256'] }), /RS256 would only widen/);
});

t.test('attack: a key named by the token itself (jwk, jku) is never used', async (t) => {
  const attacker = ec();
  const forged = await new CompactSign(Buffer.from(JSON.stringify({ request_body_sha256: sha(BODY).toString('hex'), iat: NOW_S })))
    .setProtectedHeader({ alg: 'ES256', jwk: JSON.parse(jwk(attacker.publicKey)), jku: 'https://evil.example.com/jwks.json' })
    .sign(attacker.privateKey);
  t.match(verify('plaid', [jwk(EC.publicKey)], { 'plaid-verification': forged }), { ok: false, code: 'signature_invalid' });
  const crit = await new CompactSign(Buffer.from('{}')).setProtectedHeader({ alg: 'ES256', crit: ['exp'], exp: 1 } as never).sign(EC.privateKey).catch(() => null);
  if (crit) t.match(verify('plaid', [jwk(EC.publicKey)], { 'plaid-verification': crit }), { ok: false });
});

t.test('config: the route\'s jwt block is validated with the field named', async (t) => {
  t.throws(() => opts('google-pubsub'), /jwt\.audience: is required for google-pubsub/);
  t.throws(() => opts('netlify', { issuer: 'me' }), /jwt\.issuer: netlify tokens are issued by netlify/);
  t.throws(() => opts('jwt', { token: 'bearer' }), /jwt\.algorithms: is required for provider jwt/);
  t.throws(() => opts('plaid', { bodyHashClaim: 'x' }), /names its own body-hash claim/);
  t.throws(() => opts('google-pubsub', { audience: 'a', jwksUrl: 'https://evil.example.com/certs' }, false), /publishes its keys on https:\/\/www\.googleapis\.com, not https:\/\/evil\.example\.com/);
  t.throws(() => opts('jwt', { algorithms: ['RS256'], jwksUrl: 'http://keys.example.com/jwks' }, false), /must be https/);
  t.throws(() => opts('jwt', { algorithms: ['HS256'], jwksUrl: 'https://keys.example.com/jwks' }, false), /never with published keys/);
  t.throws(() => opts('jwt', { algorithms: ['RS256'] }, false), /secrets: is required/);
  t.throws(() => opts('plaid', { requireIat: false }), /requireIat/);
  t.ok(opts('jwt', { algorithms: ['RS256'], jwksUrl: 'http://127.0.0.1:1/jwks' }, false).jwt!.jwksUrl, 'http on loopback');
  const warnings: string[] = [];
  resolveJwt({ path: '/h', provider: 'jwt', secrets: ['x'], jwt: { algorithms: ['HS256'] } } as RawRoute, 'routes[0]', [], warnings);
  t.match(warnings.join('\n'), /does not cover the body.*digest/);
  t.notMatch(warnings.join('\n'), /ledger\.retention/, 'no signed time: said once, by the route check (test/cli/check.test.ts)');
  t.throws(() => getScheme('plaid')!.key('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----', opts('plaid')), /private key was given/);
});

t.test('hookgate sign makes tokens jose verifies (both directions)', async (t) => {
  const input = { body: BODY, url: 'https://hooks.example.com/push', method: 'POST', timestamp: NOW_S, id: 'x' };
  const vonage = getScheme('vonage')!.sign({ ...input, secret: 'vonage-signature-secret' });
  const { payload } = await jwtVerify(vonage.authorization!.slice(7), hs('vonage-signature-secret'), { algorithms: ['HS256'], currentDate: new Date(NOW) });
  t.equal(payload.payload_hash, sha(BODY).toString('hex'));
  t.same(verify('vonage', ['vonage-signature-secret'], { authorization: vonage.authorization! }), { ok: true, secretIndex: 0, timestamp: NOW });

  const plaid = getScheme('plaid')!.sign({ ...input, secret: EC.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
  await jwtVerify(plaid['plaid-verification']!, EC.publicKey, { algorithms: ['ES256'], currentDate: new Date(NOW) });
  t.match(verify('plaid', [pem(EC.publicKey)], { 'plaid-verification': plaid['plaid-verification']! }), { ok: true });

  const g = getScheme('google-pubsub')!.sign({ ...input, secret: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
  await jwtVerify(g.authorization!.slice(7), RSA.publicKey, { algorithms: ['RS256'], audience: input.url, issuer: 'https://accounts.google.com', currentDate: new Date(NOW) });
  t.match(verify('google-pubsub', [pem(RSA.publicKey)], { authorization: g.authorization! }, BODY, opts('google-pubsub', { audience: input.url })), { ok: true });
  t.throws(() => getScheme('plaid')!.sign({ ...input, secret: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }), /plaid: signing needs a key for ES256/);
  t.throws(() => getScheme('jwt')!.sign({ ...input, secret: 'x' }), /configured per route/);
});

t.test('jwt: the token may be the body itself or a field of it; the body is then covered', async (t) => {
  const claims = { event_id: 'ev-1', type: 'user.created' };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(NOW_S).sign(RSA.privateKey);
  const body = opts('jwt', { token: 'body', algorithms: ['RS256'] });
  t.match(verify('jwt', [pem(RSA.publicKey)], { 'content-type': 'application/jwt' }, Buffer.from(token), body), { ok: true, timestamp: NOW });
  t.same(getScheme('jwt')!.coverageOf!(body), { body: true, headers: [] });
  const tampered = token.split('.');
  tampered[1] = Buffer.from(JSON.stringify({ ...claims, type: 'user.deleted', iat: NOW_S })).toString('base64url');
  t.match(verify('jwt', [pem(RSA.publicKey)], {}, Buffer.from(tampered.join('.')), body), { ok: false, code: 'signature_invalid' }, 'a changed payload');
  const field = opts('jwt', { token: 'json:signedPayload', algorithms: ['RS256'] });
  t.match(verify('jwt', [pem(RSA.publicKey)], {}, Buffer.from(JSON.stringify({ signedPayload: token })), field), { ok: true });
  t.match(verify('jwt', [pem(RSA.publicKey)], {}, Buffer.from('{}'), field), { ok: false, code: 'signature_missing' });
});

t.test('constant-contact: a detached JWS with an unencoded payload (RFC 7797) over the body, ts in the header', async (t) => {
  const detached = async (body: Buffer, ts = NOW_S, key = RSA.privateKey, header: Record<string, unknown> = {}) => {
    const jws = await new FlattenedSign(body).setProtectedHeader({ alg: 'RS256', b64: false, crit: ['b64'], ts, ...header } as never).sign(key);
    return `${jws.protected}..${jws.signature}`;
  };
  const o = opts('constant-contact');
  const sig = await detached(BODY);
  t.same(verify('constant-contact', [pem(RSA.publicKey)], { 'x-ctct-webhook-sig': sig }, BODY, o), { ok: true, secretIndex: 0, timestamp: NOW });
  t.match(verify('constant-contact', [pem(RSA.publicKey)], { 'x-ctct-webhook-sig': sig }, Buffer.from(BODY.toString().replace('e-1', 'e-2')), o), { ok: false, code: 'signature_invalid' }, 'a changed body');
  t.match(verify('constant-contact', [pem(RSA2.publicKey)], { 'x-ctct-webhook-sig': sig }, BODY, o), { ok: false, code: 'signature_invalid' }, 'another key');
  t.match(verify('constant-contact', [pem(RSA.publicKey)], { 'x-ctct-webhook-sig': await detached(BODY, NOW_S - 301) }, BODY, o), { ok: false, code: 'timestamp_out_of_tolerance' });
  const encoded = await new CompactSign(BODY).setProtectedHeader({ alg: 'RS256' }).sign(RSA.privateKey);
  t.match(verify('constant-contact', [pem(RSA.publicKey)], { 'x-ctct-webhook-sig': encoded }, BODY, o), { ok: false, code: 'malformed' }, 'an attached token is not this format');
  t.same(getScheme('constant-contact')!.coverageOf!(o), { body: true, headers: [] });
  // hookgate sign makes what jose verifies
  const h = getScheme('constant-contact')!.sign({ secret: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), body: BODY, url: '', method: 'POST', timestamp: NOW_S, id: '' });
  const [p, , s] = h['x-ctct-webhook-sig']!.split('.');
  await flattenedVerify({ protected: p!, payload: BODY, signature: s! }, RSA.publicKey, { algorithms: ['RS256'] });
  t.match(verify('constant-contact', [pem(RSA.publicKey)], { 'x-ctct-webhook-sig': h['x-ctct-webhook-sig']! }, BODY, o), { ok: true });
  // a token that is not b64:false keeps crit refused on every other route
  t.match(verify('plaid', [jwk(EC.publicKey)], { 'plaid-verification': `${p}..${s}` }), { ok: false });
});

t.test('every named JWT provider: jose verifies what hookgate sign makes, and hookgate verifies it back', async (t) => {
  const url = 'https://hooks.example.com/h';
  const keysFor: Record<string, { sign: string; verify: KeyObject | Uint8Array; route: string }> = {
    plaid: { sign: EC.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), verify: EC.publicKey, route: pem(EC.publicKey) },
    netlify: { sign: 'netlify-secret', verify: hs('netlify-secret'), route: 'netlify-secret' },
    vonage: { sign: 'vonage-secret', verify: hs('vonage-secret'), route: 'vonage-secret' },
    fusionauth: { sign: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), verify: RSA.publicKey, route: pem(RSA.publicKey) },
    'fusionauth-hmac': { sign: 'fa-secret', verify: hs('fa-secret'), route: 'fa-secret' },
    'google-pubsub': { sign: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), verify: RSA.publicKey, route: pem(RSA.publicKey) },
    'bot-framework': { sign: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), verify: RSA.publicKey, route: pem(RSA.publicKey) },
    'azure-event-grid': { sign: RSA.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), verify: RSA.publicKey, route: pem(RSA.publicKey) },
  };
  const routeJwt: Record<string, RawRoute['jwt']> = {
    'google-pubsub': { audience: url },
    'bot-framework': { audience: url },
    'azure-event-grid': { audience: url, issuer: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' },
  };
  for (const [name, k] of Object.entries(keysFor)) {
    const headers = getScheme(name)!.sign({ secret: k.sign, body: BODY, url, method: 'POST', timestamp: NOW_S, id: 'x' });
    const [header, value] = Object.entries(headers)[0]!;
    const token = value.replace(/^Bearer /, '');
    const { payload } = await jwtVerify(token, k.verify, { currentDate: new Date(NOW) });
    t.ok(payload.iat === NOW_S, `${name}: jose accepts hookgate sign's token`);
    t.match(verify(name, [k.route], { [header.toLowerCase()]: value }, BODY, opts(name, routeJwt[name])), { ok: true }, `${name}: and hookgate accepts it back`);
  }
});
