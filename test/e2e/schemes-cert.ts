// The certificate-URL schemes' cases for test/e2e/schemes.test.ts: the gateway's fetcher is injected
// (tests cannot reach PayPal or AWS) and serves certificates of a CA made for the run; signatures are
// computed with node:crypto from the documented constructions (no official offline verifier exists).
import { createPrivateKey, randomBytes, sign as rsaSign } from 'node:crypto';
import { crc32 } from '../../src/providers/cert-url.js';
import type { Fetcher } from '../../src/providers/remote.js';
import { testCa } from '../helpers/test-ca.js';

const ca = testCa();
process.once('exit', () => ca.close());
const PAYPAL = ca.issue('messageverificationcerts.paypal.com');
const SNS = ca.issue('sns.amazonaws.com');
const PAYPAL_URL = 'https://api.paypal.com/v1/notifications/certs/CERT-e2e';
const SNS_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-e2e.pem';
const uid = () => randomBytes(6).toString('hex');

const fetcher = Object.assign(
  async (url: URL): Promise<Buffer> => {
    if (url.href === PAYPAL_URL) return Buffer.from(PAYPAL.cert);
    if (url.href === SNS_URL) return Buffer.from(SNS.cert);
    throw new Error('404');
  },
  { trustedRoots: [ca.root] },
) as Fetcher;

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
];
