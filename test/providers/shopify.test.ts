import t from 'tap';
import { getHmac } from '@shopify/shopify-api/test-helpers';
import { getScheme } from '../../src/providers/index.js';
import { BODY, SECRET, runCommonCases, verify } from './harness.js';

runCommonCases(t, {
  name: 'shopify',
  other: 'other_secret',
  signer: '@shopify/shopify-api/test-helpers getHmac',
  sign: (secret) => ({ headers: { 'X-Shopify-Hmac-Sha256': getHmac(BODY.toString('utf8'), secret), 'X-Shopify-Webhook-Id': 'b54557e4' }, body: BODY }),
  header: 'x-shopify-hmac-sha256',
  timestamped: false,
  id: undefined, // X-Shopify-Webhook-Id is not signed
});

t.test('shopify: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  t.same(verify('shopify', [SECRET], { headers: { 'x-shopify-hmac-sha256': 'I/pe0yzrzPoYN5viWfXFEy2YMa8fp1lRYwyNHPYpb44=' }, body: BODY }), { ok: true, secretIndex: 0 });
});

t.test('shopify: Events deliveries (shopify-hmac-sha256) verify too', async (t) => {
  t.same(verify('shopify', [SECRET], { headers: { 'shopify-hmac-sha256': getHmac(BODY.toString('utf8'), SECRET) }, body: BODY }), { ok: true, secretIndex: 0 });
});

t.test('shopify: our sign() equals getHmac', async (t) => {
  const h = getScheme('shopify')!.sign({ secret: SECRET, body: BODY, url: '', method: 'POST', timestamp: 0, id: '' });
  t.equal(h['x-shopify-hmac-sha256'], getHmac(BODY.toString('utf8'), SECRET));
});
