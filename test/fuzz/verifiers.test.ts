// Property-based fuzzing of every signature scheme in the registry (pure calls, no I/O): whatever the
// headers, body, encodings, URL and method, verify() returns a verdict and never throws, and nothing
// verifies without the secret: neither random material under the scheme's real header names, nor a
// well-formed delivery signed with another key, nor a valid delivery with a changed body.
import t from 'tap';
import fc from 'fast-check';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { appleLikeChain } from '../helpers/test-ca.js';
import { PROVIDER_NAMES, getScheme } from '../../src/providers/index.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';
import { resolveJwt } from '../../src/config/jwt.js';
import type { RawRoute } from '../../src/config/schema.js';

const RUNS = Number(process.env.HOOKGATE_FUZZ_RUNS ?? 300);
const NOW = 1_700_000_000_000;
const T = NOW / 1000;

interface Keys { verify: string; sign: string }

function ed25519(): Keys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { verify: raw.toString('hex'), sign: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}
function p256(): Keys {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { verify: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), sign: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}
const hmacKeys = (s: string): Keys => ({ verify: s, sign: s });
const pemPair = (kind: 'rsa' | 'ec' | 'ed25519', verify?: string): Keys => {
  const { publicKey, privateKey } = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
  const pub = kind === 'ed25519' ? publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64') : publicKey.export({ format: 'pem', type: 'spki' }).toString();
  return { verify: verify ?? pub, sign: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
};

/** Public-key and certificate schemes: what their route holds, and how the forger signs. */
const ASYMMETRIC: Record<string, () => [Keys, Keys]> = {
  plaid: () => [pemPair('ec'), pemPair('ec')],
  fusionauth: () => [pemPair('rsa'), pemPair('rsa')],
  'google-pubsub': () => [pemPair('rsa'), pemPair('rsa')],
  'bot-framework': () => [pemPair('rsa'), pemPair('rsa')],
  'azure-event-grid': () => [pemPair('rsa'), pemPair('rsa')],
  wise: () => [pemPair('rsa'), pemPair('rsa')],
  'constant-contact': () => [pemPair('rsa'), pemPair('rsa')],
  // the route holds a bundle id; hookgate sign takes the leaf key and its chain (the root pinned by APPLE_ROOTS)
  'apple-app-store': () => [APPLE[0]!, APPLE[1]!].map((c) => ({ verify: 'com.example.hookgate', sign: `${c.leafKey}\n${c.leaf}\n${c.inter}\n${c.root}` })) as [Keys, Keys],
  telnyx: () => [pemPair('ed25519'), pemPair('ed25519')],
  // the route holds an id; the certificate (resolved by the stage) holds the first key
  paypal: () => [pemPair('rsa', 'WEBHOOK_ID'), pemPair('rsa', 'WEBHOOK_ID')],
  'aws-sns': () => [pemPair('rsa', 'arn:aws:sns:us-east-1:123456789012:hookgate'), pemPair('rsa', 'arn:aws:sns:us-east-1:123456789012:hookgate')],
};
const APPLE = [appleLikeChain(), appleLikeChain()];
t.teardown(() => APPLE.forEach((c) => c.close()));

/** What the verify stage would resolve for certificate-URL schemes: the certificate of hookgate sign's URL. */
const CERT_URLS: Record<string, string> = {
  paypal: 'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-hookgate-sign',
  'aws-sns': 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate.pem',
};
/** The route's jwt block where the provider needs one (audience, issuer; the generic jwt everything). */
const JWT_ROUTE: Record<string, Record<string, unknown>> = {
  'google-pubsub': { audience: 'https://hooks.example.com/hook' },
  'bot-framework': { audience: 'https://hooks.example.com/hook' },
  'azure-event-grid': { audience: 'https://hooks.example.com/hook', issuer: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' },
  jwt: { token: 'header:x-signature-jwt', algorithms: ['HS256'], bodyHashClaim: 'body_sha256' },
};
/** Schemes whose signature does not cover every body byte (documented in check's warnings). */
const BODY_UNBOUND = new Set(['gitlab', 'mailgun', 'google-pubsub', 'bot-framework', 'azure-event-grid', 'aws-sns']);

/** The route's secret and another one of the same format (the forger's). */
function keysFor(name: string): [Keys, Keys] {
  if (ASYMMETRIC[name]) return ASYMMETRIC[name]!();
  if (name === 'discord') return [ed25519(), ed25519()];
  if (name === 'sendgrid') return [p256(), p256()];
  const form = getScheme(name)!.info?.secret;
  if (form === 'hex') return [hmacKeys('a1b2c3d4e5f60718293a4b5c6d7e8f90'), hmacKeys('0f1e2d3c4b5a69788796a5b4c3d2e1f0')];
  if (form === 'base64') return [hmacKeys(Buffer.from('fuzz-secret-A-0123456789abcdef').toString('base64')), hmacKeys(Buffer.from('fuzz-secret-B-0123456789abcdef').toString('base64'))];
  if (name === 'standard' || form === 'whsec') return [hmacKeys('whsec_' + Buffer.from('fuzz-secret-A-0123456789abcdef').toString('base64')), hmacKeys('whsec_' + Buffer.from('fuzz-secret-B-0123456789abcdef').toString('base64'))];
  return [hmacKeys('fuzz_secret_A_0123456789'), hmacKeys('fuzz_secret_B_0123456789')];
}

const OPTS: SchemeOptions = {
  toleranceMs: 300_000,
  publicUrl: 'https://hooks.example.com/hook',
  generic: { header: 'x-signature', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=', timestampHeader: 'x-timestamp', separator: '.' },
};

const printable = fc.string({ maxLength: 120 });
const odd = fc.oneof(
  printable,
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.base64String({ maxLength: 120 }),
  fc.stringMatching(/^[0-9a-f]{0,130}$/),
  fc.constantFrom('', ' ', ',', '=', 'v1,', 't=,v1=', 'sha256=', 'v1=' + 'a'.repeat(64), 't=1700000000,v1=' + '0'.repeat(64), '1700000000', '-1', '1e309', 'NaN', String(T), String(T * 1000)),
);
const body = fc.oneof(fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)), fc.json().map((j) => Buffer.from(j)), fc.constant(Buffer.alloc(0)));
const value = fc.oneof(odd, fc.array(odd, { minLength: 2, maxLength: 3 }));

function optionsFor(name: string): SchemeOptions {
  const problems: string[] = [];
  const jwt = resolveJwt({ path: '/hook', provider: name, secrets: ['x'], ...(JWT_ROUTE[name] ? { jwt: JWT_ROUTE[name] } : {}) } as RawRoute, 'fuzz', problems, []);
  if (problems.length) throw new Error(problems.join('; '));
  return jwt ? { ...OPTS, jwt } : OPTS;
}

for (const name of PROVIDER_NAMES) {
  const scheme = getScheme(name)!;
  const [mine, theirs] = keysFor(name);
  const opts = optionsFor(name);
  const keys = [scheme.key(mine.verify, opts)];
  const fetched = CERT_URLS[name] ? { url: CERT_URLS[name], key: createPublicKey(mine.sign) } : name === 'apple-app-store' ? [new X509Certificate(APPLE[0]!.root)] : undefined;
  const signInput = (secret: string, b: Buffer) => ({ secret, body: b, url: OPTS.publicUrl!, method: 'POST', timestamp: T, id: 'msg_fuzz_1', generic: OPTS.generic! });
  // the generic jwt route is configured per route: hookgate sign refuses it, so only random input is tried
  const signs = name !== 'jwt';
  // The header names a real delivery of this scheme carries.
  const names = signs ? Object.keys(scheme.sign(signInput(mine.sign, Buffer.from(name === 'twilio' ? 'a=1' : '{}')))).map((h) => h.toLowerCase()) : ['x-signature-jwt', 'authorization'];
  const req = (headers: SignedRequest['headers'], b: Buffer, url = '/hook', method = 'POST'): SignedRequest => ({ method, url, headers, body: b });

  t.test(`${name}: random headers, bodies and encodings never throw and never verify`, async (t) => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...names, 'content-type', 'x-other'), value, { maxKeys: names.length + 2 }),
        body,
        fc.oneof(fc.constant('/hook'), fc.webPath(), printable),
        fc.constantFrom('POST', 'GET', 'PUT', 'X'),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (headers, b, url, method, now) => {
          const v = scheme.verify(req(headers, b, url, method), keys, opts, now, fetched);
          return v.ok === false && typeof v.code === 'string' && !v.message.includes(mine.verify);
        },
      ),
      { numRuns: RUNS },
    );
    t.pass(`${RUNS} random requests refused`);
  });

  if (!signs) continue;

  t.test(`${name}: a well-formed delivery signed with another key never verifies`, async (t) => {
    fc.assert(
      fc.property(body, (b) => {
        let signed: Buffer;
        let headers: SignedRequest['headers'];
        try {
          signed = scheme.signBody ? scheme.signBody(signInput(theirs.sign, b)) : b;
          headers = Object.fromEntries(Object.entries(scheme.sign(signInput(theirs.sign, signed))).map(([k, v]) => [k.toLowerCase(), v]));
        } catch {
          return true; // the forger's signer refuses this body (Twilio and a JSON body): nothing to send
        }
        const v = scheme.verify(req(headers, signed), keys, opts, NOW, fetched);
        return v.ok === false;
      }),
      { numRuns: Math.min(RUNS, 100) },
    );
    t.pass();
  });

  // apple-app-store signs the given payload as it is, and the fuzz body names no app: its own tests cover it
  if (name === 'apple-app-store') continue;

  t.test(`${name}: a valid delivery verifies, and with a changed body byte it does not`, async (t) => {
    fc.assert(
      // JSON with the ids the schemes read from the body (Stripe's id, Slack's event_id, …)
      fc.property(fc.string({ maxLength: 200 }), fc.nat(), (payload, at) => {
        // Twilio signs form parameters through the URL (a JSON body needs ?bodySHA256): send a form.
        const json = JSON.stringify({ id: 'evt_fuzz_1', event_id: 'Ev_fuzz_1', type: 'fuzz', webhookTimestamp: NOW, event: { id: 'x' }, data: { payload } });
        // Schemes that sign form fields get a form, as their providers send (UTF-8, escaped)
        const b = name === 'twilio'
          ? Buffer.from(`Body=${encodeURIComponent(payload)}&From=%2B15550001`)
          : getScheme(name)!.info?.signed?.includes('{form:') ? Buffer.from(`mandrill_events=${encodeURIComponent(json)}`) : Buffer.from(json);
        const signed = scheme.signBody ? scheme.signBody(signInput(mine.sign, b)) : b;
        const headers: SignedRequest['headers'] = Object.fromEntries(Object.entries(scheme.sign(signInput(mine.sign, signed))).map(([k, v]) => [k.toLowerCase(), v]));
        if (name === 'twilio') headers['content-type'] = 'application/x-www-form-urlencoded';
        const good = scheme.verify(req(headers, signed), keys, opts, NOW, fetched);
        if (!good.ok) throw new Error(`the valid delivery was refused: ${good.code} ${good.message}`);
        // GitLab's plain token, Mailgun's timestamp+token, shared and bearer tokens and SNS's envelope do not cover every body byte (check's warnings)
        if (BODY_UNBOUND.has(name) || !scheme.signsBody) return true;
        const changed = Buffer.from(signed);
        const i = at % changed.length;
        changed[i] = changed[i]! ^ 0x01;
        return scheme.verify(req(headers, changed), keys, opts, NOW, fetched).ok === false;
      }),
      { numRuns: Math.min(RUNS, 100) },
    );
    t.pass();
  });
}
