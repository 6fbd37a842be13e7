// Every scheme of the registry through a real gateway over HTTP: a genuine delivery (signed by the
// provider's official package where one exists, else by node:crypto computed independently of
// hookgate's signer, and cross-checked by the provider's SDK where it has a verifier) is forwarded
// with its exact bytes and signature headers and answered with the upstream's answer; a forgery (a
// wrong secret, one changed byte) is refused 401 and the upstream receives nothing.
// A scheme added to src/providers/index.ts without a case here fails the first test.
import t, { type Test } from 'tap';
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { request } from 'undici';
import Stripe from 'stripe';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import twilioSdk from 'twilio';
import { verifyKey } from 'discord-interactions';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { Paddle } from '@paddle/paddle-node-sdk';
import { WebhooksHelper } from 'square';
import { getHmac } from '@shopify/shopify-api/test-helpers';
import { Signature } from '@hubspot/api-client';
import { PROVIDER_NAMES, getScheme } from '../../src/providers/index.js';
import { BODY as BODY_PRESETS } from '../../src/providers/presets/body.js';
import { KEYED_HASH } from '../../src/providers/presets/keyed-hash.js';
import { TIMESTAMPED } from '../../src/providers/presets/timestamped.js';
import { TOKEN } from '../../src/providers/presets/token.js';
import { URL_SIGNED } from '../../src/providers/presets/url-signed.js';
import type { HmacPreset } from '../../src/providers/hmac-engine.js';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { JWT_CASES } from './schemes-jwt.js';
import { CERT_CASES } from './schemes-cert.js';
import type { Fetcher } from '../../src/providers/remote.js';

const PUBLIC = 'https://hooks.example.com';
const stripe = new Stripe('sk_test_dummy');
const nowS = () => Math.floor(Date.now() / 1000);
const uid = () => randomBytes(6).toString('hex');
const hmacHex = (alg: string, secret: string | Buffer, ...parts: (string | Buffer)[]) => {
  const h = createHmac(alg, secret);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};
const hmacB64 = (alg: string, secret: string | Buffer, ...parts: (string | Buffer)[]) => {
  const h = createHmac(alg, secret);
  for (const p of parts) h.update(p);
  return h.digest('base64');
};

interface Delivery {
  headers: Record<string, string>;
  body: Buffer;
}

interface Case {
  /** the registry name (the route's provider) */
  scheme: string;
  /** shown in test names when a scheme has several cases */
  label?: string;
  /** what signs the genuine delivery */
  signer: string;
  secret: string;
  /** another secret of the scheme's form (for asymmetric schemes: the other key pair) */
  other: string;
  /** extra route keys (publicUrl, generic) */
  route?: Record<string, unknown>;
  /** a fresh genuine delivery signed with `secret` now (the gateway's clock is the real one) */
  sign: (secret: string, path: string) => Delivery | Promise<Delivery>;
  /** headers that carry the signature (and what it signs), which the upstream must receive unchanged */
  signatureHeaders: string[];
  /** the provider's own SDK accepts the delivery (where it has a verifier but no signer) */
  official?: (d: Delivery, secret: string, path: string) => boolean | Promise<boolean>;
  /** false when the body is not covered (GitLab's token, Mailgun's token signature): no changed-byte forgery */
  bodySigned?: boolean;
  /** gateway options (certificate-URL schemes: an injected fetcher and test CA) */
  start?: { fetcher?: Fetcher };
}

// ---------- asymmetric key pairs (the route holds the public key, as the provider publishes it) ----------
function ed25519() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { pub: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'), key: privateKey };
}
function p256() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { pub: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), key: privateKey };
}
const DISCORD = [ed25519(), ed25519()] as const;
const SENDGRID = [p256(), p256()] as const;
const discordKey = (pub: string) => DISCORD.find((k) => k.pub === pub)!.key;
const sendgridKey = (pub: string) => SENDGRID.find((k) => k.pub === pub)!.key;

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const TWILIO_PARAMS = () => ({ Body: `hello ${uid()}`, From: '+15005550006', MessageSid: `SM${uid()}`, To: '+15005550001' });

