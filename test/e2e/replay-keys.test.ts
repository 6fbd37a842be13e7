// Replays that used to get a new idempotency key, and genuine deliveries that used to share one
// (issue 13, "Replays that get a new key"). Each test performs the attack against a real gateway with
// the providers' official signers; where the fix is to refuse the configuration, the test asserts the
// refusal (naming the route) and, should the configuration ever load again, still performs the attack.
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import Stripe from 'stripe';
import twilioSdk from 'twilio';
import { Signature as HubSpotSignature } from '@hubspot/api-client';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { ConfigError, type Config } from '../../src/config/load.js';
import { openLedger } from '../../src/ledger/index.js';
import { openEmbeddedLedger } from '../../src/ledger/embedded.js';

const stripe = new Stripe('sk_test_dummy');

/** A gateway with a ledger of its own (embedded, in memory), as `hookgate run` has. */
async function start(t: Test, config: Config): Promise<TestGateway> {
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 100, migrate: true });
  const gw = await startTestGateway(config, { ledger });
  t.teardown(() => gw.close());
  return gw;
}

async function post(url: string, headers: Record<string, string>, body: string | Buffer, method = 'POST') {
  const res = await request(url, { method, headers, ...(method === 'GET' ? {} : { body }) });
  const text = await res.body.text();
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text };
}

