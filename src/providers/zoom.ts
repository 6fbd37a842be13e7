// Zoom: `x-zm-signature: v0=<hex>` over `v0:<x-zm-request-timestamp>:<body>`, HMAC-SHA256 with the app's
// Secret Token (providers.md §3.14): Slack's construction under other header names.
import { v0Hmac } from './families.js';
import { parseUnixSeconds } from './primitives.js';

export const zoom = v0Hmac({
  name: 'zoom',
  sigHeader: 'x-zm-signature',
  tsHeader: 'x-zm-request-timestamp',
  // The unit is only known from secondary sources (seconds); 13 digits can only be milliseconds (as seconds
  // they would be the year 33658), so both are read rather than refusing every delivery on a unit mix-up.
  parseTs: (s) => (/^\d{13}$/.test(s) ? Number(s) : parseUnixSeconds(s)),
  // no documented id: the key is the digest of the signed bytes
});