const CASES: Case[] = [
  {
    scheme: 'stripe',
    signer: 'stripe.webhooks.generateTestHeaderString',
    secret: 'whsec_e2e_stripe_secret_0123456789',
    other: 'whsec_e2e_stripe_other_9876543210',
    signatureHeaders: ['stripe-signature'],
    sign: (secret) => {
      const body = json({ id: `evt_${uid()}`, object: 'event', type: 'invoice.paid', data: { object: { amount: 4200 } } });
      return { headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret }) }, body };
    },
  },
  {
    scheme: 'github',
    signer: '@octokit/webhooks-methods sign',
    secret: 'e2e-github-secret',
    other: 'e2e-github-other',
    signatureHeaders: ['x-hub-signature-256'],
    sign: async (secret) => {
      const body = json({ action: 'opened', number: 1, nonce: uid() });
      return { headers: { 'content-type': 'application/json', 'x-hub-signature-256': await octokitSign(secret, body.toString('utf8')), 'x-github-delivery': uid(), 'x-github-event': 'pull_request' }, body };
    },
  },
  {
    scheme: 'standard',
    label: 'standard (webhook-* headers)',
    signer: 'standardwebhooks Webhook#sign',
    secret: 'whsec_' + Buffer.from('e2e-standard-secret-0123456789ab').toString('base64'),
    other: 'whsec_' + Buffer.from('e2e-standard-other-0123456789abc').toString('base64'),
    signatureHeaders: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    sign: (secret) => {
      const id = `msg_${uid()}`;
      const at = new Date();
      const body = json({ type: 'user.created', data: { id } });
      return { headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body.toString('utf8')) }, body };
    },
  },
  {
    scheme: 'standard',
    label: 'standard (svix-* headers)',
    signer: 'svix Webhook#sign',
    secret: 'whsec_' + Buffer.from('e2e-svix-secret-0123456789abcdef').toString('base64'),
    other: 'whsec_' + Buffer.from('e2e-svix-other-0123456789abcdefg').toString('base64'),
    signatureHeaders: ['svix-id', 'svix-timestamp', 'svix-signature'],
    sign: (secret) => {
      const id = `msg_${uid()}`;
      const at = new Date();
      const body = json({ type: 'email.sent', data: { id } });
      return { headers: { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': String(Math.floor(at.getTime() / 1000)), 'svix-signature': new SvixWebhook(secret).sign(id, at, body.toString('utf8')) }, body };
    },
  },
  {
    scheme: 'slack',
    signer: 'node:crypto (Slack has no signer)',
    secret: 'e2e-slack-signing-secret',
    other: 'e2e-slack-other-secret',
    signatureHeaders: ['x-slack-signature', 'x-slack-request-timestamp'],
    sign: (secret) => {
      const ts = nowS();
      const body = json({ token: 'x', team_id: 'T1', type: 'event_callback', event_id: `Ev${uid()}`, event: { type: 'app_mention' } });
      return { headers: { 'content-type': 'application/json', 'x-slack-signature': 'v0=' + hmacHex('sha256', secret, `v0:${ts}:`, body), 'x-slack-request-timestamp': String(ts) }, body };
    },
  },
  {
    scheme: 'shopify',
    signer: '@shopify/shopify-api/test-helpers getHmac',
    secret: 'e2e-shopify-secret',
    other: 'e2e-shopify-other',
    signatureHeaders: ['x-shopify-hmac-sha256'],
    sign: (secret) => {
      const body = json({ id: Number.parseInt(uid(), 16), shop_domain: 'acme.myshopify.com', total_price: '10.00' });
      return { headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': getHmac(body.toString('utf8'), secret), 'x-shopify-webhook-id': uid(), 'x-shopify-topic': 'orders/create' }, body };
    },
  },
  {
    scheme: 'generic',
    signer: 'node:crypto (no provider: the route names the HMAC)',
    secret: 'e2e-generic-secret',
    other: 'e2e-generic-other',
    route: { generic: { header: 'X-Signature', algorithm: 'sha512', encoding: 'base64', prefix: 'sha512=', timestampHeader: 'X-Timestamp', separator: ':' } },
    signatureHeaders: ['x-signature', 'x-timestamp'],
    sign: (secret) => {
      const ts = nowS();
      const body = json({ idempotency_key: uid(), event: 'thing.happened' });
      return { headers: { 'content-type': 'application/json', 'x-signature': 'sha512=' + hmacB64('sha512', secret, `${ts}:`, body), 'x-timestamp': String(ts) }, body };
    },
  },
  {
    scheme: 'paddle',
    signer: "node:crypto (Paddle has no signer; its SDK's isSignatureValid accepts it)",
    secret: 'pdl_ntfset_01e2e_test_secret',
    other: 'pdl_ntfset_01e2e_other_secret',
    signatureHeaders: ['paddle-signature'],
    sign: (secret) => {
      const ts = nowS();
      const body = json({ event_id: `evt_${uid()}`, event_type: 'transaction.completed', notification_id: `ntf_${uid()}`, data: {} });
      return { headers: { 'content-type': 'application/json', 'paddle-signature': `ts=${ts};h1=${hmacHex('sha256', secret, `${ts}:`, body)}` }, body };
    },
    // the Paddle instance installs the SDK's Node crypto provider; it refuses signatures older than 5 s
    official: (d, secret) => new Paddle('pdl_sdbx_apikey_dummy').webhooks.isSignatureValid(d.body.toString('utf8'), secret, d.headers['paddle-signature']!),
  },
  {
    scheme: 'intercom',
    signer: 'node:crypto (Intercom has no signer)',
    secret: 'e2e-intercom-secret',
    other: 'e2e-intercom-other',
    signatureHeaders: ['x-hub-signature'],
    sign: (secret) => {
      const body = json({ type: 'notification_event', id: `notif_${uid()}`, topic: 'conversation.user.created', data: { item: {} } });
      return { headers: { 'content-type': 'application/json', 'x-hub-signature': 'sha1=' + hmacHex('sha1', secret, body) }, body };
    },
  },
  {
    scheme: 'typeform',
    signer: 'node:crypto (Typeform has no signer)',
    secret: 'e2e-typeform-secret',
    other: 'e2e-typeform-other',
    signatureHeaders: ['typeform-signature'],
    sign: (secret) => {
      const body = json({ event_id: uid(), event_type: 'form_response', form_response: { form_id: 'f1' } });
      return { headers: { 'content-type': 'application/json', 'typeform-signature': 'sha256=' + hmacB64('sha256', secret, body) }, body };
    },
  },
  {
    scheme: 'bitbucket',
    signer: 'node:crypto (Bitbucket has no signer)',
    secret: 'e2e-bitbucket-secret',
    other: 'e2e-bitbucket-other',
    signatureHeaders: ['x-hub-signature'],
    sign: (secret) => {
      const body = json({ push: { changes: [] }, repository: { full_name: `team/${uid()}` } });
      return { headers: { 'content-type': 'application/json', 'x-hub-signature': 'sha256=' + hmacHex('sha256', secret, body), 'x-request-uuid': uid(), 'x-event-key': 'repo:push' }, body };
    },
  },
  {
    scheme: 'pagerduty',
    signer: 'node:crypto (PagerDuty has no signer)',
    secret: 'e2e-pagerduty-secret',
    other: 'e2e-pagerduty-other',
    signatureHeaders: ['x-pagerduty-signature'],
    sign: (secret) => {
      const body = json({ event: { id: `01${uid().toUpperCase()}`, event_type: 'incident.triggered', data: { id: 'PGR0VU2' } } });
      return { headers: { 'content-type': 'application/json', 'x-pagerduty-signature': 'v1=' + hmacHex('sha256', secret, body) }, body };
    },
  },
  {
    scheme: 'linear',
    signer: 'node:crypto (Linear has no signer)',
    secret: 'e2e-linear-secret',
    other: 'e2e-linear-other',
    signatureHeaders: ['linear-signature'],
    sign: (secret) => {
      const body = json({ action: 'create', type: 'Issue', data: { id: uid() }, webhookId: 'wh_1', webhookTimestamp: Date.now() });
      return { headers: { 'content-type': 'application/json', 'linear-signature': hmacHex('sha256', secret, body), 'linear-delivery': uid() }, body };
    },
  },
  {
    scheme: 'calendly',
    signer: 'node:crypto (Calendly has no signer)',
    secret: 'e2e-calendly-secret',
    other: 'e2e-calendly-other',
    signatureHeaders: ['calendly-webhook-signature'],
    sign: (secret) => {
      const ts = nowS();
      const body = json({ event: 'invitee.created', created_at: new Date().toISOString(), payload: { uri: `https://api.calendly.com/${uid()}` } });
      return { headers: { 'content-type': 'application/json', 'calendly-webhook-signature': `t=${ts},v1=${hmacHex('sha256', secret, `${ts}.`, body)}` }, body };
    },
  },
  {
    scheme: 'zoom',
    signer: 'node:crypto (Zoom has no signer)',
    secret: 'e2e-zoom-secret',
    other: 'e2e-zoom-other',
    signatureHeaders: ['x-zm-signature', 'x-zm-request-timestamp'],
    sign: (secret) => {
      const ts = nowS();
      const body = json({ event: 'meeting.started', event_ts: Date.now(), payload: { account_id: 'a', object: { id: uid() } } });
      return { headers: { 'content-type': 'application/json', 'x-zm-signature': 'v0=' + hmacHex('sha256', secret, `v0:${ts}:`, body), 'x-zm-request-timestamp': String(ts) }, body };
    },
  },
  {
    scheme: 'twitch',
    signer: 'node:crypto (Twitch signs with its CLI)',
    secret: 'e2e-twitch-secret-0123',
    other: 'e2e-twitch-other-0123',
    signatureHeaders: ['twitch-eventsub-message-id', 'twitch-eventsub-message-timestamp', 'twitch-eventsub-message-signature'],
    sign: (secret) => {
      const id = `${uid()}-${uid()}`;
      const ts = new Date().toISOString();
      const body = json({ subscription: { id: 'f1c2', type: 'channel.follow', version: '2', status: 'enabled' }, event: { user_id: uid() } });
      return {
        headers: {
          'content-type': 'application/json',
          'twitch-eventsub-message-id': id,
          'twitch-eventsub-message-retry': '0',
          'twitch-eventsub-message-type': 'notification',
          'twitch-eventsub-message-timestamp': ts,
          'twitch-eventsub-message-signature': 'sha256=' + hmacHex('sha256', secret, id + ts, body),
        },
        body,
      };
    },
  },
  {
    scheme: 'gitlab',
    label: 'gitlab (X-Gitlab-Token)',
    signer: 'GitLab (the token itself; there is nothing to sign with)',
    secret: 'e2e-gitlab-token',
    other: 'e2e-gitlab-other-token',
    signatureHeaders: ['x-gitlab-token'],
    bodySigned: false, // documented: the token signs nothing
    sign: (secret) => {
      const body = json({ object_kind: 'push', after: uid() });
      return { headers: { 'content-type': 'application/json', 'x-gitlab-token': secret, 'x-gitlab-event': 'Push Hook' }, body };
    },
  },
  {
    scheme: 'gitlab',
    label: 'gitlab (signing token, Standard Webhooks)',
    signer: 'standardwebhooks Webhook#sign',
    secret: 'whsec_' + Buffer.from('e2e-gitlab-signing-0123456789abc').toString('base64'),
    other: 'whsec_' + Buffer.from('e2e-gitlab-other-0123456789abcde').toString('base64'),
    signatureHeaders: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    sign: (secret) => {
      const id = uid();
      const at = new Date();
      const body = json({ object_kind: 'push', after: uid() });
      return {
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body.toString('utf8')), 'idempotency-key': id },
        body,
      };
    },
  },
  {
    scheme: 'twilio',
    signer: 'twilio-node getExpectedTwilioSignature',
    secret: 'e2e_twilio_auth_token',
    other: 'e2e_twilio_other_token',
    route: { publicUrl: `${PUBLIC}/s/twilio` },
    signatureHeaders: ['x-twilio-signature'],
    sign: (secret, path) => {
      const params = TWILIO_PARAMS();
      const body = Buffer.from(new URLSearchParams(params).toString());
      return { headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSdk.getExpectedTwilioSignature(secret, `${PUBLIC}${path}`, params), 'i-twilio-idempotency-token': uid() }, body };
    },
  },
  {
    scheme: 'discord',
    signer: 'node:crypto Ed25519 (discord-interactions only verifies; its verifyKey accepts it)',
    secret: DISCORD[0].pub,
    other: DISCORD[1].pub,
    signatureHeaders: ['x-signature-ed25519', 'x-signature-timestamp'],
    sign: (pub) => {
      const ts = String(nowS());
      const body = json({ id: String(BigInt('0x' + uid())), type: 2, application_id: '1', data: { name: 'ping' } });
      const sig = cryptoSign(null, Buffer.concat([Buffer.from(ts), body]), discordKey(pub)).toString('hex');
      return { headers: { 'content-type': 'application/json', 'x-signature-ed25519': sig, 'x-signature-timestamp': ts }, body };
    },
    official: (d, pub) => verifyKey(d.body, d.headers['x-signature-ed25519']!, d.headers['x-signature-timestamp']!, pub),
  },
  {
    scheme: 'sendgrid',
    signer: 'node:crypto ECDSA P-256 (@sendgrid/eventwebhook only verifies; it accepts it)',
    secret: SENDGRID[0].pub,
    other: SENDGRID[1].pub,
    signatureHeaders: ['x-twilio-email-event-webhook-signature', 'x-twilio-email-event-webhook-timestamp'],
    sign: (pub) => {
      const ts = String(nowS());
      const body = Buffer.from(`[{"email":"a@example.com","event":"delivered","sg_event_id":"${uid()}"},\r\n{"email":"b@example.com","event":"open","sg_event_id":"${uid()}"}]\r\n`);
      const sig = cryptoSign('sha256', Buffer.concat([Buffer.from(ts), body]), { key: sendgridKey(pub), dsaEncoding: 'der' }).toString('base64');
      return { headers: { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': sig, 'x-twilio-email-event-webhook-timestamp': ts }, body };
    },
    official: (d, pub) => {
      const ew = new EventWebhook();
      return ew.verifySignature(ew.convertPublicKeyToECDSA(pub), d.body.toString('utf8'), d.headers['x-twilio-email-event-webhook-signature']!, d.headers['x-twilio-email-event-webhook-timestamp']!);
    },
  },
  {
    scheme: 'square',
    signer: "node:crypto (Square's SDK only verifies; its WebhooksHelper accepts it)",
    secret: 'e2e-square-signature-key',
    other: 'e2e-square-other-key',
    route: { publicUrl: `${PUBLIC}/s/square` },
    signatureHeaders: ['x-square-hmacsha256-signature'],
    sign: (secret, path) => {
      const body = json({ merchant_id: 'M1', type: 'payment.updated', event_id: `${uid()}-${uid()}`, created_at: new Date().toISOString(), data: {} });
      return { headers: { 'content-type': 'application/json', 'x-square-hmacsha256-signature': hmacB64('sha256', secret, `${PUBLIC}${path}`, body) }, body };
    },
    official: (d, secret, path) =>
      WebhooksHelper.verifySignature({ requestBody: d.body.toString('utf8'), signatureHeader: d.headers['x-square-hmacsha256-signature']!, signatureKey: secret, notificationUrl: `${PUBLIC}${path}` }),
  },
  {
    scheme: 'hubspot',
    signer: '@hubspot/api-client Signature.getSignature (v3)',
    secret: 'e2e-hubspot-client-secret',
    other: 'e2e-hubspot-other-secret',
    route: { publicUrl: `${PUBLIC}/s/hubspot` },
    signatureHeaders: ['x-hubspot-signature-v3', 'x-hubspot-request-timestamp'],
    sign: (secret, path) => {
      const ts = Date.now();
      const body = json([{ eventId: Number.parseInt(uid(), 16), subscriptionId: 12345, portalId: 62515, occurredAt: ts, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 123 }]);
      const sig = Signature.getSignature('POST', 'v3', { signature: '', clientSecret: secret, url: `${PUBLIC}${path}`, requestBody: body.toString('utf8'), timestamp: ts });
      return { headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': String(ts) }, body };
    },
  },
  {
    scheme: 'mailgun',
    signer: 'node:crypto (Mailgun has no signer)',
    secret: 'e2e-mailgun-signing-key',
    other: 'e2e-mailgun-other-key',
    signatureHeaders: [],
    bodySigned: false, // documented: only timestamp + token are signed (the signature travels in the body)
    sign: (secret) => {
      const timestamp = String(nowS());
      const token = randomBytes(25).toString('hex');
      const body = json({ signature: { timestamp, token, signature: hmacHex('sha256', secret, timestamp, token) }, 'event-data': { id: uid(), event: 'delivered' } });
      return { headers: { 'content-type': 'application/json' }, body };
    },
  },
  ...JWT_CASES,
  ...CERT_CASES,
];

// ---------- providers that are data: signed here from the preset's documented construction ----------
// An implementation of its own (not hookgate's engine): the template's pieces, the key's encoding, the
// MAC or keyed hash, the signature's encoding and header grammar, written out from the preset's fields.
function presetKey(secret: string, enc: HmacPreset['key']): Buffer {
  if (enc === 'hex') return Buffer.from(secret, 'hex');
  if (enc === 'base64') return Buffer.from(secret, 'base64');
  if (enc === 'whsec') return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return Buffer.from(secret, 'utf8');
}
function presetSign(p: HmacPreset, secret: string, body: Buffer, url: string): Record<string, string> {
  const s = nowS();
  const ts = p.timestamp?.unit === 'ms' ? String(s * 1000) : p.timestamp?.unit === 'iso' ? new Date(s * 1000).toISOString()
    : p.timestamp?.unit === 'iso-utc' ? new Date(s * 1000).toISOString().slice(0, -1) : String(s);
  const id = `msg_${uid()}`;
  const key = presetKey(secret, p.key);
  const pieces = p.signed.split(/(\{[^}]+\})/).filter(Boolean).map((x) =>
    x === '{body}' ? body : x === '{timestamp}' ? ts : x === '{secret}' ? key : x === '{url}' ? url : x.startsWith('{header:') ? id
      : x === '{form:sorted}' ? [...new URLSearchParams(body.toString())].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => k + v).join('') : x);
  const h = p.mac === 'hash' ? createHash(p.algorithm) : createHmac(p.algorithm, key);
  for (const x of pieces) h.update(x);
  const d = h.digest();
  const sig = p.signature.encoding === 'base64url' ? d.toString('base64url') : d.toString(p.signature.encoding);
  const f = p.signature;
  const value = f.format === 'pairs' ? `${f.tsKey}=${ts}${f.separator}${f.sigKey}=${sig}` : f.format === 'positional' ? `${ts}${f.separator}${sig}` : `${f.prefix ?? ''}${sig}`;
  const form = p.signed.includes('{form:');
  const out: Record<string, string> = { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', [f.headers[0]!]: value };
  if (p.timestamp?.header) out[p.timestamp.header] = ts;
  if (p.id?.startsWith('header:')) out[p.id.slice(7)] = id;
  return out;
}
function otherOf(secret: string, enc: HmacPreset['key']): string {
  if (enc === 'hex') return secret.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  if (enc === 'base64') return Buffer.from('e2e-another-secret-0123456789abc').toString('base64');
  return `${secret}_other`;
}
for (const p of [...BODY_PRESETS, ...KEYED_HASH, ...TIMESTAMPED, ...URL_SIGNED]) {
  const f = p.signature;
  CASES.push({
    scheme: p.name,
    signer: "node:crypto from the preset's documented construction",
    // a secret of the preset's form that no answer could contain by chance (a vector's may be the word "secret")
    secret: p.key === 'hex' || p.key === 'base64' ? p.vector.secret : `e2e_${p.name}_secret_0123456789`,
    other: otherOf(p.key === 'hex' || p.key === 'base64' ? p.vector.secret : `e2e_${p.name}_secret_0123456789`, p.key),
    signatureHeaders: [f.headers[0]!, ...(p.timestamp?.header ? [p.timestamp.header] : []), ...(p.id?.startsWith('header:') ? [p.id.slice(7)] : [])],
    ...(p.signed.includes('{url}') ? { route: { publicUrl: `${PUBLIC}/s/${p.name}` } } : {}),
    sign: (secret, path) => {
      const event = { id: `evt_${uid()}`, type: 'test.event', data: { n: uid() } };
      const body = p.signed.includes('{form:') ? Buffer.from(new URLSearchParams({ mandrill_events: JSON.stringify([event]) }).toString()) : json(event);
      return { headers: presetSign(p, secret, body, PUBLIC + path), body };
    },
  });
}
for (const p of TOKEN) {
  CASES.push({
    scheme: p.name,
    signer: 'the shared token in its header',
    secret: p.vector.secret,
    other: `${p.vector.secret}_other`,
    signatureHeaders: [p.header.toLowerCase()],
    bodySigned: false,
    sign: (secret) => ({ headers: { 'content-type': 'application/json', [p.header.toLowerCase()]: (p.prefix ?? '') + secret }, body: json({ update_id: uid() }) }),
  });
}
// Adyen standard payment webhooks: the signature inside each item (as @adyen/api-library computes it)
CASES.push({
  scheme: 'adyen',
  signer: 'node:crypto as @adyen/api-library HmacValidator computes it',
  secret: 'DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00',
  other: '0FB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00',
  signatureHeaders: [],
  // only eight fields of each item are signed (its test file changes signed and unsigned ones)
  bodySigned: false,
  sign: (secret) => {
    const item = { pspReference: uid(), merchantAccountCode: 'TestMerchant', merchantReference: 'order-1', amount: { value: 1130, currency: 'EUR' }, eventCode: 'AUTHORISATION', success: 'true' };
    const data = [item.pspReference, '', item.merchantAccountCode, item.merchantReference, item.amount.value, item.amount.currency, item.eventCode, item.success].join(':');
    const hmacSignature = createHmac('sha256', Buffer.from(secret, 'hex')).update(data).digest('base64');
    return { headers: { 'content-type': 'application/json' }, body: json({ live: 'false', notificationItems: [{ NotificationRequestItem: { ...item, additionalData: { hmacSignature } } }] }) };
  },
});
// Braintree: bt_signature / bt_payload form, HMAC-SHA1 with SHA-1(private key) (braintree_node digest.js)
CASES.push({
  scheme: 'braintree',
  signer: "node:crypto as braintree_node's digest.js computes it",
  secret: 'e2e_public|e2e_private_key',
  other: 'e2e_public|e2e_other_private',
  signatureHeaders: [],
  // only bt_payload is signed (its test file changes it)
  bodySigned: false,
  sign: (secret) => {
    const [pub, priv] = secret.split('|') as [string, string];
    const payload = Buffer.from(`<notification><kind>check</kind><id>${uid()}</id></notification>`).toString('base64');
    const sig = createHmac('sha1', createHash('sha1').update(priv).digest()).update(payload).digest('hex');
    return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(new URLSearchParams({ bt_signature: `${pub}|${sig}`, bt_payload: payload }).toString()) };
  },
});
// the standard scheme under the names of the providers that send it
for (const name of PROVIDER_NAMES.filter((n) => n !== 'standard' && getScheme(n)!.info?.family === 'standard-webhooks' && getScheme(n)!.info?.secret === 'whsec')) {
  CASES.push({
    scheme: name,
    signer: 'standardwebhooks Webhook#sign',
    secret: 'whsec_' + Buffer.from(`e2e-${name}-secret-0123456789abcdef`).toString('base64'),
    other: 'whsec_' + Buffer.from(`e2e-${name}-other-0123456789abcdefg`).toString('base64'),
    signatureHeaders: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    sign: (secret) => {
      const id = `msg_${uid()}`;
      const at = new Date();
      const body = json({ type: 'user.created', data: { id } });
      return { headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body.toString('utf8')) }, body };
    },
  });
}

