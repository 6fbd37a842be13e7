// The certificate-URL schemes' cases for test/e2e/schemes.test.ts: the gateway's fetcher is injected
// (tests cannot reach PayPal or AWS) and serves certificates of a CA made for the run; signatures are
// computed with node:crypto from the documented constructions (no official offline verifier exists).
import { createPrivateKey, generateKeyPairSync, randomBytes, sign as rsaSign, X509Certificate, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { crc32 } from '../../src/providers/cert-url.js';
import type { Fetcher } from '../../src/providers/remote.js';
import { appleLikeChain, testCa } from '../helpers/test-ca.js';

const ca = testCa();
const APPLE = [appleLikeChain(), appleLikeChain()];
process.once('exit', () => [ca, ...APPLE].forEach((c) => c.close()));
const PAYPAL = ca.issue('messageverificationcerts.paypal.com');
const SNS = ca.issue('sns.amazonaws.com');
const PAYPAL_URL = 'https://api.paypal.com/v1/notifications/certs/CERT-e2e';
const SNS_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-e2e.pem';
const uid = () => randomBytes(6).toString('hex');
const edPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { pub: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'), key: privateKey };
};
const rsaPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pub: publicKey.export({ format: 'pem', type: 'spki' }).toString(), key: privateKey };
};
const ED = [edPair(), edPair()];
const RSA = [rsaPair(), rsaPair()];

const fetcher = Object.assign(
  async (url: URL): Promise<Buffer> => {
    if (url.href === PAYPAL_URL) return Buffer.from(PAYPAL.cert);
    if (url.href === SNS_URL) return Buffer.from(SNS.cert);
    throw new Error('404');
  },
  { trustedRoots: [ca.root] },
) as Fetcher;
// Apple's root is pinned; the test chain's root stands in for it (fetcher.trustedRoots, tests only)
const appleTrust = Object.assign(async (): Promise<Buffer> => Buffer.alloc(0), { trustedRoots: [APPLE[0]!.root] }) as Fetcher;

export const CERT_CASES = [
  {
    scheme: 'paypal',
    signer: 'node:crypto SHA256withRSA over id|time|webhook id|crc32 (a local CA certificate)',
    secret: 'WH-E2E-WEBHOOK-1',
    other: 'WH-E2E-WEBHOOK-2',
    start: { fetcher },
    signatureHeaders: ['paypal-transmission-id', 'paypal-transmission-time', 'paypal-transmission-sig', 'paypal-cert-url', 'paypal-auth-algo'],
    sign: (webhookId: string) => {
      const body = Buffer.from(JSON.stringify({ id: `WH-${uid()}`, event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { amount: { value: '10.00' } } }));
      const id = uid();
      const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const sig = rsaSign('sha256', Buffer.from(`${id}|${time}|${webhookId}|${crc32(body)}`), createPrivateKey(PAYPAL.key)).toString('base64');
      return { headers: { 'content-type': 'application/json', 'paypal-transmission-id': id, 'paypal-transmission-time': time, 'paypal-transmission-sig': sig, 'paypal-cert-url': PAYPAL_URL, 'paypal-auth-algo': 'SHA256withRSA' }, body };
    },
  },
  {
    scheme: 'aws-sns',
    signer: 'node:crypto SHA256withRSA over the SNS string to sign (a local CA certificate)',
    secret: 'arn:aws:sns:us-east-1:123456789012:e2e-orders',
    other: 'arn:aws:sns:us-east-1:210987654321:someone-else',
    start: { fetcher },
    signatureHeaders: ['x-amz-sns-message-type'],
    sign: (topic: string) => {
      const e: Record<string, string> = { Type: 'Notification', MessageId: uid(), TopicArn: topic, Subject: 'order', Message: `{"order":"${uid()}"}`, Timestamp: new Date().toISOString(), SignatureVersion: '2', SigningCertURL: SNS_URL };
      const str = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'].map((f) => `${f}\n${e[f]}\n`).join('');
      e.Signature = rsaSign('sha256', Buffer.from(str), createPrivateKey(SNS.key)).toString('base64');
      return { headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' }, body: Buffer.from(JSON.stringify(e)) };
    },
  },
  {
    scheme: 'apple-app-store',
    signer: 'jose CompactSign (ES256 with an x5c chain in Apple\'s shape)',
    secret: 'com.example.e2e',
    other: 'com.example.someone-else',
    start: { fetcher: appleTrust },
    signatureHeaders: [],
    bodySigned: false, // the token is signed, the {"signedPayload": …} wrapper is not
    sign: async (bundle: string) => {
      const c = APPLE[0]!;
      const x5c = [c.leaf, c.inter, c.root].map((p) => new X509Certificate(p).raw.toString('base64'));
      const payload = { notificationType: 'DID_RENEW', notificationUUID: uid(), data: { bundleId: bundle, environment: 'Sandbox' }, version: '2.0', signedDate: Date.now() };
      const jws = await new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg: 'ES256', x5c }).sign(createPrivateKey(c.leafKey));
      return { headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ signedPayload: jws })) };
    },
  },
  // public keys published by the provider (no fetch): telnyx Ed25519, wise RSA
  {
    scheme: 'telnyx',
    signer: 'node:crypto Ed25519 over timestamp|body (as the official telnyx SDKs verify)',
    secret: ED[0]!.pub,
    other: ED[1]!.pub,
    signatureHeaders: ['telnyx-signature-ed25519', 'telnyx-timestamp'],
    sign: (pub: string) => {
      const ts = String(Math.floor(Date.now() / 1000));
      const body = Buffer.from(JSON.stringify({ data: { event_type: 'message.received', id: uid(), payload: { text: 'hi' } } }));
      return { headers: { 'content-type': 'application/json', 'telnyx-signature-ed25519': rsaSign(null, Buffer.concat([Buffer.from(`${ts}|`), body]), keyOf(ED, pub)).toString('base64'), 'telnyx-timestamp': ts }, body };
    },
  },
  {
    scheme: 'wise',
    signer: 'node:crypto SHA256withRSA over the body',
    secret: RSA[0]!.pub,
    other: RSA[1]!.pub,
    signatureHeaders: ['x-signature-sha256'],
    sign: (pub: string) => {
      const body = Buffer.from(JSON.stringify({ data: { resource: { id: Number.parseInt(uid(), 16), type: 'transfer' }, current_state: 'outgoing_payment_sent' }, event_type: 'transfers#state-change' }));
      return { headers: { 'content-type': 'application/json', 'x-signature-sha256': rsaSign('sha256', body, keyOf(RSA, pub)).toString('base64'), 'x-delivery-id': uid() }, body };
    },
  },
];

type Pair = { pub: string; key: KeyObject };
function keyOf(pairs: Pair[], pub: string): KeyObject {
  return pairs.find((p) => p.pub === pub)!.key;
}
