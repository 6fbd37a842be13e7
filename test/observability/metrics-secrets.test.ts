// No secret appears in /metrics (CONTRACT.md: "A secret never appears in ... a metric"): after
// genuine deliveries, forgeries, a rotated secret matching, per-tenant secrets and a refusal for a
// tenant without one, the admin port's scrape holds none of the secrets' text (nor a long piece of it).
import t from 'tap';
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import Stripe from 'stripe';
import { sign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';

const stripe = new Stripe('sk_test_dummy');
const SECRETS = {
  STRIPE_OLD: 'whsec_metricsOldSecretQwErTy123',
  STRIPE_NEW: 'whsec_metricsNewSecretAsDfGh456',
  GH_ACME: 'ghAcmeSecretZxCvBn789',
  GH_GLOBEX: 'ghGlobexSecretPoIuYt012',
  STD: 'whsec_' + Buffer.from('metricsStandardSecretLkJhGf3456').toString('base64'),
  GENERIC: 'genericSecretMnBvCx654',
};

t.test('after traffic of every outcome, the /metrics scrape holds no secret text', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const config = testConfig(
    {
      upstream: { url: up.url },
      routes: [
        { path: '/stripe', provider: 'stripe', tenant: 'acme', secrets: ['env:STRIPE_NEW', 'env:STRIPE_OLD'] },
        { path: '/gh/:tenant', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:GH_ACME'], globex: ['env:GH_GLOBEX'] } },
        { path: '/std', provider: 'standard', tenant: 'acme', secrets: ['env:STD'] },
        { path: '/generic', provider: 'generic', tenant: 'acme', secrets: ['env:GENERIC'], generic: { header: 'X-Sig', algorithm: 'sha256', encoding: 'hex', prefix: '', timestampHeader: '', separator: '.' } },
      ],
    },
    SECRETS,
  );
  const gw = await startTestGateway(config, { ledger });
  t.teardown(() => gw.close());
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    await res.body.dump();
    return res.headers['hookgate-outcome'];
  };
  const evt = (id: string) => JSON.stringify({ id, type: 'x' });
  const stripeSig = (body: string, secret: string) => ({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret }) });
  const outcomes = [
    await post('/stripe', evt('evt_m1'), stripeSig(evt('evt_m1'), SECRETS.STRIPE_NEW)),
    await post('/stripe', evt('evt_m2'), stripeSig(evt('evt_m2'), SECRETS.STRIPE_OLD)), // rotation: index 1
    await post('/stripe', evt('evt_m1'), stripeSig(evt('evt_m1'), SECRETS.STRIPE_NEW)), // duplicate
    await post('/stripe', evt('evt_m3'), stripeSig(evt('evt_m3'), 'whsec_forged')),
    await post('/gh/acme', '{"a":1}', { 'x-hub-signature-256': await sign(SECRETS.GH_ACME, '{"a":1}') }),
    await post('/gh/globex', '{"a":2}', { 'x-hub-signature-256': await sign(SECRETS.GH_ACME, '{"a":2}') }), // another tenant's secret
    await post('/gh/initech', '{"a":3}', { 'x-hub-signature-256': await sign(SECRETS.GH_ACME, '{"a":3}') }), // no secret for this tenant
    await post('/std', '{"s":1}', { 'webhook-id': 'msg_m1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': new Webhook(SECRETS.STD).sign('msg_m1', new Date(), '{"s":1}') }),
    await post('/std', '{"s":2}', { 'webhook-id': 'msg_m2', 'webhook-timestamp': '1', 'webhook-signature': 'v1,AAAA' }),
    await post('/generic', '{"g":1}', { 'x-sig': createHmac('sha256', SECRETS.GENERIC).update('{"g":1}').digest('hex') }),
    await post('/generic', '{"g":2}', { 'x-sig': 'zz' }),
  ];
  t.same(outcomes, ['forwarded', 'forwarded', 'duplicate', 'signature_invalid', 'forwarded', 'signature_invalid', 'signature_invalid', 'forwarded', 'signature_invalid', 'forwarded', 'malformed']);

  const res = await request(`${gw.adminUrl}/metrics`);
  t.equal(res.statusCode, 200);
  const text = await res.body.text();
  // the scrape is about this traffic (so the absence below is not the absence of everything)
  t.match(text, /hookgate_requests_total\{route="\/stripe",provider="stripe",tenant="acme",outcome="forwarded"\} 2/);
  t.match(text, /hookgate_secret_matches_total\{route="\/stripe",index="1"\} 1/);
  t.match(text, /outcome="signature_invalid"/);
  for (const [name, secret] of Object.entries(SECRETS)) {
    t.notOk(text.includes(secret), `${name} does not appear`);
    // nor any 12-character piece of it (a truncated or prefixed copy)
    const core = secret.replace(/^whsec_/, '');
    const pieces = Array.from({ length: core.length - 11 }, (_, i) => core.slice(i, i + 12));
    t.notOk(pieces.some((p) => text.includes(p)), `no piece of ${name} appears`);
  }
  t.notOk(text.includes('whsec_'), 'no whsec_ value at all');
  t.notOk(text.includes(SECRETS.STD.slice('whsec_'.length)), 'nor the base64 body of a Standard Webhooks secret');
  t.notOk(text.includes(Buffer.from(SECRETS.STD.slice('whsec_'.length), 'base64').toString('hex')), 'nor its decoded key in hex');
});
