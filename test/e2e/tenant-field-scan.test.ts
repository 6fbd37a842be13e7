// One client can stall the gateway (issue 13): a per-tenant route whose tenant is a `json:` field reads
// the tenant from the unsigned body to choose the secrets. That read is a scan of the bytes, not a
// JSON.parse (a 1 MB body of small members cost ~20 ms to parse, against ~0.7 ms for the MAC that
// refuses it), and a tenant field given twice is refused: the secrets must never be chosen by one
// value while the delivery carries another.
import t from 'tap';
import { request } from 'undici';
import { getHmac } from '@shopify/shopify-api/test-helpers';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';

const ACME = 'acme-shopify-secret';
const GLOBEX = 'globex-shopify-secret';

/** ~1 MB of a flat object: 70,000 small members, the tenant last. */
const flat = (tenant: string) => JSON.stringify({ id: 820982911946154500, ...Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])), shop_domain: tenant });

/** Counts JSON.parse calls on texts longer than `min` while `fn` runs (the gateway runs in this process). */
async function bigParses<T>(min: number, fn: () => Promise<T>): Promise<{ result: T; parses: number }> {
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = function (this: unknown, text: string, reviver?: Parameters<typeof parse>[1]) {
    if (typeof text === 'string' && text.length > min) parses++;
    return parse.call(JSON, text, reviver);
  } as typeof JSON.parse;
  try {
    return { result: await fn(), parses };
  } finally {
    JSON.parse = parse;
  }
}

t.test('per-tenant route with a json: tenant reads the tenant by scanning the unsigned body', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(
    testConfig(
      {
        upstream: { url: up.url },
        routes: [{ path: '/webhooks/shop', provider: 'shopify', tenant: 'json:shop_domain', secrets: { acme: ['env:ACME'], globex: ['env:GLOBEX'] } }],
      },
      { ACME, GLOBEX },
    ),
  );
  t.teardown(() => gw.close());

  let n = 0;
  const post = async (body: string, secret: string) => {
    const res = await request(`${gw.url}/webhooks/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': getHmac(body, secret), 'x-shopify-webhook-id': `wh-${++n}` },
      body,
    });
    const text = await res.body.text();
    // hookgate's own answers are JSON; a forwarded one is the upstream's `ok`
    const json = (res.headers['content-type'] ?? '').includes('json') ? (JSON.parse(text) as { error?: string; message?: string }) : {};
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], body: json };
  };

  t.test('a forged 1 MB flat body: the tenant is found, the signature fails (401), and the body is never parsed', async (t) => {
    const body = flat('acme');
    t.ok(body.length > 900_000, 'about 1 MB');
    const { result: res, parses } = await bigParses(100_000, () => post(body, 'not-acme-secret'));
    t.equal(res.status, 401);
    t.equal(res.outcome, 'signature_invalid');
    t.not(res.body.message, 'no secret is configured for this tenant', 'acme was read from the body: its secrets judged the signature');
    t.equal(parses, 0, 'no JSON.parse of the body before the MAC refused it');
    t.equal(up.received.length, 0, 'the upstream received nothing');
  });

  t.test('a genuine 1 MB flat body is forwarded under its tenant', async (t) => {
    const before = up.received.length;
    const body = flat('acme');
    const res = await post(body, ACME);
    t.equal(res.status, 200);
    t.equal(up.received.length, before + 1);
    t.equal(up.received.at(-1)!.headers['hookgate-tenant'], 'acme');
    t.equal(up.received.at(-1)!.body.toString('utf8'), body, 'the bytes arrive as sent');
  });

  t.test('a tenant key spelled with escapes is the same key', async (t) => {
    const before = up.received.length;
    const body = '{"id":1,"shop\\u005fdomain":"glo\\u0062ex","note":"caf\\u00e9 \\ud83d\\ude00"}';
    const res = await post(body, GLOBEX);
    t.equal(res.status, 200);
    t.equal(up.received.length, before + 1);
    t.equal(up.received.at(-1)!.headers['hookgate-tenant'], 'globex');
    const forged = await post(body, ACME);
    t.equal(forged.status, 401, "signed with another tenant's secret: refused");
  });

  t.test('a tenant field given twice is refused 400, whichever secret signed it', async (t) => {
    const before = up.received.length;
    // JSON.parse keeps the last value: signed by acme, a reader taking the first would pick globex's secrets
    for (const [body, secret, why] of [
      ['{"shop_domain":"globex","shop_domain":"acme"}', ACME, 'signed by the last value'],
      ['{"shop_domain":"globex","shop_domain":"acme"}', GLOBEX, 'signed by the first value'],
      ['{"shop_domain":"acme","shop\\u005fdomain":"globex"}', GLOBEX, 'the second spelled with an escape'],
      ['{"shop_domain":"acme","x":{"shop_domain":"y"},"shop_domain":"acme"}', ACME, 'twice with the same value'],
    ] as const) {
      const res = await post(body, secret);
      t.equal(res.status, 400, why);
      t.equal(res.outcome, 'malformed', why);
      t.match(res.body.message, /"shop_domain" twice/, why);
    }
    t.equal(up.received.length, before, 'the upstream received none of them');
    const nested = await post('{"shop_domain":"acme","x":{"shop_domain":"y","shop_domain":"z"}}', ACME);
    t.equal(nested.status, 200, 'a repeated key off the path is not the tenant: forwarded');
  });

  t.test('a body that is not JSON is refused 400 malformed before any MAC', async (t) => {
    const before = up.received.length;
    for (const body of ['{"shop_domain":"acme"', '{"shop_domain":"acme"} trailing', `{"shop_domain":"acme","x":[${'1,'.repeat(100_000)}]}`]) {
      const res = await post(body, ACME);
      t.equal(res.status, 400);
      t.equal(res.outcome, 'malformed');
      t.match(res.body.message, /not JSON/);
    }
    t.equal(up.received.length, before);
  });
});

t.test('after the MAC, the tenant that chose the secrets must be the one the parsed body names', async (t) => {
  // A scanner that disagreed with JSON.parse (none is known: this is the check behind it) would let a
  // body pick one tenant's secrets and be delivered as another. Simulated: the scanner reads globex.
  const here = (p: string) => new URL(p, import.meta.url).href; // tap resolves relative names from the .ts source
  const real = await import('../../src/providers/json-field.js');
  const { startTestGateway: start, testConfig: config } = await t.mockImport<typeof import('../helpers/gateway.js')>(here('../helpers/gateway.js'), {
    [here('../../src/providers/json-field.js')]: { ...real, jsonFieldUnverified: () => 'globex' },
  });
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await start(
    config(
      {
        upstream: { url: up.url },
        routes: [{ path: '/webhooks/shop', provider: 'shopify', tenant: 'json:shop_domain', secrets: { acme: ['env:ACME'], globex: ['env:GLOBEX'] } }],
      },
      { ACME, GLOBEX },
    ),
  );
  t.teardown(() => gw.close());
  const body = '{"shop_domain":"acme"}';
  const res = await request(`${gw.url}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': getHmac(body, GLOBEX) }, body });
  const answer = await res.body.text();
  t.equal(res.statusCode, 400, "globex's signature held, but the body names acme");
  t.equal(res.headers['hookgate-outcome'], 'malformed');
  t.match(answer, /names its tenant differently/);
  t.equal(up.received.length, 0);
});