const label = (c: Case) => c.label ?? c.scheme;

/** One byte of a signed value changed, the bytes around it still well-formed (a letter becomes the next letter). */
function changeByte(body: Buffer): Buffer {
  const c = Buffer.from(body);
  for (let i = c.length - 1; i >= 0; i--) {
    if (c[i]! >= 0x62 && c[i]! <= 0x79) {
      c[i] = c[i]! + 1;
      return c;
    }
  }
  throw new Error('no letter to change');
}

async function harness(t: Test, c: Case) {
  const up = await startUpstream((r, res) => {
    res.statusCode = 202;
    res.setHeader('x-app', 'legacy');
    res.end(`app saw ${r.body.length} bytes`);
  });
  t.teardown(() => up.close());
  const path = `/s/${c.scheme}`;
  const config = testConfig(
    { upstream: { url: up.url }, routes: [{ path, provider: c.scheme, tenant: 'acme', secrets: ['env:SECRET'], ...c.route }] },
    { SECRET: c.secret },
  );
  const gw = await startTestGateway(config, c.start ?? {});
  t.teardown(() => gw.close());
  const send = async (d: Delivery) => {
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: d.headers, body: d.body });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  return { up, gw, path, send };
}

t.test('every scheme in the registry has a case here, and every case names a registered scheme', async (t) => {
  const covered = new Set(CASES.map((c) => c.scheme));
  for (const name of PROVIDER_NAMES) t.ok(covered.has(name), `${name} sends a genuine delivery and a forgery through the gateway`);
  for (const name of covered) t.ok(PROVIDER_NAMES.includes(name), `${name} is in the registry`);
  t.ok(PROVIDER_NAMES.length >= 22, 'the registry holds at least the 22 schemes of the contract');
});

