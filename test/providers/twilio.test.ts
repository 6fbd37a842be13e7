import t from 'tap';
import twilioSdk from 'twilio';
import { twilio } from '../../src/providers/twilio.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';
import { runCommonCases } from './harness.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const opts = (publicUrl: string | null): SchemeOptions => ({ toleranceMs: 300_000, publicUrl });
const formBody = (params: Record<string, string>) => Buffer.from(new URLSearchParams(params).toString());
function req(url: string, body: Buffer, headers: Record<string, string | string[]>): SignedRequest {
  return { method: 'POST', url, headers: { ...FORM, ...headers }, body };
}
const verify = (r: SignedRequest, secrets: string[], publicUrl: string | null) =>
  twilio.verify(r, secrets.map((s) => twilio.key(s, opts(publicUrl))), opts(publicUrl), 0);

// Twilio's webhook-security docs example and twilio-node's own fixture (providers.md §3.6, §5.1)
const DOC_PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' };
const SDK_PARAMS = { ...DOC_PARAMS, Caller: '+14158675309', From: '+14158675309' };

t.test('published vectors verify: the docs example and the twilio-node fixture', async (t) => {
  const r1 = req('/myapp.php?foo=1&bar=2', formBody(DOC_PARAMS), { 'x-twilio-signature': 'GvWf1cFY/Q7PnoempGyD5oXAezc=' });
  t.match(verify(r1, ['12345'], 'https://mycompany.com/myapp.php'), { ok: true, secretIndex: 0 });
  const r2 = req('/myapp.php?foo=1&bar=2', formBody(SDK_PARAMS), { 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' });
  t.match(verify(r2, ['12345'], 'https://mycompany.com/myapp.php'), { ok: true, secretIndex: 0 });
  // the docs signature does not fit the fixture's parameters
  const r3 = req('/myapp.php?foo=1&bar=2', formBody(SDK_PARAMS), { 'x-twilio-signature': 'GvWf1cFY/Q7PnoempGyD5oXAezc=' });
  t.match(verify(r3, ['12345'], 'https://mycompany.com/myapp.php'), { ok: false, code: 'signature_invalid' });
});

const TOKEN = 'test_secret_0123456789';
const URL_ = 'https://gw.example.com/twilio/sms?tenant=a';
const PARAMS = { Body: 'hello', From: '+15005550006', MessageSid: 'SM123', To: '+15005550001' };
const sign = (url: string, body: Buffer, secret = TOKEN) =>
  twilio.sign({ secret, body, url, method: 'POST', timestamp: 0, id: '' })['X-Twilio-Signature']!;

t.test('sign() agrees with twilio-node and the self-computed fixture', async (t) => {
  const sig = sign(URL_, formBody(PARAMS));
  t.equal(sig, 'xM917+XXAt4+2li3nXOUU317f3o=');
  t.equal(sig, twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, PARAMS));
  t.ok(twilioSdk.validateRequest(TOKEN, sig, URL_, PARAMS));
  const r = req('/twilio/sms?tenant=a', formBody(PARAMS), { 'x-twilio-signature': sig });
  const v = verify(r, [TOKEN], 'https://gw.example.com/twilio/sms');
  t.match(v, { ok: true, secretIndex: 0 });
  t.notOk('id' in v, 'no signed id: the key is the digest (I-Twilio-Idempotency-Token is not signed)');
  t.notOk('timestamp' in v);
});

t.test('a changed byte, a wrong token, a changed query fail; rotation reports the index', async (t) => {
  const body = formBody(PARAMS);
  const sig = sign(URL_, body);
  const changed = Buffer.from(body);
  changed[changed.length - 1] = changed[changed.length - 1]! ^ 1;
  t.match(verify(req('/twilio/sms?tenant=a', changed, { 'x-twilio-signature': sig }), [TOKEN], 'https://gw.example.com/twilio/sms'), {
    ok: false,
    code: 'signature_invalid',
  });
  t.match(verify(req('/twilio/sms?tenant=b', body, { 'x-twilio-signature': sig }), [TOKEN], 'https://gw.example.com/twilio/sms'), {
    ok: false,
    code: 'signature_invalid',
  });
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': sig }), ['other'], 'https://gw.example.com/twilio/sms'), {
    ok: false,
    code: 'signature_invalid',
  });
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': sig }), ['other', TOKEN], 'https://gw.example.com/twilio/sms'), {
    ok: true,
    secretIndex: 1,
  });
});

