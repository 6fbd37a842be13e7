// Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the raw body with the app's client secret
// (providers.md §3.13). Same header name as Bitbucket's, different algorithm: a route names its provider.
import { bodyHmac, jsonId } from './families.js';

export const intercom = bodyHmac({
  name: 'intercom',
  headers: ['x-hub-signature'],
  algorithm: 'sha1',
  encoding: 'hex',
  prefix: 'sha1=',
  // the notification `id` (notif_…) is in the signed body
  id: jsonId('id'),
});