for (const c of CASES) {
  t.test(`${label(c)}: a delivery signed by ${c.signer} is forwarded byte for byte with its signature headers`, async (t) => {
    const { up, path, send } = await harness(t, c);
    const d = await c.sign(c.secret, path);
    if (c.official) t.equal(await c.official(d, c.secret, path), true, "the provider's SDK accepts the test delivery");
    const res = await send(d);
    t.equal(res.status, 202, "the upstream's status");
    t.equal(res.headers['hookgate-outcome'], 'forwarded');
    t.equal(res.headers['x-app'], 'legacy', "the upstream's headers");
    t.equal(res.text, `app saw ${d.body.length} bytes`, "the upstream's body");
    t.equal(up.received.length, 1, 'the upstream received the delivery once');
    const got = up.received[0]!;
    t.equal(got.method, 'POST');
    t.equal(got.url, path);
    t.ok(got.body.equals(d.body), 'the exact bytes');
    for (const h of c.signatureHeaders) t.equal(got.headers[h], d.headers[h], `${h} arrives unchanged`);
    t.equal(got.headers['hookgate-provider'], c.scheme);
    t.equal(got.headers['hookgate-tenant'], 'acme');
    t.type(got.headers['hookgate-idempotency-key'], 'string', 'a key is named');
  });

  t.test(`${label(c)}: a delivery signed with a wrong secret is refused 401 and never forwarded`, async (t) => {
    const { up, path, send } = await harness(t, c);
    const d = await c.sign(c.other, path);
    const res = await send(d);
    t.equal(res.status, 401);
    t.equal(res.headers['hookgate-outcome'], 'signature_invalid');
    const body = JSON.parse(res.text) as { error: string; message: string };
    t.equal(body.error, 'signature_invalid');
    t.type(body.message, 'string');
    t.notOk(res.text.includes(c.secret) || res.text.includes(c.other), 'no secret in the answer');
    t.equal(up.received.length, 0, 'the upstream received nothing');
  });

  if (c.bodySigned !== false) {
    t.test(`${label(c)}: a genuine signature over one changed byte is refused 401 and never forwarded`, async (t) => {
      const { up, path, send } = await harness(t, c);
      const d = await c.sign(c.secret, path);
      const res = await send({ headers: d.headers, body: changeByte(d.body) });
      t.equal(res.status, 401);
      t.equal(res.headers['hookgate-outcome'], 'signature_invalid');
      t.equal(up.received.length, 0, 'the upstream received nothing');
    });
  }
}
