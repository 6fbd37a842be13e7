// What a 422 payload_invalid says: the JSON pointer of the first failure and the rule it broke, never
// a value from the body. ajv's messages are built from the schema alone ("must be integer", "must
// match pattern …"); the pointer is built from the body's member names, which can be data too
// (Stripe's metadata keys are the merchant's own), so a name the schema does not itself name is
// shown as `*`. Array indices stay.
import type { ErrorObject } from 'ajv';

export interface PayloadFailure {
  /** RFC 6901 pointer into the body; "" is the whole body */
  pointer: string;
  /** the schema keyword (`type`, `required`, …), or `maxDepth`, `tenantField`, `json` */
  rule: string;
  message: string;
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** The failure ajv stopped at (allErrors: false): its last error, or for if/then the branch that failed. */
export function schemaFailure(errors: readonly ErrorObject[], data: unknown, names: ReadonlySet<string>): PayloadFailure {
  let e = errors[errors.length - 1];
  if (e?.keyword === 'if' && errors.length > 1) e = errors[errors.length - 2];
  if (!e) return { pointer: '', rule: 'schema', message: 'the body does not match the schema' };
  let path = e.instancePath;
  // `required` is reported on the object; the member that is missing is the useful place, and its
  // name comes from the schema.
  if (e.keyword === 'required') path += `/${escape(String((e.params as { missingProperty: string }).missingProperty))}`;
  const pointer = redact(path, data, names);
  return { pointer, rule: e.keyword, message: `${pointer || 'the body'} ${e.message ?? 'does not match the schema'}` };
}

/** Keeps array indices and names the schema names; any other member name becomes `*`. */
export function redact(pointer: string, data: unknown, names: ReadonlySet<string>): string {
  if (pointer === '') return '';
  let cur: unknown = data;
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = unescape(raw);
    if (Array.isArray(cur)) {
      out += `/${raw}`;
      cur = cur[Number(seg)];
    } else {
      out += names.has(seg) ? `/${raw}` : '/*';
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

/** `data.object.metadata.tenant` → `/data/object/metadata/tenant` */
export function dottedToPointer(path: string): string {
  return path.split('.').map((s) => `/${escape(s)}`).join('');
}
