// config/hookgate.schema.json and src/config/validate-config.generated.ts are generated from
// src/config/schema.ts (`npm run schema`): keep them current, and make sure editors validating against
// the file agree with hookgate on the example config.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import AjvModule from 'ajv';
import { publishedSchema } from '../../src/config/schema.js';
import { validatorSource } from '../../src/config/validator-source.js';

const Ajv = AjvModule.default ?? AjvModule;

t.test('the JSON Schema file matches the declaration', async (t) => {
  const file = JSON.parse(readFileSync('config/hookgate.schema.json', 'utf8'));
  t.same(file, publishedSchema(), 'run `npm run schema` after changing src/config/schema.ts');
});

t.test('the validator hookgate runs is generated from the declaration as it is now', async (t) => {
  t.equal(readFileSync('src/config/validate-config.generated.ts', 'utf8'), validatorSource(), 'run `npm run schema` after changing src/config/schema.ts');
});

t.test('the gateway imports neither ajv nor TypeBox: the static import graph from the CLI', async (t) => {
  // Walks the compiled modules' static imports from the CLI's entry (dynamic imports are the lazy
  // engines and plugins, loaded only when configured; none of them is the schema).
  const { dirname, resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const entry = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  walk(entry);
  t.ok(seen.size > 20, `walked ${seen.size} modules`);
  t.ok([...seen].some((f) => f.endsWith('validate-config.generated.js')), 'the generated validator is in the graph');
  t.notOk([...seen].some((f) => /config\/(schema|validator-source)\.js$/.test(f)), 'the schema declaration is not');
  t.same([...packages].filter((p) => p === 'ajv' || p.startsWith('ajv/') || p.startsWith('@sinclair/')), [], 'no ajv, no TypeBox');
});

t.test('the example config is valid against the file, and a typo is not', async (t) => {
  const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync('config/hookgate.schema.json', 'utf8')));
  const example = parse(readFileSync('config/hookgate.example.yaml', 'utf8'));
  t.ok(validate(example), JSON.stringify(validate.errors));
  t.notOk(validate({ ...example, listn: '0.0.0.0:1' }));
  t.ok(validate({ upstream: { url: 'http://127.0.0.1:8000' }, routes: [{ path: '/a', provider: 'github', secrets: ['env:X'] }] }), 'keys with defaults may be left out');
});