t.test('attack: a captured delivery with a byte that is not UTF-8 (%80) cannot be re-sent with another (%81) under its signature', async (t) => {
  // twilio-node signs the decoded parameters; a form parser decodes both escapes to U+FFFD
  const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, { ...PARAMS, Body: 'a\uFFFDb' });
  const captured = Buffer.from('Body=a%80b&From=%2B15005550006&MessageSid=SM123&To=%2B15005550001');
  const forged = Buffer.from('Body=a%81b&From=%2B15005550006&MessageSid=SM123&To=%2B15005550001');
  for (const body of [captured, forged]) {
    t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': sig }), [TOKEN], URL_), { ok: false, code: 'malformed', message: /does not decode to UTF-8/ });
  }
  // a raw byte that is not UTF-8 decodes to U+FFFD too
  const raw = Buffer.concat([Buffer.from('Body=a'), Buffer.from([0xff]), Buffer.from('b&From=%2B15005550006&MessageSid=SM123&To=%2B15005550001')]);
  t.match(verify(req('/twilio/sms?tenant=a', raw, { 'x-twilio-signature': sig }), [TOKEN], URL_), { ok: false, code: 'malformed' });
  // the same text sent as UTF-8 (U+FFFD itself, %EF%BF%BD) is the delivery that was signed
  const utf8 = Buffer.from('Body=a%EF%BF%BDb&From=%2B15005550006&MessageSid=SM123&To=%2B15005550001');
  t.match(verify(req('/twilio/sms?tenant=a', utf8, { 'x-twilio-signature': sig }), [TOKEN], URL_), { ok: true });
});

t.test('publicUrl variants: default port either way, query appended or fixed, path from publicUrl', async (t) => {
  const body = formBody(PARAMS);
  // Twilio signed the URL with :443; the route's publicUrl has none (and the other way round)
  const withPort = sign('https://gw.example.com:443/twilio/sms?tenant=a', body);
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': withPort }), [TOKEN], 'https://gw.example.com/twilio/sms'), { ok: true });
  const noPort = sign(URL_, body);
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': noPort }), [TOKEN], 'https://gw.example.com:443/twilio/sms'), { ok: true });
  // http and :80
  const http80 = sign('http://gw.example.com:80/twilio/sms', body);
  t.match(verify(req('/twilio/sms', body, { 'x-twilio-signature': http80 }), [TOKEN], 'http://gw.example.com/twilio/sms'), { ok: true });
  // a non-default port is part of the URL
  const port8443 = sign('https://gw.example.com:8443/twilio/sms', body);
  t.match(verify(req('/twilio/sms', body, { 'x-twilio-signature': port8443 }), [TOKEN], 'https://gw.example.com/twilio/sms'), { ok: false });
  // the pod sees another path behind the ingress: publicUrl's path is used
  t.match(verify(req('/internal/hook?tenant=a', body, { 'x-twilio-signature': noPort }), [TOKEN], 'https://gw.example.com/twilio/sms'), { ok: true });
  // publicUrl with a query is the complete URL; the request's query is ignored
  t.match(verify(req('/twilio/sms?tenant=zzz', body, { 'x-twilio-signature': noPort }), [TOKEN], URL_), { ok: true });
  // a different host in publicUrl fails
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': noPort }), [TOKEN], 'https://pod.internal/twilio/sms'), {
    ok: false,
    code: 'signature_invalid',
  });
  // a connection-override fragment may or may not be signed: both verify
  const frag = 'https://gw.example.com/twilio/sms#rc=3&ct=2000';
  t.match(verify(req('/twilio/sms', body, { 'x-twilio-signature': sign(frag, body) }), [TOKEN], frag), { ok: true });
  t.match(verify(req('/twilio/sms', body, { 'x-twilio-signature': sign('https://gw.example.com/twilio/sms', body) }), [TOKEN], frag), { ok: true });
});

t.test('without publicUrl nothing verifies, and the message says why', async (t) => {
  const v = verify(req('/twilio/sms?tenant=a', formBody(PARAMS), { 'x-twilio-signature': sign(URL_, formBody(PARAMS)) }), [TOKEN], null);
  t.match(v, { ok: false, code: 'signature_invalid', message: /publicUrl/ });
  t.equal(twilio.urlSigned, true);
});

t.test('repeated parameters are de-duplicated and sorted as twilio-node does', async (t) => {
  const body = Buffer.from('b=x&a=2&a=1&a=2&c=%2B1+2');
  const url = 'https://gw.example.com/twilio/sms';
  const sdk = twilioSdk.getExpectedTwilioSignature(TOKEN, url, { b: 'x', a: ['2', '1', '2'], c: '+1 2' });
  t.equal(sign(url, body), sdk);
  t.match(verify(req('/twilio/sms', body, { 'x-twilio-signature': sdk }), [TOKEN], url), { ok: true });
});

