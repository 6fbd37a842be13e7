// Slack: `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>` (unix seconds),
// HMAC-SHA256 with the signing secret (providers.md §3.4). Form bodies (slash commands, interactivity)
// are signed as raw bytes like JSON ones.
import { v0Hmac, jsonIdIfJson } from './families.js';
import { parseUnixSeconds } from './primitives.js';

export const slack = v0Hmac({
  name: 'slack',
  sigHeader: 'x-slack-signature',
  tsHeader: 'x-slack-request-timestamp',
  parseTs: parseUnixSeconds,
  // Events API retries resend the same signed body, whose `event_id` names the event; form posts have none
  id: jsonIdIfJson('event_id'),
});
