import type { Delivery } from './context.js';
import { GatewayError } from '../errors.js';
import { parseJson, parseUnverifiedJson } from '../providers/primitives.js';

/**
 * The body as JSON, parsed at most once per delivery; undefined when it is not JSON. Before the
 * signature is verified (a per-tenant route reads its tenant to choose the secrets) the body is
 * bounded first, and a body nested too deep is refused (400 malformed) rather than parsed: its
 * parse would cost far more than the MAC that is to judge it.
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
