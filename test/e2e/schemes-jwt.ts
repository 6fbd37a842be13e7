// The JWT family's cases for test/e2e/schemes.test.ts (kept here so that file gains one line): every
// delivery is signed by jose, the reference JOSE library, never by hookgate's signer.
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { FlattenedSign, SignJWT } from 'jose';

const PUBLIC = 'https://hooks.example.com';
const uid = () => randomBytes(6).toString('hex');
const nowS = () => Math.floor(Date.now() / 1000);
const sha = (b: Buffer, enc: 'hex' | 'base64') => createHash('sha256').update(b).digest(enc);
const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const hs = (s: string) => new TextEncoder().encode(s);

type Pair = { pub: string; key: KeyObject };
const pemPair = (kp: { publicKey: KeyObject; privateKey: KeyObject }): Pair => ({ pub: kp.publicKey.export({ format: 'pem', type: 'spki' }).toString(), key: kp.privateKey });
const jwkPair = (kp: { publicKey: KeyObject; privateKey: KeyObject }, kid: string): Pair => ({ pub: JSON.stringify({ ...kp.publicKey.export({ format: 'jwk' }), kid }), key: kp.privateKey });
const RSA = [pemPair(generateKeyPairSync('rsa', { modulusLength: 2048 })), pemPair(generateKeyPairSync('rsa', { modulusLength: 2048 }))];
const P256 = [jwkPair(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'p1'), jwkPair(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'p2')];
const ED = [jwkPair(generateKeyPairSync('ed25519'), 'e1'), jwkPair(generateKeyPairSync('ed25519'), 'e2')];
const priv = (pairs: Pair[], pub: string) => pairs.find((p) => p.pub === pub)!.key;
const kidOf = (pub: string) => (JSON.parse(pub) as { kid: string }).kid;

interface Delivery {
  headers: Record<string, string>;
  body: Buffer;
}

export interface JwtCase {
  scheme: string;
  signer: string;
  secret: string;
  other: string;
  route?: Record<string, unknown>;
  sign: (secret: string, path: string) => Promise<Delivery>;
  signatureHeaders: string[];
  bodySigned?: boolean;
}

const EVENT = () => json({ event: { id: `evt_${uid()}`, type: 'user.create' }, webhook_code: 'DEFAULT_UPDATE' });
const ENTRA_ISS = 'https://sts.windows.net/11111111-2222-3333-4444-555555555555/';

