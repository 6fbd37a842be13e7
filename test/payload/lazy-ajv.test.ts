// ajv's 2020-12 compiler is loaded only when a route has a payload schema: a gateway without one
// keeps its idle memory and hot path (the config's own validator is ajv's standalone output). Checked
// in a fresh process, through the CommonJS module cache ajv lands in. (Fastify's own schema compiler
// brings ajv's draft-07 core at ready(), with or without payload rules; that is not asserted here.)
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const load = pathToFileURL(resolve('dist/src/config/load.js')).href;
const app = pathToFileURL(resolve('dist/src/app.js')).href;

function ajvAfter(payload: unknown): boolean {
  const script = `
    import { createRequire } from 'node:module';
    import { resolveConfig } from ${JSON.stringify(load)};
    import { buildApp } from ${JSON.stringify(app)};
    import { createMetrics } from ${JSON.stringify(pathToFileURL(resolve('dist/src/observability/metrics.js')).href)};
    import { createLogger } from ${JSON.stringify(pathToFileURL(resolve('dist/src/observability/logger.js')).href)};
    const route = { path: '/a', provider: 'github', tenant: 'acme', secrets: ['x'], ${payload ? `payload: ${JSON.stringify(payload)}` : ''} };
    const { config } = resolveConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [route] }, { env: {}, baseDir: process.cwd() });
    const gw = await buildApp(config, { logger: createLogger('silent'), metrics: createMetrics({ defaultMetrics: false }), ledger: null });
    await gw.traffic.ready();
    await gw.close();
    const cache = createRequire(import.meta.url).cache;
    process.stdout.write(String(Object.keys(cache).some((k) => /[\\\\/]ajv[\\\\/]dist[\\\\/]2020\\.js$/.test(k))));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout === 'true';
}

t.test('no payload schema: ajv\'s 2020-12 compiler is never loaded', async (t) => {
  t.equal(ajvAfter(null), false);
  t.equal(ajvAfter({ maxDepth: 16, tenantField: 'json:tenant' }), false, 'a depth limit and a tenant field need no ajv either');
});

t.test('a payload schema loads it, at config load', async (t) => {
  t.equal(ajvAfter({ schema: { type: 'object' } }), true);
});