/** The same request again, once the claim of an earlier one has settled (no 409 in_flight left). */
async function again(url: string, headers: Record<string, string>, body: string | Buffer, method = 'POST') {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await post(url, headers, body, method);
    if (r.outcome !== 'in_flight' || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A configuration the fix refuses. `refusal` must name the route and what to do; if it loads anyway,
 * the attack runs against a real gateway and must not get through.
 */
async function refusedOrHeld(
  t: Test,
  doc: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  refusal: RegExp,
  attack: (gw: TestGateway, up: Upstream, config: Config) => Promise<void>,
): Promise<void> {
  const up = await startUpstream();
  t.teardown(() => up.close());
  let config;
  try {
    config = testConfig({ upstream: { url: up.url }, ...doc }, env);
  } catch (err) {
    t.type(err, ConfigError);
    t.match((err as ConfigError).problems.join('\n'), refusal, 'refused, naming the route and what to do instead');
    for (const v of Object.values(env)) t.notMatch((err as Error).message, v!, 'no secret in the message');
    return;
  }
  t.fail(`the configuration was accepted (expected ${refusal})`);
  await attack(await start(t, config), up, config);
}

t.test('tenant from the request with one secret list', async (t) => {
  const SECRET = 'gh-shared-secret-1';
  t.test('param: a captured delivery is not accepted again under another tenant name', async (t) => {
    await refusedOrHeld(t,
      { routes: [{ path: '/webhooks/:tenant/github', provider: 'github', tenant: 'param:tenant', secrets: ['env:GH'] }] },
      { GH: SECRET },
      /routes\[0\]\.tenant: param:tenant .*one secret list.*map from tenant to its own secrets/,
      async (gw, up) => {
        const body = '{"action":"opened","number":1}';
        const headers = { 'content-type': 'application/json', 'x-hub-signature-256': await githubSign(SECRET, body) };
        t.equal((await post(`${gw.url}/webhooks/acme/github`, headers, body)).outcome, 'forwarded');
        for (const forged of ['globex', 'initech', 'umbrella']) await again(`${gw.url}/webhooks/${forged}/github`, headers, body);
        t.equal(up.received.length, 1, 'the capture reached the upstream once');
      });
  });
  t.test('header: a captured delivery is not accepted again under another tenant name', async (t) => {
    await refusedOrHeld(t,
      { routes: [{ path: '/webhooks/github', provider: 'github', tenant: 'header:X-Tenant', secrets: ['env:GH'] }] },
      { GH: SECRET },
      /routes\[0\]\.tenant: header:X-Tenant .*one secret list.*map from tenant to its own secrets/,
      async (gw, up) => {
        const body = '{"action":"opened","number":2}';
        const sig = await githubSign(SECRET, body);
        for (const tenant of ['acme', 'globex', 'initech']) await again(`${gw.url}/webhooks/github`, { 'x-tenant': tenant, 'x-hub-signature-256': sig }, body);
        t.equal(up.received.length, 1, 'the capture reached the upstream once');
      });
  });
});

t.test('one secret under two tenants', async (t) => {
  const SECRET = 'gh-reused-secret-2';
  t.test('of one route: a capture for one tenant is not forwarded again as the other', async (t) => {
    await refusedOrHeld(t,
      { routes: [{ path: '/webhooks/:tenant/github', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:A'], globex: ['env:B'] } }] },
      { A: SECRET, B: SECRET },
      /routes\[0\]\.secrets\.globex\[0\]: the same secret as routes\[0\]\.secrets\.acme\[0\] \(tenant acme\)/,
      async (gw, up) => {
        const body = '{"action":"opened","number":3}';
        const headers = { 'x-hub-signature-256': await githubSign(SECRET, body) };
        await post(`${gw.url}/webhooks/acme/github`, headers, body);
        await again(`${gw.url}/webhooks/globex/github`, headers, body);
        t.equal(up.received.length, 1, 'the capture reached the upstream once');
      });
  });
  t.test('of two routes: a capture for one route\'s tenant is not forwarded again as the other\'s', async (t) => {
    await refusedOrHeld(t,
      {
        routes: [
          { path: '/a/github', provider: 'github', tenant: 'acme', secrets: ['env:A'] },
          { path: '/b/github', provider: 'github', tenant: 'globex', secrets: ['env:B'] },
        ],
      },
      { A: SECRET, B: SECRET },
      /routes\[1\]\.secrets\[0\]: the same secret as routes\[0\]\.secrets\[0\] \(tenant acme\)/,
      async (gw, up) => {
        const body = '{"action":"opened","number":4}';
        const headers = { 'x-hub-signature-256': await githubSign(SECRET, body) };
        await post(`${gw.url}/a/github`, headers, body);
        await again(`${gw.url}/b/github`, headers, body);
        t.equal(up.received.length, 1, 'the capture reached the upstream once');
      });
  });
});

// Mailgun signs timestamp + token only (no official signing package: the documented HMAC recipe).
const MAILGUN_KEY = 'mailgun-signing-key-3';
function mailgunBody(eventData: Record<string, unknown>, token = 'a'.repeat(50)): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', MAILGUN_KEY).update(timestamp + token).digest('hex');
  return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
}

t.test('schemes that do not sign the body', async (t) => {
  t.test('mailgun, json: tenant: a captured signature is not forwarded again with a forged tenant', async (t) => {
    await refusedOrHeld(t,
      { routes: [{ path: '/mg', provider: 'mailgun', tenant: 'json:event-data.user-variables.tenant', secrets: ['env:MG'] }] },
      { MG: MAILGUN_KEY },
      /routes\[0\]\.tenant: mailgun does not sign the body.*json:event-data\.user-variables\.tenant/,
      async (gw, up) => {
        const token = 'b'.repeat(50);
        for (const tenant of ['acme', 'globex', 'initech'])
          await again(`${gw.url}/mg`, { 'content-type': 'application/json' }, mailgunBody({ 'user-variables': { tenant } }, token));
        t.equal(up.received.length, 1, 'the captured signature reached the upstream once');
      });
  });
  t.test('mailgun, json: idempotencyKey: a captured signature is not forwarded again with a forged id', async (t) => {
    await refusedOrHeld(t,
      { routes: [{ path: '/mg', provider: 'mailgun', tenant: 'acme', secrets: ['env:MG'], idempotencyKey: 'json:event-data.id' }] },
      { MG: MAILGUN_KEY },
      /routes\[0\]\.idempotencyKey: mailgun does not sign the body.*json:event-data\.id/,
      async (gw, up) => {
        const token = 'c'.repeat(50);
        for (const id of ['ev1', 'ev2', 'ev3']) await again(`${gw.url}/mg`, { 'content-type': 'application/json' }, mailgunBody({ id }, token));
        t.equal(up.received.length, 1, 'the captured signature reached the upstream once');
      });
  });
  t.test('gitlab token: json: idempotencyKey and json: tenant are refused (the token signs nothing)', async (t) => {
    await refusedOrHeld(t,
      { routes: [{ path: '/gl', provider: 'gitlab', tenant: 'json:project.namespace', secrets: ['env:GL'], idempotencyKey: 'json:object_attributes.id' }] },
      { GL: 'gitlab-secret-token-4' },
      /routes\[0\]\.tenant: gitlab does not sign the body[^\n]*\n?.*routes\[0\]\.idempotencyKey: gitlab does not sign the body/s,
      async (gw, up) => {
        for (const id of [1, 2]) await again(`${gw.url}/gl`, { 'x-gitlab-token': 'gitlab-secret-token-4' }, JSON.stringify({ project: { namespace: 'acme' }, object_attributes: { id: 7 }, x: id }));
        t.equal(up.received.length, 1);
      });
  });
});

t.test('standard with idempotencyKey: header:webhook-id', async (t) => {
  const SECRET = 'whsec_' + Buffer.from('standard-secret-5-0123456789').toString('base64');
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, routes: [{ path: '/std', provider: 'standard', tenant: 'acme', secrets: ['env:S'], idempotencyKey: 'header:webhook-id' }] }, { S: SECRET });
  const gw = await start(t, config);
  const body = '{"type":"user.created","data":{"id":"u1"}}';

  t.test('a delivery verified under svix-* names cannot bring its own webhook-id', async (t) => {
    const ts = new Date();
    const headers = { 'svix-id': 'msg_svix_1', 'svix-timestamp': String(Math.floor(ts.getTime() / 1000)), 'svix-signature': new SvixWebhook(SECRET).sign('msg_svix_1', ts, body) };
    const before = up.received.length;
    for (const forged of ['forged-1', 'forged-2', 'forged-3']) {
      const r = await again(`${gw.url}/std`, { ...headers, 'webhook-id': forged }, body);
      t.equal(r.status, 400, 'an override header the verification did not cover is malformed');
      t.equal(r.outcome, 'malformed');
    }
    t.equal(up.received.length, before, 'nothing forwarded');
  });
  t.test('the genuine webhook-* delivery keys on its signed webhook-id, once', async (t) => {
    const ts = new Date();
    const headers = { 'webhook-id': 'msg_std_1', 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': new StandardWebhook(SECRET).sign('msg_std_1', ts, body) };
    const before = up.received.length;
    t.equal((await post(`${gw.url}/std`, headers, body)).outcome, 'forwarded');
    t.equal((await again(`${gw.url}/std`, headers, body)).outcome, 'duplicate');
    t.equal(up.received.length, before + 1);
    t.match(up.received.at(-1)!.headers['hookgate-idempotency-key'], /msg_std_1$/);
  });
});

t.test('URL-signed schemes key on what they verified, not the body alone', async (t) => {
  const TOKEN = 'twilio-auth-token-6';
  const PUB = 'https://hooks.example.com/tw';
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/tw', provider: 'twilio', tenant: 'acme', methods: ['GET', 'POST'], secrets: ['env:TW'], publicUrl: PUB },
        { path: '/hs', provider: 'hubspot', tenant: 'acme', secrets: ['env:HS'], publicUrl: 'https://hooks.example.com/hs' },
      ],
    },
    { TW: TOKEN, HS: 'hubspot-client-secret-6' },
  );
  const gw = await start(t, config);

  t.test('twilio: two genuine GETs with different parameters are both forwarded; a replay is a duplicate', async (t) => {
    const before = up.received.length;
    const urls = [`${PUB}?MessageSid=SM1&Body=hello`, `${PUB}?MessageSid=SM2&Body=world`];
    const sigs = urls.map((u) => twilioSdk.getExpectedTwilioSignature(TOKEN, u, {}));
    t.ok(twilioSdk.validateRequest(TOKEN, sigs[0]!, urls[0]!, {}));
    for (let i = 0; i < urls.length; i++) {
      const r = await post(`${gw.url}/tw${urls[i]!.slice(PUB.length)}`, { 'x-twilio-signature': sigs[i]! }, '', 'GET');
      t.equal(r.outcome, 'forwarded', `message ${i + 1} reaches the application`);
    }
    t.equal((await again(`${gw.url}/tw${urls[0]!.slice(PUB.length)}`, { 'x-twilio-signature': sigs[0]! }, '', 'GET')).outcome, 'duplicate');
    t.equal(up.received.length, before + 2);
    t.not(up.received.at(-1)!.headers['hookgate-idempotency-key'], up.received.at(-2)!.headers['hookgate-idempotency-key']);
  });
  t.test('twilio: a form POST re-encoded or reordered is still the same signed delivery', async (t) => {
    const params = { From: '+15005550006', Body: 'hi there', MessageSid: 'SM3' };
    const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, PUB, params);
    const before = up.received.length;
    const form = { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig };
    t.equal((await post(`${gw.url}/tw`, form, new URLSearchParams(params).toString())).outcome, 'forwarded');
    const reordered = 'MessageSid=SM3&Body=hi%20there&From=%2B15005550006';
    t.equal((await again(`${gw.url}/tw`, form, reordered)).outcome, 'duplicate', 'the same signed parameters: the same key');
    t.equal(up.received.length, before + 1);
  });
  t.test('hubspot: the same body on two genuine URLs is two deliveries', async (t) => {
    const before = up.received.length;
    const body = '[{"eventId":1,"subscriptionType":"contact.creation"}]';
    for (const q of ['?portal=1', '?portal=2']) {
      const ts = Date.now();
      const sig = HubSpotSignature.getSignature('POST', 'v3', { signature: '', clientSecret: 'hubspot-client-secret-6', url: `https://hooks.example.com/hs${q}`, requestBody: body, timestamp: ts });
      const r = await post(`${gw.url}/hs${q}`, { 'content-type': 'application/json', 'x-hubspot-signature-v3': sig, 'x-hubspot-request-timestamp': String(ts) }, body);
      t.equal(r.outcome, 'forwarded');
    }
    t.equal(up.received.length, before + 2);
  });
});

