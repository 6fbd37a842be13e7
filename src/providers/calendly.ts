// Calendly: `Calendly-Webhook-Signature: t=<unix s>,v1=<hex>`, HMAC-SHA256 over `${t}.${body}` with the
// webhook signing key (providers.md §3.21): Stripe's construction under another header name.
import { pairHmac } from './families.js';

export const calendly = pairHmac({
  name: 'calendly',
  header: 'calendly-webhook-signature',
  separator: ',',
  tsKey: 't',
  sigKey: 'v1',
  joiner: '.',
  // no documented event id: the key is the digest of the signed bytes
});
