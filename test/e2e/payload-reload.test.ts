// A payload schema is part of the configuration: an edit of the schema file reloads it (watched like
// a secret file) and the next delivery is judged by the new schema; a schema that no longer compiles
// leaves the one in force, and the log names the file.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway } from '../helpers/gateway.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { liveReload } from '../../src/cli/run.js';

const SECRET = 'gh-payload-reload-secret';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, tries = 1500, every = 20): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await sleep(every);
  }
  return false;
}
const kindSchema = (kind: string) => JSON.stringify({ type: 'object', required: ['kind'], properties: { kind: { const: kind } } });

t.test('a reload with a changed schema applies to the next delivery', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const root = mkdtempSync(join(tmpdir(), 'hookgate-payload-reload-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'schemas'));
  const schemaFile = join(root, 'schemas', 'event.json');
  writeFileSync(schemaFile, kindSchema('a'));
  const file = join(root, 'hookgate.yaml');
  writeFileSync(file, `upstream: { url: "${up.url}" }\nroutes:\n  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH], payload: { schema: "file:schemas/event.json" } }\n`);
  const env = { GH: SECRET };
  const loaded = loadConfigFile(file, env);
  t.same(loaded.config.schemaFiles, [schemaFile], 'the schema file is watched');
  let logText = '';
  const log = createLogger('info', new Writable({ write: (c, _e, cb) => ((logText += c.toString()), cb()) }));
  const gw = await startTestGateway(loaded.config, { logger: log });
  t.teardown(() => gw.close());
  const live = liveReload(file, gw, log, env, { baseline: loaded.digests, debounceMs: 50, pollMs: 0 });
  t.teardown(() => live.close());

  // a new body each time: the gateway runs with its ledger, and a repeated delivery is a duplicate
  let n = 0;
  const send = async (kind: string) => {
    const body = JSON.stringify({ kind, n: n++ });
    const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': await sign(SECRET, body) }, body });
    await res.body.dump();
    return res.statusCode;
  };
  t.equal(await send('a'), 200);
  t.equal(await send('b'), 422);

  const before = gw.config();
  writeFileSync(schemaFile, kindSchema('b'));
  t.ok(await until(() => gw.config() !== before), 'the edit of the schema file reloaded the configuration');
  t.equal(await send('b'), 200, 'the next delivery is judged by the new schema');
  t.equal(await send('a'), 422);

  const good = gw.config();
  writeFileSync(schemaFile, '{"type": "objekt"}');
  await live.check();
  t.equal(gw.config(), good, 'a schema that does not compile leaves the one in force');
  t.match(logText, /configuration reload failed/);
  t.match(logText, /routes\[0\]\.payload\.schema: [^"]*event\.json: the schema does not compile/, 'the log names the file and the error');
  t.equal(await send('b'), 200);
  t.equal(up.received.length, 3, 'the three deliveries the schema in force accepted');
});
