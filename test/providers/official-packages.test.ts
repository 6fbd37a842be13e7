// Every provider whose official npm package is installed, checked in both directions and through a real
// gateway: (a) what the package signs (or, where it only verifies, a construction its verifier accepts:
// each case says which) verifies in hookgate and is forwarded to the upstream byte for byte; (b) what
// `hookgate sign` makes is accepted by the package's own verifier; (c) one changed byte is refused by both.
// The packages need no network: every verifier here runs offline on the delivery alone.
import t from 'tap';
import { X509Certificate, createHash, createHmac, createPrivateKey, generateKeyPairSync, sign as edSign } from 'node:crypto';
import { createRequire } from 'node:module';
import { request } from 'undici';
import Razorpay from 'razorpay';
import { validateSignature as lineValidate } from '@line/bot-sdk';
import { encodeSignatureHeader, isValidSignature as sanityValid } from '@sanity/webhook';
import { WorkOS } from '@workos-inc/node';
import Pusher from 'pusher';
import Mux from '@mux/mux-node';
import { verifySignature as vonageVerify } from '@vonage/jwt';
import { CompactSign, SignJWT, decodeJwt } from 'jose';
import { SignedDataVerifier, Environment as AppleEnvironment } from '@apple/app-store-server-library';
import Telnyx from 'telnyx';
import { parse as gocardlessParse } from 'gocardless-nodejs/webhooks';
import OpenAI from 'openai';
import { validateWebhook as replicateValidate } from 'replicate';
import { hmacValidator } from '@adyen/api-library';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import { StreamChat } from 'stream-chat';
import { WebhooksManager as BoxWebhooks } from 'box-node-sdk/lib/managers/webhooks';
import { computeWebhookSignature as boxSignature } from 'box-node-sdk/lib/internal/utilsNode';
import { isValidSlackRequest } from '@slack/bolt';
import { verifyWebhook as clerkVerify } from '@clerk/backend/webhooks';
import { Resend } from 'resend';
import { validateEvent as polarValidate } from '@polar-sh/sdk/webhooks';
import { SDKValidationError as PolarUnknownEvent } from '@polar-sh/sdk/models/errors/sdkvalidationerror.js';
import { v2 as cloudinary } from 'cloudinary';
import { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { getScheme } from '../../src/providers/index.js';
import { signCommand } from '../../src/cli/sign.js';
import { providerDefaults } from '../../src/providers/jwt.js';
import { JWT_PROVIDERS } from '../../src/providers/jwt-providers.js';
import type { SchemeOptions, Verdict } from '../../src/providers/types.js';
import type { Fetcher } from '../../src/providers/remote.js';
import { appleLikeChain } from '../helpers/test-ca.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

type Headers = Record<string, string>;
interface Delivery {
  headers: Headers;
  body: Buffer;
}

interface Case {
  provider: string;
  /** the route's secret, as a user configures it */
  secret: string;
  /** what hookgate sign gets as --secret (asymmetric schemes: the private key), default `secret` */
  signSecret?: string;
  /** what signed the delivery of (a) */
  signer: string;
  /** (a): a delivery as the provider sends it, made by (or accepted by) the official package */
  official(now: number): Delivery | Promise<Delivery>;
  /** the official package's verdict on a delivery */
  accepts(d: Delivery): Promise<boolean>;
  /** the body given to `hookgate sign` (default BODY) */
  body?: Buffer;
  /** (c): the delivery with one byte changed where the signature covers it (default: one byte of the body) */
  change?(d: Delivery): Delivery;
  /** said when the changed byte is not in the body */
  changeNote?: string;
}

// "abc" in every body is the byte (c) changes: inside a JSON string, so the body still parses
const BODY = Buffer.from('{"id":"evt_official_1","type":"test.event","data":{"note":"abc"}}');
const changeBody = (d: Delivery): Delivery => {
  const s = d.body.toString('utf8');
  const i = s.indexOf('abc');
  if (i < 0) throw new Error('the body has no abc to change');
  return { headers: d.headers, body: Buffer.from(s.slice(0, i) + 'abd' + s.slice(i + 3)) };
};
/** Runs a check that throws when it refuses: true when it accepted. */
const passes = async (f: () => unknown): Promise<boolean> => {
  try {
    const r = await f();
    return r !== false;
  } catch {
    return false;
  }
};

// braintree and coinbase-commerce-node ship no type declarations
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const braintree: any = createRequire(import.meta.url)('braintree');
const coinbase = createRequire(import.meta.url)('coinbase-commerce-node') as { Webhook: { computeSignature(p: string, s: string): string; verifyEventBody(p: string, h: string, s: string): unknown } };

// Apple signs with a chain to its pinned root: a chain in Apple's shape made for the run stands in for
// it, trusted by Apple's library (its root certificates argument) and by hookgate (fetcher.trustedRoots, tests only)
const APPLE_CHAIN = appleLikeChain();
t.teardown(() => APPLE_CHAIN.close());
const TRUST = Object.assign(async (): Promise<Buffer> => Buffer.alloc(0), { trustedRoots: [APPLE_CHAIN.root] }) as Fetcher;

const OPTS: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };
function hookgateVerify(c: Case, d: Delivery): Verdict {
  const s = getScheme(c.provider)!;
  // a JWT provider's facts become route options at config load (src/config/jwt.ts): the same here
  const def = JWT_PROVIDERS[c.provider];
  const opts: SchemeOptions = def ? { ...OPTS, jwt: providerDefaults(def) } : OPTS;
  const keys = [s.key(c.secret, opts)];
  const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const req = { method: 'POST', url: '/hook', headers, body: d.body };
  // keys that come from outside the delivery (Apple's root): resolved as the verify stage does (synchronously here)
  const fetched = s.remote ? (s.remote(opts, TRUST).resolve(req, Date.now()) as { material: unknown }).material : undefined;
  return s.verify(req, keys, opts, Date.now(), fetched);
}

