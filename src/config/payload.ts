// A route's `payload` block (CONTRACT.md, Payload rules), resolved once at load: the schema read and
// compiled (a schema that does not compile is a problem naming the file), the tenant field's path,
// the depth limit. Schema files are watched like secret files: a change reloads the configuration.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { contentDigest } from './digest.js';
import type { CompiledSchema, SchemaCompiler } from '../payload/compile.js';
import { dottedToPointer } from '../payload/failure.js';

export interface PayloadRules {
  /** the compiled schema, and where it came from (`file:PATH` resolved, or `inline`) */
  readonly schema: (CompiledSchema & { readonly source: string }) | null;
  /** `json:PATH` of the body whose value must equal the delivery's tenant */
  readonly tenantField: { readonly path: string; readonly pointer: string } | null;
  /** nesting limit, checked on the bytes before any parse */
  readonly maxDepth: number | null;
}

export interface RawPayload {
  schema?: string | Record<string, unknown>;
  tenantField?: string;
  maxDepth?: number;
}

export interface PayloadContext {
  baseDir: string;
  problems: string[];
  /** lazily created: ajv is loaded only when a route has a schema */
  compiler: () => SchemaCompiler;
  /** schema files read by this load → their digest, for the reload watcher */
  files: Map<string, string>;
  /** compiled once per load, by resolved file or by inline text */
  cache: Map<string, CompileOutcome>;
}

type CompileOutcome = { ok: true; schema: CompiledSchema } | { ok: false; message: string };

export function resolvePayload(raw: RawPayload, at: string, ctx: PayloadContext): PayloadRules | null {
  const before = ctx.problems.length;
  let schema: PayloadRules['schema'] = null;
  if (raw.schema !== undefined) {
    const where = `${at}.schema`;
    if (typeof raw.schema === 'string') {
      const path = resolvePath(ctx.baseDir, raw.schema.slice('file:'.length));
      const compiled = compileFile(path, where, ctx);
      if (compiled) schema = { ...compiled, source: path };
    } else {
      const text = JSON.stringify(raw.schema);
      let outcome = ctx.cache.get(`inline:${text}`);
      if (!outcome) ctx.cache.set(`inline:${text}`, (outcome = ctx.compiler().compile(raw.schema, where)));
      if (!outcome.ok) ctx.problems.push(`${where}: the inline schema does not compile: ${outcome.message}`);
      else schema = { ...outcome.schema, source: 'inline' };
    }
  }
  let tenantField: PayloadRules['tenantField'] = null;
  if (raw.tenantField !== undefined) {
    const path = raw.tenantField.slice('json:'.length);
    if (path.split('.').some((s) => s === '')) ctx.problems.push(`${at}.tenantField: expected json:PATH with dotted member names (json:data.object.metadata.tenant), got ${JSON.stringify(raw.tenantField)}`);
    else tenantField = { path, pointer: dottedToPointer(path) };
  }
  if (ctx.problems.length > before) return null;
  return { schema, tenantField, maxDepth: raw.maxDepth ?? null };
}

function compileFile(path: string, where: string, ctx: PayloadContext): CompiledSchema | null {
  const cached = ctx.cache.get(`file:${path}`);
  if (cached) return cached.ok ? cached.schema : (ctx.problems.push(`${where}: ${path}: ${cached.message}`), null);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    ctx.problems.push(`${where}: file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return null;
  }
  // The first read is the watcher's baseline: a later edit of the file reloads the configuration.
  if (!ctx.files.has(path)) ctx.files.set(path, contentDigest(bytes));
  let doc: unknown;
  try {
    const text = bytes.toString('utf8');
    doc = /^\.ya?ml$/i.test(extname(path)) ? parseYaml(text, { uniqueKeys: true }) : JSON.parse(text);
  } catch (err) {
    const outcome = { ok: false as const, message: `not valid ${/^\.ya?ml$/i.test(extname(path)) ? 'YAML' : 'JSON'} (${(err as Error).message.split('\n')[0]})` };
    ctx.cache.set(`file:${path}`, outcome);
    ctx.problems.push(`${where}: ${path}: ${outcome.message}`);
    return null;
  }
  const compiled = ctx.compiler().compile(doc, `${where}: ${path}`);
  const outcome: CompileOutcome = compiled.ok ? compiled : { ok: false, message: `the schema does not compile: ${compiled.message}` };
  ctx.cache.set(`file:${path}`, outcome);
  if (!outcome.ok) {
    ctx.problems.push(`${where}: ${path}: ${outcome.message}`);
    return null;
  }
  return outcome.schema;
}
