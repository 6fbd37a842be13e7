// `hookgate check` compiles every payload schema: a schema with an error fails `check` and `run` (the
// real binary, spawned) naming the route's field, the file and ajv's finding; the shipped example
// schemas compile cleanly.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const BIN = resolve('bin/hookgate.js');
const dir = mkdtempSync(join(tmpdir(), 'hookgate-payload-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const hookgate = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH, GH: 'gh-secret', S: 'whsec_cli' }, timeout: 60_000 });

function config(name: string, payload: string): string {
  const p = join(dir, name);
  writeFileSync(p, `upstream: { url: "http://127.0.0.1:8000" }\nroutes:\n  - { path: /a, provider: github, tenant: acme, secrets: [env:GH] }\n  - { path: /b, provider: github, tenant: acme, secrets: [env:GH], payload: ${payload} }\n`);
  return p;
}

t.test('a schema file with an error fails check and run, naming the file', async (t) => {
  writeFileSync(join(dir, 'broken.json'), JSON.stringify({ type: 'object', properties: { amount: { type: 'integr' } } }));
  writeFileSync(join(dir, 'not-json.json'), '{"type": "object",');
  const cases: [string, RegExp][] = [
    ['{ schema: "file:broken.json" }', /routes\[1\]\.payload\.schema: \S*broken\.json: the schema does not compile: schema is invalid: data\/properties\/amount\/type must be equal to one of the allowed values/],
    ['{ schema: "file:not-json.json" }', /routes\[1\]\.payload\.schema: \S*not-json\.json: not valid JSON/],
    ['{ schema: "file:missing.json" }', /routes\[1\]\.payload\.schema: file \S*missing\.json cannot be read \(ENOENT\)/],
    ['{ schema: { type: object, properties: { a: { minimum: "one" } } } }', /routes\[1\]\.payload\.schema: the inline schema does not compile: schema is invalid: data\/properties\/a\/minimum must be number/],
    ['{ tenantField: "data.tenant" }', /routes\[1\]\.payload\.tenantField: expected json:PATH/],
    ['{ maxDepth: 0 }', /routes\[1\]\.payload\.maxDepth: /],
  ];
  for (const [payload, re] of cases) {
    const file = config('c.yaml', payload);
    const check = hookgate('check', '--config', file);
    t.equal(check.status, 1, `check ${payload}: exit 1`);
    t.match(check.stderr, re, `check ${payload}`);
    const run = hookgate('run', '--config', file);
    t.equal(run.status, 1, `run ${payload}: exit 1 before listening`);
    t.match(run.stderr, re, `run ${payload}`);
  }
});

t.test('the shipped example schemas compile without a warning, and check shows each route\'s rules', async (t) => {
  const file = join(dir, 'ok.yaml');
  const schemas = resolve('config/schemas');
  writeFileSync(file, `upstream: { url: "http://127.0.0.1:8000" }
routes:
  - path: /stripe/:tenant
    provider: stripe
    tenant: "param:tenant"
    secrets: { acme: [env:S] }
    payload: { schema: "file:${schemas}/stripe-event.json", tenantField: "json:data.object.metadata.tenant", maxDepth: 32 }
  - { path: /github, provider: github, tenant: acme, secrets: [env:GH], payload: { schema: "file:${schemas}/github-push.json" } }
  - { path: /typo, provider: github, tenant: acme, secrets: [env:GH], payload: { schema: { type: object, requried: [a] } } }
`);
  const r = hookgate('check', '--config', file);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /\/stripe\/:tenant .* payload=schema:\S*stripe-event\.json,tenantField:json:data\.object\.metadata\.tenant,maxDepth:32\n/);
  t.match(r.stdout, /\/github .* payload=schema:\S*github-push\.json\n/);
  t.match(r.stdout, /warning: routes\[2\]\.payload\.schema: strict mode: unknown keyword: "requried"/, 'a likely typo is a warning');
  t.notMatch(r.stdout, /warning: .*(stripe-event|github-push)/, 'the shipped schemas draw no warning');
});
