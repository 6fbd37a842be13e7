// Deliveries whose answer is the product stay synchronous on a spool route (CONTRACT.md, Spool:
// refused routes): a provider's URL handshake must get the application's own answer (the challenge
// echoed, the token hashed) while it waits. Pure: provider, headers and the verified bytes in.
import type { IncomingHttpHeaders } from 'node:http';

function jsonField(body: Buffer, field: string): unknown {
  // Handshakes are small JSON bodies; anything else is not one.
  if (body.length > 64 * 1024 || body[0] !== 0x7b /* { */) return undefined;
  try {
    return (JSON.parse(body.toString('utf8')) as Record<string, unknown>)[field];
  } catch {
    return undefined;
  }
}

export function isHandshake(provider: string, headers: IncomingHttpHeaders, body: Buffer): boolean {
  switch (provider) {
    case 'slack': // Events API URL verification: the app echoes `challenge`
      return jsonField(body, 'type') === 'url_verification';
    case 'zoom': // endpoint URL validation: the app answers plainToken and its HMAC
      return jsonField(body, 'event') === 'endpoint.url_validation';
    case 'twitch': // EventSub callback verification: the app echoes `challenge`
      return headers['twitch-eventsub-message-type'] === 'webhook_callback_verification';
    default:
      return false;
  }
}
