// PayPal and AWS SNS, whose deliveries name the URL of their signing certificate: the verifier with the
// certificate resolved by the route's cache, fed by an injected fetcher and a locally made CA.
// Signatures are computed here with node:crypto from the documented constructions (neither provider
// has an official offline verifier package), independently of hookgate's signers.
import t from 'tap';
import { createPrivateKey, sign as rsaSign } from 'node:crypto';
import { getScheme } from '../../src/providers/index.js';
import { CertCache, crc32 } from '../../src/providers/cert-url.js';
import { PAYPAL_CERTS } from '../../src/providers/paypal.js';
import { snsStringToSign } from '../../src/providers/aws-sns.js';
import type { Fetcher, RemoteKeys } from '../../src/providers/remote.js';
import type { SchemeOptions, SignedRequest, Verdict } from '../../src/providers/types.js';
import { testCa } from '../helpers/test-ca.js';

const ca = testCa();
t.teardown(() => ca.close());
const PAYPAL_LEAF = ca.issue('messageverificationcerts.paypal.com');
const OTHER_LEAF = ca.issue('messageverificationcerts.paypal.com');
const WRONG_NAME = ca.issue('www.example.com');
const FORGED = ca.issue('messageverificationcerts.paypal.com', { selfSigned: true });
const SNS_LEAF = ca.issue('sns.amazonaws.com');

const CERT_URL = 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270';
const opts: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };

/** A fetcher serving fixed documents by URL, counting what it was asked. */
function fetcher(docs: Record<string, string>): Fetcher & { asked: string[] } {
  const asked: string[] = [];
  const f = (async (url: URL): Promise<Buffer> => {
    asked.push(url.href);
    const d = docs[url.href];
    if (d === undefined) throw new Error('404');
    return Buffer.from(d);
  }) as unknown as Fetcher & { asked: string[] };
  f.asked = asked;
  f.trustedRoots = [ca.root];
  return f;
}

// one resolver (one certificate cache) per route, as the verify stage builds it: here per fetcher
const resolvers = new Map<string, WeakMap<Fetcher, RemoteKeys>>();
async function run(provider: string, req: SignedRequest, secrets: string[], f: Fetcher, nowMs = Date.now()): Promise<Verdict> {
  const scheme = getScheme(provider)!;
  const byFetcher = resolvers.get(provider) ?? new WeakMap<Fetcher, RemoteKeys>();
  resolvers.set(provider, byFetcher);
  let remote = byFetcher.get(f);
  if (!remote) byFetcher.set(f, (remote = scheme.remote!(opts, f)));
  const r = await remote.resolve(req, nowMs);
  if (!r.ok) return { ok: false, code: r.code === 'keys_unavailable' ? 'signature_invalid' : r.code, message: `${r.code}: ${r.message}` };
  return scheme.verify(req, secrets.map((s) => scheme.key(s, opts)), opts, nowMs, r.material);
}

const BODY = Buffer.from('{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"amount":{"value":"10.00"}}}');
function paypalDelivery(key: string, o: { webhookId?: string; certUrl?: string; time?: string; body?: Buffer; id?: string } = {}): SignedRequest {
  const id = o.id ?? 'b2384410-f8d2-11ea-9a27-ff4d0c1a5e2b';
  const time = o.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const body = o.body ?? BODY;
  const sig = rsaSign('sha256', Buffer.from(`${id}|${time}|${o.webhookId ?? 'WH-ID-1'}|${crc32(body)}`), createPrivateKey(key)).toString('base64');
  return {
    method: 'POST',
    url: '/paypal',
    headers: { 'paypal-transmission-id': id, 'paypal-transmission-time': time, 'paypal-transmission-sig': sig, 'paypal-cert-url': o.certUrl ?? CERT_URL, 'paypal-auth-algo': 'SHA256withRSA' },
    body,
  };
}

