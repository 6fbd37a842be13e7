// GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body (providers.md §3.2). The legacy
// SHA-1 `X-Hub-Signature` is not accepted: GitHub always sends both, and reading SHA-1 alone would be a downgrade.
import { bodyHmac } from './families.js';

export const github = bodyHmac({
  name: 'github',
  headers: ['x-hub-signature-256'],
  algorithm: 'sha256',
  encoding: 'hex',
  prefix: 'sha256=',
  // X-GitHub-Delivery is not signed (anyone replaying a captured body can change it): no id, the key is the digest
  idHeader: 'x-github-delivery',
});
