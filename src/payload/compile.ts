// Compiles a route's payload schema (JSON Schema 2020-12) into a validator, once, when the config is
// loaded; a delivery only runs the compiled function. ajv is required here, lazily, on the first
// schema of a load: a gateway whose routes have no payload schema never loads it (the config's own
// validator is ajv's standalone output, src/config/validate-config.generated.ts), so idle memory and
// the hot path of those routes stay as they were.
import { createRequire } from 'node:module';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv';

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

export interface CompiledSchema {
  /** true: the value conforms; false: `errors()` says why (ajv's errors, first failure only) */
  validate(value: unknown): boolean;
  errors(): readonly ErrorObject[];
  /** every member name the schema itself names (`properties`, `required`, …): see src/payload/failure.ts */
  readonly names: ReadonlySet<string>;
}

export type CompileResult = { ok: true; schema: CompiledSchema } | { ok: false; message: string };

export interface SchemaCompiler {
  /** `label` names the schema in warnings (the file, or the route's field for an inline one) */
  compile(schema: unknown, label: string): CompileResult;
}

type AjvClass = typeof Ajv2020;

let AjvCtor: AjvClass | undefined;
function loadAjv(): AjvClass {
  if (!AjvCtor) {
    const mod = createRequire(import.meta.url)('ajv/dist/2020') as AjvClass & { default?: AjvClass };
    AjvCtor = mod.default ?? mod;
  }
  return AjvCtor;
}

/** Whether ajv has been loaded in this process (tests keep idle gateways without it). */
export function ajvLoaded(): boolean {
  return AjvCtor !== undefined;
}

/**
 * One compiler per config load: ajv is created on the first schema, and one instance serves every
 * schema of the load (the same source compiled twice would clash on its `$id`). `warn` receives
 * ajv's strict-mode findings (an unknown keyword is usually a typo), prefixed with the label.
 */
export function schemaCompiler(warn: (message: string) => void): SchemaCompiler {
  let ajv: InstanceType<AjvClass> | undefined;
  let label = '';
  const create = () =>
    new (loadAjv())({
      // The first failure is what a 422 reports, and stopping there is the cheaper path.
      allErrors: false,
      // `format` is an annotation in 2020-12 unless a format vocabulary is asserted; hookgate ships none.
      validateFormats: false,
      strictSchema: 'log',
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      logger: { log: () => undefined, warn: (...args: unknown[]) => warn(`${label}: ${args.map(String).join(' ')}`), error: () => undefined },
    });
  return {
    compile(schema, where) {
      if (typeof schema !== 'boolean' && (schema === null || typeof schema !== 'object' || Array.isArray(schema)))
        return { ok: false, message: 'a JSON Schema is an object (or true / false)' };
      const declared = typeof schema === 'object' ? (schema as { $schema?: unknown }).$schema : undefined;
      if (declared !== undefined && declared !== DRAFT_2020_12 && declared !== `${DRAFT_2020_12}#`)
        return { ok: false, message: `$schema is ${JSON.stringify(declared)}; hookgate compiles JSON Schema 2020-12: set $schema to ${DRAFT_2020_12} or leave it out` };
      ajv ??= create();
      label = where;
      try {
        const fn = ajv.compile(schema as object);
        const validate = (value: unknown) => fn(value) as boolean;
        return { ok: true, schema: { validate, errors: () => fn.errors ?? [], names: namesIn(schema) } };
      } catch (err) {
        return { ok: false, message: (err as Error).message };
      }
    },
  };
}

/** Member names a schema names anywhere: keys of `properties`, `required`, `dependentRequired`, `dependentSchemas`. */
export function namesIn(schema: unknown): Set<string> {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    for (const key of ['properties', 'dependentRequired', 'dependentSchemas'])
      if (o[key] && typeof o[key] === 'object' && !Array.isArray(o[key])) for (const k of Object.keys(o[key] as object)) names.add(k);
    if (Array.isArray(o.required)) for (const k of o.required) if (typeof k === 'string') names.add(k);
    if (o.dependentRequired && typeof o.dependentRequired === 'object')
      for (const list of Object.values(o.dependentRequired as object)) if (Array.isArray(list)) for (const k of list) if (typeof k === 'string') names.add(k);
    for (const v of Object.values(o)) walk(v);
  };
  walk(schema);
  return names;
}
