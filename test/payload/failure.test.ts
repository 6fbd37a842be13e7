// What a 422 says about a schema failure: the pointer (member names the schema does not name shown
// as `*`, array indices kept) and the rule; ajv's message, built from the schema alone.
import t from 'tap';
import { schemaCompiler } from '../../src/payload/compile.js';
import { schemaFailure, redact, dottedToPointer } from '../../src/payload/failure.js';

t.test('pointers keep schema names and indices, and hide the sender\'s own names', async (t) => {
  const names = new Set(['items', 'sku']);
  const data = { items: [{ sku: 1 }, { 'a/b~c': { sku: 2 } }] };
  t.equal(redact('/items/1/a~1b~0c/sku', data, names), '/items/1/*/sku');
  t.equal(redact('', data, names), '');
  t.equal(redact('/nope/0', data, names), '/*/*', 'where the body has nothing to tell an index from a name, nothing is shown');
  t.equal(dottedToPointer('data.a/b.c~d'), '/data/a~1b/c~0d');
});

t.test('the first failure of a compiled schema, with its rule', async (t) => {
  const warnings: string[] = [];
  const c = schemaCompiler((w) => warnings.push(w));
  const r = c.compile({ type: 'object', required: ['kind'], properties: { kind: { enum: ['a', 'b'] }, items: { type: 'array', items: { type: 'integer' } } }, additionalProperties: { type: 'string' } }, 'inline');
  if (!r.ok) throw new Error(r.message);
  const judge = (v: unknown) => (r.schema.validate(v) ? null : schemaFailure(r.schema.errors(), v, r.schema.names));
  t.equal(judge({ kind: 'a', items: [1, 2] }), null);
  t.same(judge({ items: [] }), { pointer: '/kind', rule: 'required', message: "/kind must have required property 'kind'" });
  t.same(judge({ kind: 'zzz-secret' }), { pointer: '/kind', rule: 'enum', message: '/kind must be equal to one of the allowed values' });
  t.same(judge({ kind: 'a', items: [1, 'x'] }), { pointer: '/items/1', rule: 'type', message: '/items/1 must be integer' });
  t.same(judge({ kind: 'a', 'customer@example.com': 5 }), { pointer: '/*', rule: 'type', message: '/* must be string' });
  t.same(judge([]), { pointer: '', rule: 'type', message: 'the body must be object' });
  t.same(warnings, []);
});

t.test('strict-mode findings are warnings naming the schema; a broken schema is an error', async (t) => {
  const warnings: string[] = [];
  const c = schemaCompiler((w) => warnings.push(w));
  t.ok(c.compile({ type: 'object', requried: ['a'] }, 'routes[0].payload.schema: s.json').ok);
  t.match(warnings, [/routes\[0\]\.payload\.schema: s\.json: strict mode: unknown keyword: "requried"/]);
  const bad = c.compile({ type: 'strng' }, 'x');
  t.notOk(bad.ok);
  t.match(!bad.ok && bad.message, /schema is invalid: data\/type must be equal to one of the allowed values/);
  t.match(c.compile({ $schema: 'http://json-schema.org/draft-07/schema#' }, 'x'), { ok: false, message: /hookgate compiles JSON Schema 2020-12/ });
  t.match(c.compile([], 'x'), { ok: false });
  t.ok(c.compile(true, 'x').ok, 'a boolean schema is a schema');
});