t.test('keys are scoped by route', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const SHARED = 'whsec_shared_account_7';
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/partner-a/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:A'] },
        { path: '/partner-b/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:B'] },
        { path: '/slack', provider: 'slack', tenant: 'acme', secrets: ['env:SL'] },
      ],
    },
    { A: 'whsec_partner_a_7', B: 'whsec_partner_b_7', SL: 'slack-signing-secret-7' },
  );
  const gw = await start(t, config);
  const stripeHeaders = (payload: string, secret: string) => ({ 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }) });

  t.test('partner A\'s id 1001 does not make partner B\'s genuine id 1001 a duplicate', async (t) => {
    const before = up.received.length;
    const a = '{"id":"1001","from":"a"}';
    const b = '{"id":"1001","from":"b"}';
    t.equal((await post(`${gw.url}/partner-a/stripe`, stripeHeaders(a, 'whsec_partner_a_7'), a)).outcome, 'forwarded');
    t.equal((await post(`${gw.url}/partner-b/stripe`, stripeHeaders(b, 'whsec_partner_b_7'), b)).outcome, 'forwarded');
    t.equal(up.received.length, before + 2);
  });
  t.test('routes sharing a namespace on purpose share one key space', async (t) => {
    const shared = testConfig(
      {
        upstream: { url: up.url },
        routes: [
          { path: '/shop/one', provider: 'stripe', tenant: 'acme', secrets: ['env:S'], namespace: 'shop-account' },
          { path: '/shop/two', provider: 'stripe', tenant: 'acme', secrets: ['env:S'], namespace: 'shop-account' },
        ],
      },
      { S: SHARED },
    );
    const gw = await start(t, shared);
    const before = up.received.length;
    const body = '{"id":"evt_shop_1"}';
    const headers = stripeHeaders(body, SHARED);
    t.equal((await post(`${gw.url}/shop/one`, headers, body)).outcome, 'forwarded');
    t.equal((await again(`${gw.url}/shop/two`, headers, body)).outcome, 'duplicate');
    t.equal(up.received.length, before + 1);
  });
  t.test('an id that looks like a digest does not collide with a digest', async (t) => {
    // Slack's recipe (no official signing package): v0=hex HMAC-SHA256(secret, "v0:" + ts + ":" + body)
    const slackHeaders = (body: string, type: string) => {
      const ts = String(Math.floor(Date.now() / 1000));
      return { 'content-type': type, 'x-slack-request-timestamp': ts, 'x-slack-signature': 'v0=' + createHmac('sha256', 'slack-signing-secret-7').update(`v0:${ts}:${body}`).digest('hex') };
    };
    const form = 'command=%2Fdeploy&text=now';
    const before = up.received.length;
    t.equal((await post(`${gw.url}/slack`, slackHeaders(form, 'application/x-www-form-urlencoded'), form)).outcome, 'forwarded');
    const formKey = up.received.at(-1)!.headers['hookgate-idempotency-key'] as string;
    const digest = formKey.slice(formKey.lastIndexOf('sha256:'));
    t.match(digest, /^sha256:[0-9a-f]{64}$/);
    const json = JSON.stringify({ type: 'event_callback', event_id: digest });
    t.equal((await post(`${gw.url}/slack`, slackHeaders(json, 'application/json'), json)).outcome, 'forwarded', 'a genuine event whose id spells the digest is not a duplicate');
    t.equal(up.received.length, before + 2);
  });
  t.test('a literal tenant with a colon cannot make two routes\' keys meet', async (t) => {
    await refusedOrHeld(t,
      {
        routes: [
          { path: '/x1', provider: 'stripe', tenant: 'acme:x', secrets: ['env:X1'] },
          { path: '/x2', provider: 'stripe', tenant: 'acme', secrets: ['env:X2'] },
        ],
      },
      { X1: 'whsec_x1_8', X2: 'whsec_x2_8' },
      /routes\[0\]\.tenant: expected a tenant name of 1-128 letters, digits.*got "acme:x"/,
      async (gw, up) => {
        const one = '{"id":"evt_1"}';
        const two = '{"id":"x:evt_1"}';
        await post(`${gw.url}/x1`, stripeHeaders(one, 'whsec_x1_8'), one);
        await post(`${gw.url}/x2`, stripeHeaders(two, 'whsec_x2_8'), two);
        t.equal(up.received.length, 2, 'two genuine deliveries, two forwards');
      });
  });
});