t.test('JSON bodies: the URL carries bodySHA256 and the body must hash to it', async (t) => {
  const json = Buffer.from('{"event":"x", "n": 1}\n');
  const hash = twilioSdk.getExpectedBodyHash(json.toString());
  const url = `https://gw.example.com/twilio/events?bodySHA256=${hash}`;
  const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, url, {});
  t.ok(twilioSdk.validateRequestWithBody(TOKEN, sig, url, json.toString()), 'twilio-node accepts the test delivery');
  t.equal(sign(url, json), sig, 'sign() agrees with twilio-node');
  const jsonReq = (body: Buffer, target = `/twilio/events?bodySHA256=${hash}`) =>
    ({ method: 'POST', url: target, headers: { 'content-type': 'application/json', 'x-twilio-signature': sig }, body }) as SignedRequest;
  t.match(verify(jsonReq(json), [TOKEN], 'https://gw.example.com/twilio/events'), { ok: true, secretIndex: 0 });
  const changed = Buffer.from(json);
  changed[2] = 0x66;
  t.match(verify(jsonReq(changed), [TOKEN], 'https://gw.example.com/twilio/events'), { ok: false, code: 'signature_invalid', message: /bodySHA256/ });
  t.match(verify(jsonReq(json, `/twilio/events?bodySHA256=${'0'.repeat(64)}`), [TOKEN], 'https://gw.example.com/twilio/events'), {
    ok: false,
    code: 'signature_invalid',
  });
  // a JSON body without bodySHA256 cannot be a Twilio delivery
  t.match(verify(jsonReq(json, '/twilio/events'), [TOKEN], 'https://gw.example.com/twilio/events'), { ok: false, code: 'malformed' });
  t.throws(() => sign('https://gw.example.com/twilio/events', json), /bodySHA256=/);
});

t.test('SharedKey rules: the settings header selects HMAC-SHA256', async (t) => {
  const body = formBody(PARAMS);
  const sig = twilioSdk.getExpectedTwilioSignature('shared-key-secret', URL_, PARAMS, 'HMAC_SHA256');
  const settings = 'key=webhooks_sharedkey_123,algorithm=HMAC_SHA256';
  const pub = 'https://gw.example.com/twilio/sms';
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': sig, 'x-twilio-webhooks-signature-settings': settings }), [TOKEN, 'shared-key-secret'], pub), {
    ok: true,
    secretIndex: 1,
  });
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': sig }), ['shared-key-secret'], pub), { ok: false, code: 'signature_invalid' });
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': sig, 'x-twilio-webhooks-signature-settings': 'algorithm=HMAC_MD5' }), ['shared-key-secret'], pub), {
    ok: false,
    code: 'malformed',
  });
});

t.test('the verdict carries the digest of what was signed: URL and parameters, not the body', async (t) => {
  const digest = (url: string, body: Buffer) => {
    const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, `https://gw.example.com${url}`, Object.fromEntries(new URLSearchParams(body.toString())));
    const v = twilio.verify({ method: 'GET', url, headers: { 'x-twilio-signature': sig, ...FORM }, body }, [twilio.key(TOKEN, opts(null))], opts('https://gw.example.com/twilio/sms'), 0);
    return v.ok ? v.digest : v.code;
  };
  const empty = Buffer.alloc(0);
  const a = digest('/twilio/sms?MessageSid=SM1', empty);
  t.match(a, /^[0-9a-f]{64}$/);
  t.not(a, digest('/twilio/sms?MessageSid=SM2', empty), 'two GETs without a body: two digests');
  const form = formBody(PARAMS);
  const reordered = Buffer.from(new URLSearchParams(Object.entries(PARAMS).reverse()).toString());
  t.equal(digest('/twilio/sms', form), digest('/twilio/sms', reordered), 'the same signed parameters in another order: one digest');
});

t.test('missing, duplicated and unparseable signature headers', async (t) => {
  const body = formBody(PARAMS);
  const pub = 'https://gw.example.com/twilio/sms';
  t.match(verify(req('/twilio/sms?tenant=a', body, {}), [TOKEN], pub), { ok: false, code: 'signature_missing' });
  const sig = sign(URL_, body);
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': [sig, sig] }), [TOKEN], pub), { ok: false, code: 'malformed' });
  t.match(verify(req('/twilio/sms?tenant=a', body, { 'x-twilio-signature': 'not base64!' }), [TOKEN], pub), { ok: false, code: 'malformed' });
});

t.test('sign() sends the idempotency token header Twilio sends (unsigned)', async (t) => {
  const h = twilio.sign({ secret: TOKEN, body: formBody(PARAMS), url: URL_, method: 'POST', timestamp: 0, id: 'idem-1' });
  t.same(Object.keys(h).sort(), ['I-Twilio-Idempotency-Token', 'X-Twilio-Signature']);
  t.same(twilio.signedHeaders, []);
  t.throws(() => twilio.key('', opts(null)), /empty/);
});

// the cases every scheme passes (test/providers/harness.ts), with the delivery signed by twilio-node
runCommonCases(t, {
  name: 'twilio',
  other: 'other_auth_token',
  signer: 'twilio-node getExpectedTwilioSignature',
  sign: (secret) => ({
    headers: { 'X-Twilio-Signature': twilioSdk.getExpectedTwilioSignature(secret, 'https://hooks.example.com/hook', PARAMS) },
    body: formBody(PARAMS),
  }),
  header: 'x-twilio-signature',
  timestamped: false,
  id: undefined,
  opts: { publicUrl: 'https://hooks.example.com/hook' },
});