export const JWT_CASES: JwtCase[] = [
  {
    scheme: 'plaid',
    signer: 'jose SignJWT (ES256, request_body_sha256, iat)',
    secret: P256[0]!.pub,
    other: P256[1]!.pub,
    signatureHeaders: ['plaid-verification'],
    sign: async (pub) => {
      const body = EVENT();
      const token = await new SignJWT({ request_body_sha256: sha(body, 'hex') }).setProtectedHeader({ alg: 'ES256', kid: kidOf(pub), typ: 'JWT' }).setIssuedAt().sign(priv(P256, pub));
      return { headers: { 'content-type': 'application/json', 'plaid-verification': token }, body };
    },
  },
  {
    scheme: 'netlify',
    signer: 'jose SignJWT (HS256, iss netlify, sha256)',
    secret: 'e2e-netlify-jws-secret',
    other: 'e2e-netlify-other-secret',
    signatureHeaders: ['x-webhook-signature'],
    sign: async (secret) => {
      const body = json({ id: uid(), state: 'ready', name: 'site' });
      return { headers: { 'content-type': 'application/json', 'x-webhook-signature': await new SignJWT({ sha256: sha(body, 'hex') }).setProtectedHeader({ alg: 'HS256' }).setIssuer('netlify').sign(hs(secret)) }, body };
    },
  },
  {
    scheme: 'vonage',
    signer: 'jose SignJWT (HS256, payload_hash, iat)',
    secret: 'e2e-vonage-signature-secret',
    other: 'e2e-vonage-other-secret',
    signatureHeaders: ['authorization'],
    sign: async (secret) => {
      const body = json({ message_uuid: uid(), status: 'delivered' });
      const token = await new SignJWT({ payload_hash: sha(body, 'hex'), api_key: 'k' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setJti(uid()).sign(hs(secret));
      return { headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body };
    },
  },
  {
    scheme: 'fusionauth',
    signer: 'jose SignJWT (RS256, request_body_sha256 base64)',
    secret: RSA[0]!.pub,
    other: RSA[1]!.pub,
    signatureHeaders: ['x-fusionauth-signature-jwt'],
    sign: async (pub) => {
      const body = EVENT();
      const token = await new SignJWT({ request_body_sha256: sha(body, 'base64') }).setProtectedHeader({ alg: 'RS256', kid: 'fa' }).sign(priv(RSA, pub));
      return { headers: { 'content-type': 'application/json', 'x-fusionauth-signature-jwt': token }, body };
    },
  },
  {
    scheme: 'fusionauth-hmac',
    signer: 'jose SignJWT (HS256, request_body_sha256 base64)',
    secret: 'e2e-fusionauth-hmac-key',
    other: 'e2e-fusionauth-other-key',
    signatureHeaders: ['x-fusionauth-signature-jwt'],
    sign: async (secret) => {
      const body = EVENT();
      return { headers: { 'content-type': 'application/json', 'x-fusionauth-signature-jwt': await new SignJWT({ request_body_sha256: sha(body, 'base64') }).setProtectedHeader({ alg: 'HS256' }).sign(hs(secret)) }, body };
    },
  },
  {
    scheme: 'google-pubsub',
    signer: 'jose SignJWT (RS256 OIDC token, aud = push endpoint)',
    secret: RSA[0]!.pub,
    other: RSA[1]!.pub,
    route: { jwt: { audience: `${PUBLIC}/s/google-pubsub` } },
    signatureHeaders: ['authorization'],
    bodySigned: false, // the token proves the sender, not the body
    sign: async (pub, path) => {
      const body = json({ message: { data: Buffer.from('hello').toString('base64'), messageId: uid(), publishTime: new Date().toISOString() }, subscription: 'projects/p/subscriptions/s' });
      const token = await new SignJWT({ email: 'push@p.iam.gserviceaccount.com', email_verified: true }).setProtectedHeader({ alg: 'RS256', kid: 'g' }).setIssuer('https://accounts.google.com').setAudience(`${PUBLIC}${path}`).setIssuedAt().setExpirationTime('1h').sign(priv(RSA, pub));
      return { headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body };
    },
  },
  {
    scheme: 'bot-framework',
    signer: 'jose SignJWT (RS256, iss api.botframework.com, aud = app id)',
    secret: RSA[0]!.pub,
    other: RSA[1]!.pub,
    route: { jwt: { audience: 'e2e-bot-app-id' } },
    signatureHeaders: ['authorization'],
    bodySigned: false,
    sign: async (pub) => {
      const body = json({ type: 'message', id: uid(), serviceUrl: 'https://smba.trafficmanager.net/teams/', text: 'hi' });
      const token = await new SignJWT({ serviceurl: 'https://smba.trafficmanager.net/teams/' }).setProtectedHeader({ alg: 'RS256' }).setIssuer('https://api.botframework.com').setAudience('e2e-bot-app-id').setIssuedAt().setExpirationTime('5m').sign(priv(RSA, pub));
      return { headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body };
    },
  },
  {
    scheme: 'azure-event-grid',
    signer: 'jose SignJWT (RS256 Entra ID token)',
    secret: RSA[0]!.pub,
    other: RSA[1]!.pub,
    route: { jwt: { issuer: ENTRA_ISS, audience: 'api://e2e-events' } },
    signatureHeaders: ['authorization'],
    bodySigned: false,
    sign: async (pub) => {
      const body = json([{ id: uid(), eventType: 'Microsoft.Storage.BlobCreated', subject: '/x', data: {}, eventTime: new Date().toISOString(), dataVersion: '1' }]);
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(ENTRA_ISS).setAudience('api://e2e-events').setIssuedAt().setExpirationTime('5m').sign(priv(RSA, pub));
      return { headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification', authorization: `Bearer ${token}` }, body };
    },
  },
  {
    scheme: 'constant-contact',
    signer: 'jose FlattenedSign (RS256, b64: false, detached, ts)',
    secret: RSA[0]!.pub,
    other: RSA[1]!.pub,
    signatureHeaders: ['x-ctct-webhook-sig'],
    sign: async (pub) => {
      const body = json({ event_type: 'contact.created', contact_id: uid() });
      const jws = await new FlattenedSign(body).setProtectedHeader({ alg: 'RS256', b64: false, crit: ['b64'], ts: nowS() } as never).sign(priv(RSA, pub));
      return { headers: { 'content-type': 'application/json', 'x-ctct-webhook-sig': `${jws.protected}..${jws.signature}` }, body };
    },
  },
  {
    scheme: 'jwt',
    signer: 'jose SignJWT (EdDSA, a configured body-hash claim)',
    secret: ED[0]!.pub,
    other: ED[1]!.pub,
    route: { jwt: { token: 'header:x-signature-jwt', algorithms: ['EdDSA'], bodyHashClaim: 'body_sha256', requireIat: true } },
    signatureHeaders: ['x-signature-jwt'],
    sign: async (pub) => {
      const body = EVENT();
      const token = await new SignJWT({ body_sha256: sha(body, 'hex') }).setProtectedHeader({ alg: 'EdDSA', kid: kidOf(pub) }).setIssuedAt(nowS()).sign(priv(ED, pub));
      return { headers: { 'content-type': 'application/json', 'x-signature-jwt': token }, body };
    },
  },
];
