// PayPal and AWS SNS through a real gateway whose certificate fetcher is injected (tests cannot reach
// the providers): genuine deliveries forwarded, a certificate URL off the provider's hosts refused
// without a fetch, SNS subscription confirmations forwarded to the application (which confirms), and
// the CRC-32 attack on PayPal: a captured signature over a different body with the same CRC-32 verifies,
// and is answered as a duplicate because the key is the signed transmission id.
import t, { type Test } from 'tap';
import { createPrivateKey, sign as rsaSign } from 'node:crypto';
import { request } from 'undici';
import { crc32 } from '../../src/providers/cert-url.js';
import type { Fetcher } from '../../src/providers/remote.js';
import { openLedger } from '../../src/ledger/index.js';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { testCa } from '../helpers/test-ca.js';

const ca = testCa();
t.teardown(() => ca.close());
const PAYPAL = ca.issue('messageverificationcerts.paypal.com');
const SNS = ca.issue('sns.amazonaws.com');
const CERT_URL = 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270';
const SNS_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:orders';

const asked: string[] = [];
const fetcher = Object.assign(
  async (url: URL): Promise<Buffer> => {
    asked.push(url.href);
    if (url.href === CERT_URL) return Buffer.from(PAYPAL.cert);
    if (url.href === SNS_URL) return Buffer.from(SNS.cert);
    throw new Error('404');
  },
  { trustedRoots: [ca.root] },
) as Fetcher;

/** Four bytes that, appended, give `data` the CRC-32 `target` (CRC is linear: anyone can do this). */
function crcForge(data: Buffer, target: number): Buffer {
  const T = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    T[n] = c >>> 0;
  }
  const rev = new Map<number, number>();
  for (let i = 0; i < 256; i++) rev.set(T[i]! >>> 24, i);
  const fwd = (crc32(data) ^ 0xffffffff) >>> 0;
  let c = (target ^ 0xffffffff) >>> 0;
  for (let i = 0; i < 4; i++) {
    const idx = rev.get(c >>> 24)!;
    c = (((c ^ T[idx]!) << 8) | idx) >>> 0;
  }
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) out[i] = ((c ^ fwd) >>> (8 * i)) & 0xff;
  return Buffer.concat([data, out]);
}

function paypalHeaders(body: Buffer, id: string, certUrl = CERT_URL): Record<string, string> {
  const time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sig = rsaSign('sha256', Buffer.from(`${id}|${time}|WH-ID-1|${crc32(body)}`), createPrivateKey(PAYPAL.key)).toString('base64');
  return { 'content-type': 'application/json', 'paypal-transmission-id': id, 'paypal-transmission-time': time, 'paypal-transmission-sig': sig, 'paypal-cert-url': certUrl, 'paypal-auth-algo': 'SHA256withRSA' };
}

function snsBody(o: Record<string, string>): string {
  const e: Record<string, string> = { Type: 'Notification', MessageId: `m-${Math.random()}`, TopicArn: TOPIC, Message: '{"order":42}', Timestamp: new Date().toISOString(), SignatureVersion: '2', SigningCertURL: SNS_URL, ...o };
  const fields = e.Type === 'Notification' ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const str = fields.filter((f) => e[f] !== undefined).map((f) => `${f}\n${e[f]}\n`).join('');
  e.Signature = rsaSign('sha256', Buffer.from(str), createPrivateKey(SNS.key)).toString('base64');
  return JSON.stringify(e);
}

async function gateway(t: Test) {
  const up = await startUpstream((_r, res) => void res.end('ok'));
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/paypal', provider: 'paypal', tenant: 'acme', secrets: ['env:PAYPAL_WEBHOOK_ID'] },
        { path: '/sns', provider: 'aws-sns', tenant: 'acme', secrets: ['env:TOPIC'] },
      ],
    },
    { PAYPAL_WEBHOOK_ID: 'WH-ID-1', TOPIC },
  );
  const gw = await startTestGateway(config, { ledger, fetcher });
  t.teardown(() => gw.close());
  const send = async (path: string, headers: Record<string, string>, body: Buffer | string) => {
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers, body });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
  };
  return { up, send };
}

t.test('paypal through the gateway: forwarded with the transmission id as key; an off-host certificate URL is refused without a fetch', async (t) => {
  const { up, send } = await gateway(t);
  const body = Buffer.from('{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"amount":{"value":"1.00"}}}');
  const r = await send('/paypal', paypalHeaders(body, 'tx-1'), body);
  t.equal(r.outcome, 'forwarded');
  t.match(up.received[0]!.headers['hookgate-idempotency-key'], /\|acme\|id:tx-1$/);
  const before = asked.length;
  const evil = await send('/paypal', paypalHeaders(body, 'tx-2', 'https://evil.example.com/v1/notifications/certs/CERT-1'), body);
  t.equal(evil.status, 401);
  t.equal(asked.length, before, 'nothing fetched for the off-host URL');
  t.equal(up.received.length, 1);
});

t.test('attack: a captured PayPal signature over a CRC-matched body verifies but is a duplicate (key = transmission id)', async (t) => {
  const { up, send } = await gateway(t);
  const body = Buffer.from('{"id":"WH-9","amount":{"value":"1.00"}}');
  const headers = paypalHeaders(body, 'tx-crc');
  t.equal((await send('/paypal', headers, body)).outcome, 'forwarded');
  const forged = crcForge(Buffer.from('{"id":"WH-9","amount":{"value":"1000.00"},"x":"'), crc32(body));
  t.equal(crc32(forged), crc32(body), 'same CRC-32, other body');
  const r = await send('/paypal', headers, forged);
  t.equal(r.outcome, 'duplicate', 'the forged body is answered as the duplicate it is');
  t.equal(up.received.length, 1, 'the forged body never reached the upstream');
});

t.test('aws-sns through the gateway: notifications forwarded, subscription confirmations forwarded for the application to confirm, other topics refused', async (t) => {
  const { up, send } = await gateway(t);
  const n = await send('/sns', { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' }, snsBody({ Subject: 'order' }));
  t.equal(n.outcome, 'forwarded');
  const c = await send('/sns', { 'x-amz-sns-message-type': 'SubscriptionConfirmation' }, snsBody({ Type: 'SubscriptionConfirmation', Token: 'tok', SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok', Message: 'You have chosen to subscribe' }));
  t.equal(c.outcome, 'forwarded');
  t.equal(up.received.length, 2);
  t.match(JSON.parse(up.received[1]!.body.toString()), { Type: 'SubscriptionConfirmation', SubscribeURL: /ConfirmSubscription/ }, 'the application gets the SubscribeURL');
  const other = await send('/sns', {}, snsBody({ TopicArn: 'arn:aws:sns:us-east-1:999999999999:theirs' }));
  t.equal(other.status, 401, "an AWS-signed message from someone else's topic");
  t.equal(up.received.length, 2);
});
