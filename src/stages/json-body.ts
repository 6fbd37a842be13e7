import type { Delivery } from './context.js';
import { parseJson } from '../providers/primitives.js';

/** The body as JSON, parsed at most once per delivery; undefined when it is not JSON. */
export function jsonBody(d: Delivery, body: Buffer): unknown {
  if (!d.json) d.json = { value: parseJson(body) };
  return d.json.value;
}
