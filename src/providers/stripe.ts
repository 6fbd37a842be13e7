// Stripe: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=…][,v0=…]`, HMAC-SHA256 over `${t}.${body}` with the
// whole `whsec_…` string as the key, not decoded (providers.md §3.1). Only v1 counts (downgrade protection).
import { pairHmac, jsonId } from './families.js';

export const stripe = pairHmac({
  name: 'stripe',
  header: 'stripe-signature',
  separator: ',',
  tsKey: 't',
  sigKey: 'v1',
  joiner: '.',
  // the event's `id` (evt_…) is in the signed body and is the same on every retry of that event
  id: jsonId('id'),
});
