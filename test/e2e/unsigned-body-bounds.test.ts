// One client can stall the gateway (issue 13): on routes that parse the body before any MAC (Mailgun's
// signature lives in the body, Twilio signs form parameters, a per-tenant route reads its tenant from a
// `json:` field to choose the secrets), a body nested too deep or carrying too many form parameters is
// refused 400 malformed before it is parsed, and genuine deliveries still pass.
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import twilioSdk from 'twilio';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const MAILGUN_KEY = 'mailgun-signing-key-0123456789';
const TWILIO_TOKEN = 'twilio-auth-token-0123456789';
const ACME_GH = 'acme-github-secret';
const PUBLIC = 'https://hooks.example.com';

/** ~1 MB of JSON nested as deep as the bytes allow, inside an object so it looks like an event. */
const deepJson = (extra: Record<string, unknown> = {}) => {
  const n = 500_000;
  const head = JSON.stringify(extra).slice(0, -1);
  return Buffer.from(`${head}${head.length > 1 ? ',' : ''}"event-data":${'['.repeat(n)}${']'.repeat(n)}}`);
};

t.test('bodies parsed before the signature is checked are bounded', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(
    testConfig(
      {
        upstream: { url: up.url },
        routes: [
          { path: '/webhooks/mailgun', provider: 'mailgun', tenant: 'acme', secrets: ['env:MG'] },
          { path: '/webhooks/twilio', provider: 'twilio', tenant: 'acme', secrets: ['env:TW'], publicUrl: `${PUBLIC}/webhooks/twilio` },
          { path: '/webhooks/tenant-gh', provider: 'github', tenant: 'json:tenant', secrets: { acme: ['env:GH'] } },
        ],
      },
      { MG: MAILGUN_KEY, TW: TWILIO_TOKEN, GH: ACME_GH },
    ),
  );
  t.teardown(() => gw.close());

  const post = (path: string, headers: Record<string, string>, body: Buffer | string) => request(`${gw.url}${path}`, { method: 'POST', headers, body });
  const refusedMalformed = async (t: Test, res: Awaited<ReturnType<typeof request>>, what: RegExp) => {
    const body = (await res.body.json()) as { error: string; message: string };
    t.equal(res.statusCode, 400, 'status 400');
    t.equal(res.headers['hookgate-outcome'], 'malformed');
    t.equal(body.error, 'malformed');
    t.match(body.message, what, 'the message says what was refused');
    t.equal(up.received.length, 0, 'the upstream received nothing');
  };

  t.test('mailgun: a deeply nested JSON body', async (t) => {
    const ts = String(Math.floor(Date.now() / 1000));
    const token = 'b'.repeat(50);
    const signature = createHmac('sha256', MAILGUN_KEY).update(ts + token).digest('hex');
    await refusedMalformed(t, await post('/webhooks/mailgun', { 'content-type': 'application/json' }, deepJson({ signature: { timestamp: ts, token, signature } })), /deeper than \d+ levels/);
  });

  t.test('mailgun: a JSON body of many small members (its events are small)', async (t) => {
    const ts = String(Math.floor(Date.now() / 1000));
    const token = 'd'.repeat(50);
    const signature = createHmac('sha256', MAILGUN_KEY).update(ts + token).digest('hex');
    const wide = { signature: { timestamp: ts, token, signature }, 'event-data': Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, i])) };
    await refusedMalformed(t, await post('/webhooks/mailgun', { 'content-type': 'application/json' }, JSON.stringify(wide)), /more than \d+ JSON members and elements/);
  });

  t.test('mailgun: a form with too many parameters', async (t) => {
    await refusedMalformed(t, await post('/webhooks/mailgun', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1&'.repeat(200_000) + 'timestamp=1&token=x&signature=00'), /more than \d+ form parameters/);
  });

  t.test('twilio: a form with too many parameters', async (t) => {
    const body = 'a=1&'.repeat(200_000) + 'Body=hi';
    const sig = twilioSdk.getExpectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC}/webhooks/twilio`, {});
    await refusedMalformed(t, await post('/webhooks/twilio', { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, body), /more than \d+ form parameters/);
  });

  t.test('per-tenant route with a json: tenant: a deeply nested body', async (t) => {
    const body = deepJson({ tenant: 'acme' });
    const sig = await githubSign(ACME_GH, body.toString());
    await refusedMalformed(t, await post('/webhooks/tenant-gh', { 'content-type': 'application/json', 'x-hub-signature-256': sig }, body), /deeper than \d+ levels/);
  });

  t.test('genuine deliveries still pass, nesting and brackets in strings included', async (t) => {
    const ts = String(Math.floor(Date.now() / 1000));
    const token = 'c'.repeat(50);
    const signature = createHmac('sha256', MAILGUN_KEY).update(ts + token).digest('hex');
    const nested = { a: { b: { c: [1, [2, [3, { d: '[[[[{{{{ "\\" ]]' }]]] } } };
    let res = await post('/webhooks/mailgun', { 'content-type': 'application/json' }, JSON.stringify({ signature: { timestamp: ts, token, signature }, 'event-data': { event: 'delivered', nested } }));
    t.equal(res.statusCode, 200, 'mailgun JSON');
    await res.body.dump();

    const params = { MessageSid: 'SM' + '1'.repeat(32), From: '+15551230000', To: '+15559870000', Body: 'hello & [[[' };
    const sig = twilioSdk.getExpectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC}/webhooks/twilio`, params);
    res = await post('/webhooks/twilio', { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, new URLSearchParams(params).toString());
    t.equal(res.statusCode, 200, 'twilio form');
    await res.body.dump();

    const ghBody = JSON.stringify({ tenant: 'acme', action: 'opened', deep: nested });
    res = await post('/webhooks/tenant-gh', { 'content-type': 'application/json', 'x-hub-signature-256': await githubSign(ACME_GH, ghBody) }, ghBody);
    t.equal(res.statusCode, 200, 'per-tenant github');
    await res.body.dump();
    t.equal(up.received.length, 3, 'all three reached the upstream');
    t.equal(up.received.at(-1)!.headers['hookgate-tenant'], 'acme');
  });
});