t.test('crc32 is the IEEE CRC-32 PayPal uses (check value of "123456789")', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

t.test('paypal: a genuine delivery verifies with the certificate from its URL; the key is the signed transmission id', async (t) => {
  const f = fetcher({ [CERT_URL]: PAYPAL_LEAF.cert });
  const v = await run('paypal', paypalDelivery(PAYPAL_LEAF.key), ['WH-ID-0', 'WH-ID-1'], f);
  t.match(v, { ok: true, secretIndex: 1, id: 'b2384410-f8d2-11ea-9a27-ff4d0c1a5e2b' });
  t.match(await run('paypal', paypalDelivery(PAYPAL_LEAF.key, { webhookId: 'WH-OTHER' }), ['WH-ID-1'], f), { ok: false, code: 'signature_invalid' }, 'signed for another webhook id');
  t.match(await run('paypal', paypalDelivery(OTHER_LEAF.key), ['WH-ID-1'], f), { ok: false, code: 'signature_invalid' }, 'signed with another key');
  const changed = { ...paypalDelivery(PAYPAL_LEAF.key), body: Buffer.from(BODY.toString().replace('10.00', '99.00')) };
  t.match(await run('paypal', changed, ['WH-ID-1'], f), { ok: false, code: 'signature_invalid' }, 'a changed body (CRC differs)');
  const old = paypalDelivery(PAYPAL_LEAF.key, { time: new Date(Date.now() - 600_000).toISOString() });
  t.match(await run('paypal', old, ['WH-ID-1'], f), { ok: false, code: 'timestamp_out_of_tolerance' });
  t.equal(f.asked.length, 1, 'the certificate was fetched once and cached');
});

t.test('attack: a certificate URL outside PayPal\'s hosts is refused without any fetch', async (t) => {
  const evil = ['https://evil.example.com/v1/notifications/certs/CERT-1', 'http://api.paypal.com/v1/notifications/certs/CERT-1', 'https://api.paypal.com.evil.example.com/v1/notifications/certs/CERT-1', 'https://api.paypal.com/v1/other/CERT-1', 'https://user@api.paypal.com/v1/notifications/certs/CERT-1', 'https://api.paypal.com:8443/v1/notifications/certs/CERT-1', 'file:///etc/passwd'];
  const f = fetcher({});
  for (const url of evil) {
    const v = await run('paypal', paypalDelivery(FORGED.key, { certUrl: url }), ['WH-ID-1'], f);
    t.match(v, { ok: false, code: 'signature_invalid' }, url);
  }
  t.same(f.asked, [], 'nothing was fetched');
});

t.test('attack: certificates that are not PayPal\'s signing certificate are refused', async (t) => {
  const urls = { self: `${CERT_URL}-self`, name: `${CERT_URL}-name` };
  const f = fetcher({ [urls.self]: FORGED.cert, [urls.name]: WRONG_NAME.cert });
  t.match(await run('paypal', paypalDelivery(FORGED.key, { certUrl: urls.self }), ['WH-ID-1'], f), { ok: false, message: /trusted root/ }, 'self-signed in PayPal\'s name');
  t.match(await run('paypal', paypalDelivery(WRONG_NAME.key, { certUrl: urls.name }), ['WH-ID-1'], f), { ok: false, message: /not PayPal's signing certificate/ }, 'chained, but another name');
  const g = fetcher({ [CERT_URL]: PAYPAL_LEAF.cert });
  t.match(await run('paypal', paypalDelivery(PAYPAL_LEAF.key), ['WH-ID-1'], g, Date.now() + 5 * 86_400_000), { ok: false, message: /not valid now/ }, 'an expired certificate');
});

t.test('attack: new certificate URLs are fetched at most 10 a minute per route', async (t) => {
  const f = fetcher({});
  const cache = new CertCache(PAYPAL_CERTS, f);
  for (let i = 0; i < 30; i++) await cache.resolve(`${CERT_URL}-${i}`, 1_000_000);
  t.equal(f.asked.length, 10);
  await cache.resolve(`${CERT_URL}-x`, 1_000_000 + 61_000);
  t.equal(f.asked.length, 11, 'the next minute allows new ones again');
});

// ---- AWS SNS ----
const SNS_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:orders';
function snsMessage(key: string, o: Record<string, unknown> = {}, version = '2'): SignedRequest {
  const e: Record<string, unknown> = {
    Type: 'Notification',
    MessageId: 'da41e39f-ea4d-435a-b922-c6aae3915ebe',
    TopicArn: TOPIC,
    Subject: 'test',
    Message: '{"order":42}',
    Timestamp: new Date().toISOString(),
    SignatureVersion: version,
    SigningCertURL: SNS_URL,
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
    ...o,
  };
  const str = Object.entries({ Message: e.Message, MessageId: e.MessageId, ...(e.Type === 'Notification' ? (e.Subject !== undefined ? { Subject: e.Subject } : {}) : { SubscribeURL: e.SubscribeURL }), Timestamp: e.Timestamp, ...(e.Type === 'Notification' ? {} : { Token: e.Token }), TopicArn: e.TopicArn, Type: e.Type })
    .map(([k, v]) => `${k}\n${v}\n`)
    .join('');
  e.Signature = rsaSign(version === '1' ? 'sha1' : 'sha256', Buffer.from(str), createPrivateKey(key)).toString('base64');
  return { method: 'POST', url: '/sns', headers: { 'x-amz-sns-message-type': String(e.Type), 'content-type': 'text/plain; charset=UTF-8' }, body: Buffer.from(JSON.stringify(e)) };
}

t.test('aws-sns: notifications (v1 and v2) and subscription confirmations verify; the key is MessageId', async (t) => {
  const f = fetcher({ [SNS_URL]: SNS_LEAF.cert });
  t.match(await run('aws-sns', snsMessage(SNS_LEAF.key), [TOPIC], f), { ok: true, secretIndex: 0, id: 'da41e39f-ea4d-435a-b922-c6aae3915ebe' });
  t.match(await run('aws-sns', snsMessage(SNS_LEAF.key, {}, '1'), [TOPIC], f), { ok: true }, 'SignatureVersion 1 (SHA1withRSA)');
  t.match(await run('aws-sns', snsMessage(SNS_LEAF.key, { Subject: undefined }), [TOPIC], f), { ok: true }, 'without a Subject');
  const confirm = snsMessage(SNS_LEAF.key, { Type: 'SubscriptionConfirmation', Subject: undefined, Token: '2336412f37fb687f5d51e6e2425', SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=2336412f37fb687f5d51e6e2425', Message: 'You have chosen to subscribe' });
  t.match(await run('aws-sns', confirm, [TOPIC], f), { ok: true }, 'SubscriptionConfirmation');
  t.ok(snsStringToSign(JSON.parse(confirm.body.toString())));
  t.match(await run('aws-sns', snsMessage(SNS_LEAF.key), ['arn:aws:sns:us-east-1:123456789012:other'], f), { ok: false, code: 'signature_invalid', message: /topic/ }, "AWS-signed, but another account's topic");
  const changed = snsMessage(SNS_LEAF.key);
  changed.body = Buffer.from(changed.body.toString().replace('{\\"order\\":42}', '{\\"order\\":43}'));
  t.match(await run('aws-sns', changed, [TOPIC], f), { ok: false, code: 'signature_invalid' }, 'a changed Message');
  t.match(await run('aws-sns', snsMessage(FORGED.key), [TOPIC], f), { ok: false, code: 'signature_invalid' }, 'signed with another key');
});

t.test('attack: an SNS certificate URL off the SNS hosts, or in another region than the topic, is refused without a fetch', async (t) => {
  const f = fetcher({});
  for (const url of ['https://sns.us-east-1.amazonaws.com.evil.example.com/x.pem', 'https://evil.example.com/SimpleNotificationService.pem', 'http://sns.us-east-1.amazonaws.com/x.pem', 'https://sns.us-east-1.amazonaws.com/x.txt', 'https://sns.eu-west-1.amazonaws.com/x.pem']) {
    t.match(await run('aws-sns', snsMessage(FORGED.key, { SigningCertURL: url }), [TOPIC], f), { ok: false, code: 'signature_invalid' }, url);
  }
  t.same(f.asked, []);
  t.throws(() => getScheme('aws-sns')!.key('not-an-arn', opts), /topic ARN/);
});

t.test('hookgate sign: paypal and aws-sns deliveries verify with the matching certificate', async (t) => {
  const input = { secret: PAYPAL_LEAF.key, body: BODY, url: '', method: 'POST', timestamp: Math.floor(Date.now() / 1000), id: 'tx-1' };
  const h = getScheme('paypal')!.sign(input);
  const f = fetcher({ [h['PAYPAL-CERT-URL']!]: PAYPAL_LEAF.cert });
  // the sandbox host serves the same test certificate here; its CN is the production name, which PayPal's rule accepts
  const req = { method: 'POST', url: '/p', headers: Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])), body: BODY };
  t.match(await run('paypal', req, ['WEBHOOK_ID'], f), { ok: true, id: 'tx-1' });
  const sns = getScheme('aws-sns')!;
  const body = sns.signBody!({ ...input, secret: SNS_LEAF.key, body: Buffer.from('hello') });
  const url = (JSON.parse(body.toString()) as { SigningCertURL: string }).SigningCertURL;
  t.match(await run('aws-sns', { method: 'POST', url: '/s', headers: {}, body }, ['arn:aws:sns:us-east-1:123456789012:hookgate'], fetcher({ [url]: SNS_LEAF.cert })), { ok: true, id: 'tx-1' });
});

t.test('the verifiers never throw on a certificate URL that is not a URL, even with a resolved certificate', async (t) => {
  const material = { url: CERT_URL, key: createPrivateKey(PAYPAL_LEAF.key) };
  const req = paypalDelivery(PAYPAL_LEAF.key, { certUrl: 'not a url' });
  t.match(getScheme('paypal')!.verify(req, ['WH-ID-1'], opts, Date.now(), material), { ok: false, code: 'signature_invalid' });
  const sns = snsMessage(SNS_LEAF.key, { SigningCertURL: '::' });
  t.match(getScheme('aws-sns')!.verify(sns, [TOPIC], opts, Date.now(), material), { ok: false, code: 'signature_invalid' });
});