/** `hookgate sign --provider P --secret S --body -`, its printed headers (and body, where the signature travels in it) parsed back. */
async function hookgateSign(provider: string, secret: string, body: Buffer): Promise<Delivery> {
  let out = '';
  let err = '';
  const code = await signCommand({ provider, secret, body: '-' }, { out: (s) => void (out += s), err: (s) => void (err += s), env: {}, stdin: async () => body });
  if (code !== 0) throw new Error(`hookgate sign ${provider}: ${err}`);
  const blank = out.indexOf('\n\n');
  const head = blank < 0 ? out : out.slice(0, blank);
  const headers: Headers = {};
  for (const line of head.split('\n').filter(Boolean)) {
    const colon = line.indexOf(': ');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 2);
  }
  const signedBody = blank < 0 ? body : Buffer.from(out.slice(blank + 2).replace(/\n$/, ''));
  return { headers, body: signedBody };
}

const b64hmac = (key: string | Buffer, data: string | Buffer, enc: 'hex' | 'base64') => createHmac('sha256', key).update(data).digest(enc);

// --- the cases, one a provider -------------------------------------------------------------------

const RAZORPAY_SECRET = 'rzp_webhook_secret_0123';
const LINE_SECRET = 'line_channel_secret_0123';
const SANITY_SECRET = 'sanity_webhook_secret_0123';
const WORKOS_SECRET = 'workos_webhook_secret_0123';
const PUSHER = { appId: '1', key: 'pusher_app_key', secret: 'pusher_app_secret_0123', cluster: 'eu' };
const MUX_SECRET = 'mux_webhook_secret_0123';
const VONAGE_SECRET = 'vonage_signature_secret_0123456789abcdef';
const GOCARDLESS_SECRET = 'ED7D658C-D8EB-4941-948B-3973214F2D49';
const WHSEC = 'whsec_' + Buffer.from('standard-webhooks-secret-0123456').toString('base64');
const BRAINTREE = { merchantId: 'merchant', publicKey: 'integration_public_key', privateKey: 'integration_private_key' };
const ADYEN_KEY = 'DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00';

const telnyxPair = generateKeyPairSync('ed25519');
const TELNYX_PUBLIC = telnyxPair.publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
const TELNYX_PRIVATE = telnyxPair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

const workos = new WorkOS('sk_test_official_packages');
const pusher = new Pusher(PUSHER);
// Pusher's webhook verifier checks with this class (lib/token.js); the package exports it as Pusher.Token
const PusherToken = (Pusher as unknown as { Token: new (key: string, secret: string) => { sign(s: string): string } }).Token;
const mux = new Mux({ tokenId: 'x', tokenSecret: 'y', webhookSecret: MUX_SECRET });
const telnyx = new Telnyx({ apiKey: 'KEY_official_packages' });
const openai = new OpenAI({ apiKey: 'sk-official-packages' });
const bt = new braintree.BraintreeGateway({ environment: braintree.Environment.Sandbox, ...BRAINTREE });
const adyen = new hmacValidator();

