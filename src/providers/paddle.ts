// Paddle Billing: `Paddle-Signature: ts=<unix s>;h1=<hex>`, HMAC-SHA256 over `${ts}:${body}` with the
// endpoint secret key as UTF-8 (providers.md §3.9). Every `h1` is tried: during a secret rotation several
// are sent (Paddle's own SDK keeps only the last one and would refuse some valid deliveries).
import { pairHmac, jsonId } from './families.js';

export const paddle = pairHmac({
  name: 'paddle',
  header: 'paddle-signature',
  separator: ';',
  tsKey: 'ts',
  sigKey: 'h1',
  joiner: ':',
  // `event_id` is in the signed body; Paddle asks handlers to be idempotent on it
  id: jsonId('event_id'),
});