t.test('a retention shorter than the two-sided window', async (t) => {
  // Stripe signs a timestamp; a delivery first seen `tolerance` before it is still accepted `tolerance`
  // after it. With retention = tolerance its key is forgotten in between and the capture goes through again.
  const SECRET = 'whsec_retention_9';
  await refusedOrHeld(t,
    { ledger: { retention: '5m' }, routes: [{ path: '/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:S'], tolerance: '5m' }] },
    { S: SECRET },
    /routes\[0\]\.tolerance: 5m accepts a signed timestamp up to 5m either side of the clock, so ledger\.retention \(5m\) must be at least 2 × tolerance/,
    async (_gw, up, config) => {
      const signedAt = Math.floor(Date.now() / 1000);
      let now = signedAt * 1000 - 299_000; // our clock 4 min 59 s behind the sender's: still inside the window
      const ledger = openEmbeddedLedger({ url: 'embedded', retentionMs: config.ledger.retentionMs, leaseMs: 30_000, cache: 0, migrate: true, sweepIntervalMs: 0 }, undefined, () => now);
      const gw = await startTestGateway(config, { ledger, now: () => now });
      t.teardown(() => gw.close());
      const body = '{"id":"evt_retention_1"}';
      const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET, timestamp: signedAt }) };
      await post(`${gw.url}/stripe`, headers, body);
      now = signedAt * 1000 + 299_000; // 4 min 59 s after the signed time: still inside the window
      await again(`${gw.url}/stripe`, headers, body);
      t.equal(up.received.length, 1, 'the capture reached the upstream once');
    });
});