const ADYEN_ITEM = { pspReference: '7914073381342284', merchantAccountCode: 'TestMerchant', merchantReference: 'TestPayment-abc', amount: { value: 1130, currency: 'EUR' }, eventCode: 'AUTHORISATION', success: 'true' };
const adyenBody = (item: Record<string, unknown>) => Buffer.from(JSON.stringify({ live: 'false', notificationItems: [{ NotificationRequestItem: item }] }));
const adyenItem = (b: Buffer) => JSON.parse(b.toString()).notificationItems[0].NotificationRequestItem;

const LINEAR_SECRET = 'lin_wh_official_packages_0123';
const COINBASE_SECRET = 'coinbase_shared_secret_0123';
const ELEVENLABS_SECRET = 'wsec_official_packages_0123';
// the client does nothing on the network until an API method is called; webhooks.constructEvent is local
const elevenlabs = new ElevenLabsClient({ apiKey: 'not-used-offline' });
const elevenlabsHeader = (now: number, body: Buffer) => {
  const t = Math.floor(now / 1000);
  return `t=${t},v0=${createHmac('sha256', ELEVENLABS_SECRET).update(`${t}.${body.toString()}`).digest('hex')}`;
};
const STREAM = { key: 'stream_api_key', secret: 'stream_api_secret_0123' };
const BOX = { primary: 'box_primary_key_0123', secondary: 'box_secondary_key_0123' };
const SLACK_SECRET = 'slack_signing_secret_0123';
const POLAR_SECRET = 'polar_whs_official_packages_0123';
const CLOUDINARY_SECRET = 'cloudinary_api_secret_0123';

const linear = new LinearWebhookClient(LINEAR_SECRET);
// Linear's verifier holds the body's signed webhookTimestamp (ms) to 60 s of its clock
const linearBody = (now: number) => Buffer.from(`{"action":"create","type":"Issue","data":{"id":"iss_1","title":"abc"},"webhookTimestamp":${now}}`);
const COINBASE_BODY = Buffer.from('{"id":1,"scheduled_for":"2017-01-31T20:50:02Z","event":{"id":"24934862-d980-46cb-9402-43c81b0cdba6","type":"charge:created","data":{"code":"abc"}}}');
const stream = new StreamChat(STREAM.key, STREAM.secret);
const resend = new Resend('re_official_packages');
cloudinary.config({ api_secret: CLOUDINARY_SECRET });
/** Box's delivery timestamp as Box writes it: RFC 3339 with a zone offset */
const boxTime = (now: number) => new Date(Math.floor(now / 1000) * 1000 - 7 * 3_600_000).toISOString().slice(0, 19) + '-07:00';
const APPLE_BUNDLE = 'com.example.app';
const appleVerifier = new SignedDataVerifier([new X509Certificate(APPLE_CHAIN.root).raw], false, AppleEnvironment.SANDBOX, APPLE_BUNDLE);
const applePayload = (now: number) => ({ notificationType: 'TEST', notificationUUID: `0f3a6c2e-1b7d-4e8a-9c5f-${String(now).padStart(12, '0').slice(-12)}`, data: { bundleId: APPLE_BUNDLE, environment: 'Sandbox' }, version: '2.0', signedDate: now });
const appleDer = (pem: string) => new X509Certificate(pem).raw.toString('base64');
/** One changed character of the token's signature (the second last: the last may only carry padding bits) */
const changeJwsSignature = (token: string) => token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);

const svixSigned = (now: number): Delivery => {
  const id = `msg_svix_${now}`;
  return { headers: { 'svix-id': id, 'svix-timestamp': String(Math.floor(now / 1000)), 'svix-signature': new SvixWebhook(WHSEC).sign(id, new Date(now), BODY.toString()) }, body: BODY };
};

const standardSigned = (now: number): Delivery => {
  const id = `msg_${now}`;
  const ts = new Date(now);
  return { headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now / 1000)), 'webhook-signature': new StandardWebhook(WHSEC).sign(id, ts, BODY.toString()) }, body: BODY };
};

