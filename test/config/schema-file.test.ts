// config/hookgate.schema.json is generated from src/config/schema.ts (`npm run schema`): keep it current,
// and make sure editors validating against it agree with hookgate on the example config.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import AjvModule from 'ajv';
import { publishedSchema } from '../../src/config/schema.js';

const Ajv = AjvModule.default ?? AjvModule;

t.test('the JSON Schema file matches the declaration', async (t) => {
  const file = JSON.parse(readFileSync('config/hookgate.schema.json', 'utf8'));
  t.same(file, publishedSchema(), 'run `npm run schema` after changing src/config/schema.ts');
});

t.test('the example config is valid against the file, and a typo is not', async (t) => {
  const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync('config/hookgate.schema.json', 'utf8')));
  const example = parse(readFileSync('config/hookgate.example.yaml', 'utf8'));
  t.ok(validate(example), JSON.stringify(validate.errors));
  t.notOk(validate({ ...example, listn: '0.0.0.0:1' }));
  t.ok(validate({ upstream: { url: 'http://127.0.0.1:8000' }, routes: [{ path: '/a', provider: 'github', secrets: ['env:X'] }] }), 'keys with defaults may be left out');
});
