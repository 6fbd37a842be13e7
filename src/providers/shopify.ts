// Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the raw body with the app's client secret;
// Shopify Events (developer preview) send the same value as `shopify-hmac-sha256` (providers.md §3.5).
import { bodyHmac } from './families.js';

export const shopify = bodyHmac({
  name: 'shopify',
  headers: ['x-shopify-hmac-sha256', 'shopify-hmac-sha256'],
  algorithm: 'sha256',
  encoding: 'base64',
  prefix: '',
  // X-Shopify-Webhook-Id is not signed: no id, the key is the digest of the signed bytes (retries resend the original payload)
  idHeader: 'x-shopify-webhook-id',
});
