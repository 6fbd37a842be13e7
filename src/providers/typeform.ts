// Typeform: `Typeform-Signature: sha256=<base64>`, HMAC-SHA256 of the raw body (providers.md §3.19).
import { bodyHmac } from './families.js';

export const typeform = bodyHmac({
  name: 'typeform',
  headers: ['typeform-signature'],
  algorithm: 'sha256',
  encoding: 'base64',
  prefix: 'sha256=',
  // the body's `event_id` is only known from secondary sources: no id, the key is the digest of the signed bytes
});