const CASES: Case[] = [
  {
    provider: 'razorpay',
    secret: RAZORPAY_SECRET,
    signer: 'verify-only package: HMAC-SHA256 hex of the body, as Razorpay.validateWebhookSignature recomputes it',
    official: () => ({ headers: { 'x-razorpay-signature': b64hmac(RAZORPAY_SECRET, BODY, 'hex') }, body: BODY }),
    accepts: async (d) => Razorpay.validateWebhookSignature(d.body.toString(), d.headers['x-razorpay-signature']!, RAZORPAY_SECRET),
  },
  {
    provider: 'line',
    secret: LINE_SECRET,
    signer: 'verify-only package: HMAC-SHA256 base64 of the body, as @line/bot-sdk validateSignature recomputes it',
    official: () => ({ headers: { 'x-line-signature': b64hmac(LINE_SECRET, BODY, 'base64') }, body: BODY }),
    accepts: async (d) => lineValidate(d.body, LINE_SECRET, d.headers['x-line-signature']!),
  },
  {
    provider: 'sanity',
    secret: SANITY_SECRET,
    signer: '@sanity/webhook encodeSignatureHeader',
    official: async (now) => ({ headers: { 'sanity-webhook-signature': await encodeSignatureHeader(BODY.toString(), now, SANITY_SECRET) }, body: BODY }),
    accepts: (d) => sanityValid(d.body.toString(), d.headers['sanity-webhook-signature']!, SANITY_SECRET),
  },
  {
    provider: 'workos',
    secret: WORKOS_SECRET,
    signer: '@workos-inc/node webhooks.computeSignature (header t=…, v1=… as WorkOS sends it)',
    official: async (now) => ({ headers: { 'workos-signature': `t=${now}, v1=${await workos.webhooks.computeSignature(now, JSON.parse(BODY.toString()), WORKOS_SECRET)}` }, body: BODY }),
    // the package signs JSON.stringify of the parsed body: the same bytes for a compact body
    accepts: (d) => passes(() => workos.webhooks.verifyHeader({ payload: JSON.parse(d.body.toString()), sigHeader: d.headers['workos-signature']!, secret: WORKOS_SECRET })),
  },
  {
    provider: 'pusher',
    secret: PUSHER.secret,
    signer: "pusher's Token.sign (the class its webhook verifier checks with)",
    official: () => ({ headers: { 'x-pusher-key': PUSHER.key, 'x-pusher-signature': new PusherToken(PUSHER.key, PUSHER.secret).sign(BODY.toString()), 'content-type': 'application/json' }, body: BODY }),
    accepts: async (d) => pusher.webhook({ headers: { 'x-pusher-key': PUSHER.key, 'content-type': 'application/json', ...d.headers }, rawBody: d.body.toString() }).isValid(),
  },
  {
    provider: 'mux',
    secret: MUX_SECRET,
    signer: "@mux/mux-node webhooks.computeSignature over `{t}.{body}` (the package has no header builder)",
    official: async (now) => {
      const t = Math.floor(now / 1000);
      return { headers: { 'mux-signature': `t=${t},v1=${await (mux.webhooks as unknown as { computeSignature(p: string, s: string): Promise<string> }).computeSignature(`${t}.${BODY.toString()}`, MUX_SECRET)}` }, body: BODY };
    },
    accepts: (d) => passes(() => mux.webhooks.verifySignature(d.body.toString(), d.headers, MUX_SECRET)),
  },
  {
    provider: 'vonage',
    secret: VONAGE_SECRET,
    signer: 'verify-only package (@vonage/jwt verifySignature checks the HS256 token, not payload_hash): an HS256 token made with jose, carrying payload_hash as Vonage does',
    official: async (now) => {
      const iat = Math.floor(now / 1000);
      // the claims Vonage documents for a signed webhook: no exp, iat bounds its age
      const claims = { iat, jti: `jti-${now}`, iss: 'Vonage', payload_hash: createHash('sha256').update(BODY).digest('hex'), api_key: 'abcd1234', application_id: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab' };
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(Buffer.from(VONAGE_SECRET));
      return { headers: { authorization: `Bearer ${token}` }, body: BODY };
    },
    // the package proves the token; the body is bound by payload_hash, which Vonage tells the receiver to compare
    accepts: async (d) => {
      const token = d.headers.authorization!.replace(/^Bearer /, '');
      if (!vonageVerify(token, VONAGE_SECRET)) return false;
      const claims = decodeJwt(token) as { payload_hash?: string };
      return claims.payload_hash === createHash('sha256').update(d.body).digest('hex');
    },
    change: (d) => {
      const token = d.headers.authorization!.replace(/^Bearer /, '');
      const last = token.at(-2) === 'A' ? 'B' : 'A';
      return { headers: { authorization: `Bearer ${token.slice(0, -2)}${last}${token.at(-1)}` }, body: d.body };
    },
    changeNote: 'a changed byte of the token (the package checks only the token; a changed body is refused by hookgate through payload_hash, see below)',
  },
  {
    provider: 'telnyx',
    secret: TELNYX_PUBLIC,
    signSecret: TELNYX_PRIVATE,
    signer: 'verify-only package (Telnyx signs with its own private key): Ed25519 over `{timestamp}|{body}` with a test key pair, as telnyx webhooks.unwrap verifies it',
    official: (now) => {
      const ts = String(Math.floor(now / 1000));
      return { headers: { 'telnyx-timestamp': ts, 'telnyx-signature-ed25519': edSign(null, Buffer.concat([Buffer.from(`${ts}|`), BODY]), telnyxPair.privateKey).toString('base64') }, body: BODY };
    },
    accepts: (d) => passes(() => telnyx.webhooks.unwrap(d.body.toString(), { headers: d.headers, key: TELNYX_PUBLIC })),
  },
  {
    provider: 'gocardless',
    secret: GOCARDLESS_SECRET,
    signer: 'verify-only package: HMAC-SHA256 hex of the body, as gocardless-nodejs webhooks.parse recomputes it',
    official: () => ({ headers: { 'webhook-signature': b64hmac(GOCARDLESS_SECRET, BODY, 'hex') }, body: BODY }),
    accepts: (d) => passes(() => gocardlessParse(d.body, GOCARDLESS_SECRET, d.headers['webhook-signature']!)),
  },
  {
    provider: 'openai',
    secret: WHSEC,
    signer: 'verify-only package (openai webhooks.verifySignature): the Standard Webhooks reference signer (standardwebhooks)',
    official: standardSigned,
    accepts: (d) => passes(() => openai.webhooks.verifySignature(d.body.toString(), d.headers, WHSEC)),
  },
  {
    provider: 'replicate',
    secret: WHSEC,
    signer: 'verify-only package (replicate validateWebhook): the Standard Webhooks reference signer (standardwebhooks)',
    official: standardSigned,
    accepts: (d) => passes(() => replicateValidate({ id: d.headers['webhook-id']!, timestamp: d.headers['webhook-timestamp']!, signature: d.headers['webhook-signature']!, body: d.body.toString(), secret: WHSEC })),
  },
  {
    provider: 'braintree',
    secret: `${BRAINTREE.publicKey}|${BRAINTREE.privateKey}`,
    signer: 'braintree webhookTesting.sampleNotification',
    official: () => {
      const n = bt.webhookTesting.sampleNotification(braintree.WebhookNotification.Kind.Check, 'abc');
      return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(new URLSearchParams(n).toString()) };
    },
    accepts: (d) => {
      const form = new URLSearchParams(d.body.toString());
      return passes(() => bt.webhookNotification.parse(form.get('bt_signature')!, form.get('bt_payload')!));
    },
    body: Buffer.from(new URLSearchParams({ bt_payload: Buffer.from('<notification><kind>check</kind><subject><check type="boolean">true</check></subject></notification>').toString('base64') + '\n' }).toString()),
    change: (d) => {
      const form = new URLSearchParams(d.body.toString());
      const p = form.get('bt_payload')!;
      form.set('bt_payload', (p[0] === 'A' ? 'B' : 'A') + p.slice(1));
      return { headers: d.headers, body: Buffer.from(form.toString()) };
    },
    changeNote: 'a changed byte of bt_payload',
  },
  {
    provider: 'adyen',
    secret: ADYEN_KEY,
    signer: '@adyen/api-library hmacValidator.calculateHmac',
    official: () => {
      const item = { ...ADYEN_ITEM, additionalData: { hmacSignature: adyen.calculateHmac(ADYEN_ITEM as never, ADYEN_KEY) } };
      return { headers: { 'content-type': 'application/json' }, body: adyenBody(item) };
    },
    accepts: (d) => passes(() => adyen.validateHMAC(adyenItem(d.body), ADYEN_KEY)),
    body: adyenBody(ADYEN_ITEM),
    changeNote: 'a changed byte of merchantReference (a signed field)',
  },
  {
    provider: 'adyen-platform',
    secret: ADYEN_KEY,
    signer: '@adyen/api-library hmacValidator.calculateHmacSignature over the body',
    official: () => ({ headers: { hmacsignature: adyen.calculateHmacSignature(BODY.toString(), ADYEN_KEY) }, body: BODY }),
    accepts: async (d) => adyen.validateHMACSignature(ADYEN_KEY, d.headers.hmacsignature!, d.body.toString()),
  },
  {
    provider: 'linear',
    secret: LINEAR_SECRET,
    signer: "verify-only package (@linear/sdk LinearWebhookClient.verify): HMAC-SHA256 hex of the body, as it recomputes it, over a body carrying webhookTimestamp",
    official: (now) => {
      const body = linearBody(now);
      return { headers: { 'linear-signature': b64hmac(LINEAR_SECRET, body, 'hex'), 'linear-delivery': `dlv_${now}` }, body };
    },
    accepts: (d) => passes(() => linear.verify(d.body, d.headers['linear-signature']!)),
    body: linearBody(Date.now()),
  },
  {
    provider: 'coinbase-commerce',
    secret: COINBASE_SECRET,
    signer: 'coinbase-commerce-node Webhook.computeSignature',
    official: () => ({ headers: { 'x-cc-webhook-signature': coinbase.Webhook.computeSignature(COINBASE_BODY.toString(), COINBASE_SECRET) }, body: COINBASE_BODY }),
    accepts: (d) => passes(() => coinbase.Webhook.verifyEventBody(d.body.toString(), d.headers['x-cc-webhook-signature']!, COINBASE_SECRET)),
    body: COINBASE_BODY,
  },
  {
    provider: 'stream-chat',
    secret: STREAM.secret,
    signer: 'verify-only package (stream-chat StreamChat#verifyWebhook): HMAC-SHA256 hex of the body with the API secret, as it recomputes it',
    official: () => ({ headers: { 'x-signature': b64hmac(STREAM.secret, BODY, 'hex'), 'x-webhook-id': 'wh_official_1' }, body: BODY }),
    accepts: async (d) => stream.verifyWebhook(d.body, d.headers['x-signature']!),
  },
  {
    provider: 'box',
    secret: BOX.primary,
    signer: "verify-only package (box-node-sdk WebhooksManager.validateMessage): its computeWebhookSignature (the function validateMessage checks with), with the primary and the secondary key",
    official: async (now) => {
      const headers: Headers = { 'box-delivery-id': `dlv_${now}`, 'box-delivery-timestamp': boxTime(now), 'box-signature-version': '1', 'box-signature-algorithm': 'HmacSHA256' };
      headers['box-signature-primary'] = (await boxSignature(BODY.toString(), headers, BOX.primary))!;
      headers['box-signature-secondary'] = (await boxSignature(BODY.toString(), headers, BOX.secondary))!;
      return { headers, body: BODY };
    },
    accepts: (d) => BoxWebhooks.validateMessage(d.body.toString(), d.headers, BOX.primary, { secondaryKey: BOX.secondary }),
  },
  {
    provider: 'slack',
    secret: SLACK_SECRET,
    signer: 'verify-only package (@slack/bolt isValidSlackRequest): HMAC-SHA256 hex of `v0:{timestamp}:{body}`, as it recomputes it',
    official: (now) => {
      const ts = String(Math.floor(now / 1000));
      return { headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${b64hmac(SLACK_SECRET, `v0:${ts}:${BODY.toString()}`, 'hex')}` }, body: BODY };
    },
    accepts: async (d) => isValidSlackRequest({ signingSecret: SLACK_SECRET, body: d.body.toString(), headers: { 'x-slack-signature': d.headers['x-slack-signature']!, 'x-slack-request-timestamp': Number(d.headers['x-slack-request-timestamp']) } }),
  },
  {
    provider: 'clerk',
    secret: WHSEC,
    signer: 'verify-only package (@clerk/backend verifyWebhook): svix Webhook#sign, with the svix-* headers Clerk delivers',
    official: svixSigned,
    accepts: (d) => passes(() => clerkVerify(new Request('http://localhost/hook', { method: 'POST', headers: d.headers, body: d.body }), { signingSecret: WHSEC })),
  },
  {
    provider: 'resend',
    secret: WHSEC,
    signer: 'verify-only package (resend webhooks.verify): svix Webhook#sign, with the svix-* headers Resend delivers',
    official: svixSigned,
    // Resend's documented handler reads the svix-* headers into { id, timestamp, signature }
    accepts: (d) => passes(() => resend.webhooks.verify({ payload: d.body.toString(), headers: { id: d.headers['svix-id']!, timestamp: d.headers['svix-timestamp']!, signature: d.headers['svix-signature']! }, webhookSecret: WHSEC })),
  },
  {
    provider: 'polar',
    secret: POLAR_SECRET,
    signer: 'verify-only package (@polar-sh/sdk validateEvent): the Standard Webhooks reference signer (standardwebhooks) keyed with the base64 of the raw secret, as validateEvent keys it',
    official: (now) => {
      const id = `msg_polar_${now}`;
      const sig = new StandardWebhook(Buffer.from(POLAR_SECRET).toString('base64')).sign(id, new Date(now), BODY.toString());
      return { headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now / 1000)), 'webhook-signature': sig }, body: BODY };
    },
    // validateEvent verifies, then parses the event by type: the test body's type is not one of Polar's, so
    // an SDKValidationError (thrown only once the signature passed) is its acceptance
    accepts: (d) => passes(() => {
      try {
        return polarValidate(d.body, d.headers, POLAR_SECRET);
      } catch (e) {
        if (e instanceof PolarUnknownEvent) return true;
        throw e;
      }
    }),
  },
  {
    provider: 'elevenlabs',
    secret: ELEVENLABS_SECRET,
    signer: "verify-only package (@elevenlabs/elevenlabs-js webhooks.constructEvent): HMAC-SHA256 hex of `{t}.{body}` with the secret as UTF-8, as it recomputes it",
    official: (now) => ({ headers: { 'elevenlabs-signature': elevenlabsHeader(now, BODY) }, body: BODY }),
    accepts: (d) => passes(() => elevenlabs.webhooks.constructEvent(d.body.toString(), d.headers['elevenlabs-signature']!, ELEVENLABS_SECRET)),
  },
  {
    provider: 'cloudinary',
    secret: CLOUDINARY_SECRET,
    signer: 'cloudinary utils.webhook_signature (SHA-1 of body + timestamp + API secret)',
    official: (now) => {
      const ts = Math.floor(now / 1000);
      return { headers: { 'x-cld-timestamp': String(ts), 'x-cld-signature': cloudinary.utils.webhook_signature(BODY.toString(), ts, { api_secret: CLOUDINARY_SECRET, signature_algorithm: 'sha1' }) }, body: BODY };
    },
    accepts: async (d) => cloudinary.utils.verifyNotificationSignature(d.body.toString(), Number(d.headers['x-cld-timestamp']), d.headers['x-cld-signature']!),
  },
  {
    provider: 'apple-app-store',
    secret: APPLE_BUNDLE,
    signSecret: `${APPLE_CHAIN.leafKey}\n${APPLE_CHAIN.leaf}\n${APPLE_CHAIN.inter}\n${APPLE_CHAIN.root}`,
    signer: "verify-only package (@apple/app-store-server-library SignedDataVerifier, offline: no OCSP): an ES256 JWS made with jose, its x5c a chain in Apple's shape to a root made for the run, given to both as the trusted root",
    official: async (now) => {
      const x5c = [APPLE_CHAIN.leaf, APPLE_CHAIN.inter, APPLE_CHAIN.root].map(appleDer);
      const jws = await new CompactSign(Buffer.from(JSON.stringify(applePayload(now)))).setProtectedHeader({ alg: 'ES256', x5c }).sign(createPrivateKey(APPLE_CHAIN.leafKey));
      return { headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ signedPayload: jws })) };
    },
    accepts: (d) => passes(() => appleVerifier.verifyAndDecodeNotification(JSON.parse(d.body.toString()).signedPayload)),
    // hookgate sign's --body is the notification to sign; it writes the {"signedPayload": …} body
    body: Buffer.from(JSON.stringify(applePayload(Date.now()))),
    change: (d) => {
      const { signedPayload } = JSON.parse(d.body.toString()) as { signedPayload: string };
      return { headers: d.headers, body: Buffer.from(JSON.stringify({ signedPayload: changeJwsSignature(signedPayload) })) };
    },
    changeNote: 'a changed byte of the JWS signature',
  },
];

t.test('official packages, both directions', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const env: Record<string, string> = {};
  const routes = CASES.map((c, i) => {
    env[`SECRET_${i}`] = c.secret;
    return { path: `/p/${c.provider}`, provider: c.provider, secrets: [`env:SECRET_${i}`] };
  });
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes }, env), { fetcher: TRUST });
  t.teardown(() => gw.close());

  for (const c of CASES) {
    t.test(c.provider, async (t) => {
      const d = await c.official(Date.now());
      t.ok(await c.accepts(d), `the package accepts its own delivery (${c.signer})`);

      // (a) hookgate accepts it, and a real gateway forwards it untouched
      t.match(hookgateVerify(c, d), { ok: true }, `(a) hookgate verifies what ${c.signer} signs`);
      const before = up.received.length;
      const res = await request(`${gw.url}/p/${c.provider}`, { method: 'POST', headers: d.headers, body: d.body });
      const text = await res.body.text();
      t.equal(res.statusCode, 200, `(a) forwarded: ${res.headers['hookgate-outcome']} ${text}`);
      t.equal(up.received.length, before + 1, '(a) the upstream got it once');
      t.same(up.received.at(-1)?.body, d.body, '(a) byte for byte');

      // (b) the package accepts what `hookgate sign` makes
      const mine = await hookgateSign(c.provider, c.signSecret ?? c.secret, c.body ?? BODY);
      t.ok(await c.accepts(mine), '(b) the package accepts what hookgate sign makes');
      t.match(hookgateVerify(c, mine), { ok: true }, '(b) and so does hookgate');

      // (c) one changed byte: refused by both
      const changed = (c.change ?? changeBody)(d);
      t.notSame(changed, d, '(c) something did change');
      t.notOk(await c.accepts(changed), `(c) the package refuses ${c.changeNote ?? 'a changed byte of the body'}`);
      t.match(hookgateVerify(c, changed), { ok: false, code: 'signature_invalid' }, `(c) hookgate refuses ${c.changeNote ?? 'a changed byte of the body'}`);
      const changedMine = (c.change ?? changeBody)(mine);
      t.notOk(await c.accepts(changedMine), '(c) the package refuses the same change to what hookgate sign made');
      t.notOk(hookgateVerify(c, changedMine).ok, '(c) and so does hookgate');
      const refused = await request(`${gw.url}/p/${c.provider}`, { method: 'POST', headers: changed.headers, body: changed.body });
      await refused.body.dump();
      t.equal(refused.statusCode, 401, '(c) the gateway refuses it');
      t.equal(refused.headers['hookgate-outcome'], 'signature_invalid');
    });
  }
});

t.test('vonage: the package proves only the token; hookgate also refuses a changed body through payload_hash', async (t) => {
  const c = CASES.find((x) => x.provider === 'vonage')!;
  const d = await c.official(Date.now());
  const changed = changeBody(d);
  const token = d.headers.authorization!.replace(/^Bearer /, '');
  t.ok(vonageVerify(token, VONAGE_SECRET), 'the token alone still verifies in @vonage/jwt');
  t.match(hookgateVerify(c, changed), { ok: false, code: 'signature_invalid' }, 'hookgate compares payload_hash with the body');
});

t.test('openai: a secret without the whsec_ prefix is its UTF-8 bytes, as the openai package reads it', async (t) => {
  const raw = 'openai-raw-secret-0123';
  const c: Case = { ...CASES.find((x) => x.provider === 'openai')!, secret: raw };
  const accepts = (d: Delivery) => passes(() => openai.webhooks.verifySignature(d.body.toString(), d.headers, raw));
  const now = Date.now();
  const id = `msg_raw_${now}`;
  const ts = String(Math.floor(now / 1000));
  const theirs: Delivery = { headers: { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${b64hmac(raw, `${id}.${ts}.${BODY.toString()}`, 'base64')}` }, body: BODY };
  t.ok(await accepts(theirs), 'the package accepts an HMAC keyed with the secret as text');
  t.match(hookgateVerify(c, theirs), { ok: true }, 'so does hookgate');
  const mine = await hookgateSign('openai', raw, BODY);
  t.ok(await accepts(mine), 'the package accepts what hookgate sign makes with it');
  t.notOk(await accepts(changeBody(mine)), 'and refuses a changed byte');
  t.match(hookgateVerify(c, changeBody(theirs)), { ok: false, code: 'signature_invalid' });
});
