import type { Delivery } from './context.js';
import { GatewayError } from '../errors.js';
import { parseJson, parseUnverifiedJson } from '../providers/primitives.js';

/**
 * The body as JSON, parsed at most once per delivery; undefined when it is not JSON. A body whose
 * signature has not been verified (monitor mode forwards those too) is bounded first, and a body
 * nested too deep is refused (400 malformed) rather than parsed: its parse would cost far more than
 * the MAC that is to judge it. (A per-tenant route's json: tenant is not read here before the MAC but
 * by the field scanner: see tenant.ts.)
 */
export function jsonBody(d: Delivery, body: Buffer): unknown {
  if (!d.json) {
    if (d.verdict === 'ok') d.json = { value: parseJson(body) };
    else {
      const parsed = parseUnverifiedJson(body);
      if (!parsed.ok) throw new GatewayError('malformed', parsed.message);
      d.json = { value: parsed.value };
    }
  }
  return d.json.value;
}
