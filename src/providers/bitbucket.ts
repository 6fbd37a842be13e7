// Bitbucket (Cloud and Data Center): `X-Hub-Signature: sha256=<hex>`, HMAC-SHA256 of the raw body, sent only
// when the webhook has a secret (providers.md §3.20). Same header name as Intercom's SHA-1 one.
import { bodyHmac } from './families.js';

export const bitbucket = bodyHmac({
  name: 'bitbucket',
  headers: ['x-hub-signature'],
  algorithm: 'sha256',
  encoding: 'hex',
  prefix: 'sha256=',
  // X-Request-UUID is not signed: no id, the key is the digest of the signed bytes
  idHeader: 'x-request-uuid',
});
