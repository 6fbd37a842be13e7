// PagerDuty Webhooks v3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 of the raw body with the
// subscription secret used as is, although it looks like base64 (providers.md §3.15, go-pagerduty's vector).
import { bodyHmac, jsonId } from './families.js';

export const pagerduty = bodyHmac({
  name: 'pagerduty',
  headers: ['x-pagerduty-signature'],
  algorithm: 'sha256',
  encoding: 'hex',
  prefix: 'v1=',
  separator: ',',
  // `event.id` is in the signed body
  id: jsonId('event.id'),
});
