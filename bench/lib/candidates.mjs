// What the benchmarks compare, each in its own process (its own event loop), all forwarding to the
// same upstream: the gateway (the real CLI, `hookgate run --config FILE`), bare fastify +
// @fastify/http-proxy (the reference), and nginx `proxy_pass` / nginx + njs HMAC check when nginx is
// installed. Each starter returns { name, url, pid, proc, … } once the candidate answers.
import { mkdtempSync, writeFileSync, existsSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { start, message, waitHttp, freePort, stop } from './proc.mjs';
import { SECRET, PATH } from './load.mjs';
import { parseBytes } from './cgroup.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIB = fileURLToPath(new URL('./', import.meta.url));
/**
 * The tree whose bin/hookgate.js and dist/ are measured: this repository, or BENCH_GATEWAY_ROOT (a
 * built checkout elsewhere). BENCH_COMPARE_ROOT names a second built tree, measured side by side as
 * `hookgate B` (A/B of a change).
 */
export const GATEWAY_ROOT = process.env.BENCH_GATEWAY_ROOT ? resolve(process.env.BENCH_GATEWAY_ROOT) : ROOT;
export const COMPARE_ROOT = process.env.BENCH_COMPARE_ROOT || process.env.BENCH_COMPARE_ENV || process.env.BENCH_COMPARE_NODE_ARGS ? resolve(process.env.BENCH_COMPARE_ROOT || GATEWAY_ROOT) : null;
/** BENCH_COMPARE_ENV="NAME=value …": environment of `hookgate B` only (toggles in an experimental build). */
/** BENCH_COMPARE_NODE_ARGS="--flag …": Node's own flags for `hookgate B` only (V8 heap settings, say). */
export const COMPARE_NODE_ARGS = (process.env.BENCH_COMPARE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const words = (s) => s.split(/\s+/).filter(Boolean);
/** Node's flags in the image: the Dockerfile's `ENV NODE_OPTIONS=` (none if it sets none). */
export const IMAGE_NODE_ARGS = words(/^ENV NODE_OPTIONS=(?:"([^"]*)"|(\S*))$/m.exec(existsSync(join(GATEWAY_ROOT, 'Dockerfile')) ? readFileSync(join(GATEWAY_ROOT, 'Dockerfile'), 'utf8') : '')?.slice(1).join('') ?? '');
/**
 * Node's flags for every hookgate candidate: the image's unless BENCH_GATEWAY_NODE_ARGS says otherwise
 * (empty: Node's defaults, as a bare `node bin/hookgate.js` runs). The benchmarks measure the gateway
 * as it is deployed.
 */
export const GATEWAY_NODE_ARGS = process.env.BENCH_GATEWAY_NODE_ARGS === undefined ? IMAGE_NODE_ARGS : words(process.env.BENCH_GATEWAY_NODE_ARGS);
/** `image`, `node-defaults` or `flags` (others), for section names */
export const GATEWAY_LAUNCH = GATEWAY_NODE_ARGS.join(' ') === IMAGE_NODE_ARGS.join(' ') ? 'image' : GATEWAY_NODE_ARGS.length === 0 ? 'node-defaults' : 'flags';
/** how hookgate was started, for every report */
export function launchLine() {
  const args = GATEWAY_NODE_ARGS.length ? `\`${GATEWAY_NODE_ARGS.join(' ')}\`` : "Node's defaults";
  return GATEWAY_LAUNCH === 'image' ? `hookgate on the image's Node flags (${args})` : `hookgate on ${args}, not the image's (${IMAGE_NODE_ARGS.join(' ') || 'none'})`;
}
/** BENCH_MEMORY_LIMIT=256Mi: every candidate (not the upstream or the load) in a memory cgroup of its own with that limit, as in a pod (cgroup.mjs). */
export const MEMORY_LIMIT = process.env.BENCH_MEMORY_LIMIT ? parseBytes(process.env.BENCH_MEMORY_LIMIT) : undefined;
export const COMPARE_ENV = Object.fromEntries((process.env.BENCH_COMPARE_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

export function scratchDir(tag) {
  return mkdtempSync(join(tmpdir(), `hookgate-bench-${tag}-`));
}

/**
 * `port`: listen there (bench:spool opens the upstream on the port a gateway already targets);
 * `dedup`: count deliveries whose hookgate-idempotency-key arrived before (`dupes` in its stats).
 */
export async function startUpstream({ port: want, dedup = false } = {}) {
  const proc = start('upstream', process.execPath, [join(LIB, 'upstream.mjs')], { ipc: true, env: { ...(want ? { PORT: String(want) } : {}), ...(dedup ? { UPSTREAM_DEDUP: '1' } : {}) } });
  const { port } = await message(proc, 'ready');
  return { name: 'upstream', url: `http://127.0.0.1:${port}`, pid: proc.pid, proc, stop: () => stop(proc) };
}

export async function startBareProxy(upstreamUrl, { nodeArgs = [] } = {}) {
  const proc = start('fastify+http-proxy', process.execPath, [...nodeArgs, join(LIB, 'proxy-fastify.mjs')], { ipc: true, env: { UPSTREAM: upstreamUrl }, cwd: ROOT, memoryLimit: MEMORY_LIMIT });
  const { port } = await message(proc, 'ready');
  return { name: 'fastify+http-proxy', kind: 'reference', url: `http://127.0.0.1:${port}`, pid: proc.pid, proc, stop: () => stop(proc) };
}

/**
 * node:http + undici + the njs script's HMAC check and nothing else (proxy-node-floor.mjs): what no
 * gateway on Node's HTTP stack can beat, beside nginx+njs for the stretch target. Node's defaults.
 */
export async function startNodeFloor(upstreamUrl) {
  const proc = start('node-http+hmac', process.execPath, [join(LIB, 'proxy-node-floor.mjs')], { ipc: true, env: { UPSTREAM: upstreamUrl }, cwd: ROOT, memoryLimit: MEMORY_LIMIT });
  const { port } = await message(proc, 'ready');
  return { name: 'node-http+hmac (floor)', kind: 'baseline', url: `http://127.0.0.1:${port}`, pid: proc.pid, proc, stop: () => stop(proc) };
}

/**
 * The gateway through its CLI. `ledger`: a ledger URL (embedded, embedded:FILE, postgres://…).
 * Limits are configured far above what the machine can drive, so the limiter runs on every request
 * but never refuses (`unverified`: another per-address rate, for bench:attack). `nodeArgs`: e.g.
 * --cpu-prof; `preload`: modules for --import. `delivery`: the route's delivery mode (sync when unset);
 * `spool`: the top-level spool block (an object, written as YAML flow).
 */
export async function startGateway(upstreamUrl, { name = 'hookgate', root = GATEWAY_ROOT, ledger = 'embedded', cache = 100000, nodeArgs = [], preload = [], ipc = false, dir, env = {}, logTo = 'ignore', delivery, spool, unverified = '10000000/s' } = {}) {
  const ownDir = !dir;
  dir ??= scratchDir('gw');
  const [port, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, [
    `listen: 127.0.0.1:${port}`,
    `admin: 127.0.0.1:${adminPort}`,
    'mode: enforce',
    'upstream:',
    `  url: ${upstreamUrl}`,
    '  timeout: 30s',
    'ledger:',
    `  url: ${JSON.stringify(ledger)}`,
    `  cache: ${cache}`,
    '  retention: 72h',
    '  lease: 30s',
    'limits:',
    '  store: memory',
    `  unverified: ${unverified}`,
    '  tenants:',
    '    "*": 10000000/s',
    ...(spool ? [`spool: ${JSON.stringify(spool)}`] : []),
    'routes:',
    `  - path: ${PATH}`,
    '    provider: stripe',
    '    tenant: acme',
    '    secrets: [env:BENCH_STRIPE_SECRET]',
    '    tolerance: 5m',
    ...(delivery ? [`    delivery: ${delivery}`] : []),
    '',
  ].join('\n'));
  const args = [...preload.flatMap((p) => ['--import', p]), ...GATEWAY_NODE_ARGS, ...nodeArgs, join(root, 'bin/hookgate.js'), 'run', '--config', file];
  const proc = start(name, process.execPath, args, { ipc, cwd: root, env: { BENCH_STRIPE_SECRET: SECRET, ...env }, stdout: logTo, memoryLimit: MEMORY_LIMIT });
  // However it ends (stopped here, by stopAll, or crashed), its scratch files go with it.
  proc.exit.then(() => rmSync(ownDir ? dir : file, { recursive: true, force: true }));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitHttp(proc, `${adminUrl}/readyz`, { timeoutMs: 30_000 });
  await waitHttp(proc, `http://127.0.0.1:${port}/`, { expect: 404 });
  return {
    name, kind: 'gateway', url: `http://127.0.0.1:${port}`, adminUrl, pid: proc.pid, proc, dir, config: file,
    stop: () => stop(proc, 35_000),
  };
}

/**
 * `hookgate_requests_total` by outcome, the ledger's claim count and the spool's tries at the
 * upstream by result (`hookgate_spool_dispatches_total`), from /metrics.
 */
export async function gatewayCounters(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const outcomes = {};
  const dispatches = {};
  let live = 0;
  let claims = 0;
  for (const line of text.split('\n')) {
    let m = /^hookgate_requests_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (m) outcomes[m[1]] = (outcomes[m[1]] ?? 0) + Number(m[2]);
    m = /^hookgate_ledger_duration_seconds_count\{op="claim"\} (\S+)/.exec(line);
    if (m) claims += Number(m[1]);
    m = /^hookgate_spool_dispatches_total\{[^}]*result="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (m) dispatches[m[1]] = (dispatches[m[1]] ?? 0) + Number(m[2]);
    m = /^hookgate_spool_depth\{[^}]*state="(?:pending|delivering)"[^}]*\} (\S+)/.exec(line);
    if (m) live += Number(m[1]);
  }
  // live: the spool's pending + delivering deliveries (read from the database when scraped)
  return { outcomes, claims, dispatches, live };
}

export function nginxBinary() {
  for (const p of [process.env.NGINX, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) if (p && existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function njsModule() {
  for (const p of ['/usr/lib/nginx/modules/ngx_http_js_module.so', '/usr/local/nginx/modules/ngx_http_js_module.so', '/usr/lib64/nginx/modules/ngx_http_js_module.so']) if (existsSync(p)) return p;
  return null;
}

// A hand-written Stripe check in njs: parse t= and v1=, tolerance, HMAC-SHA256 over `t.body`, then an
// internal redirect to the proxy location (the body is already in memory and is reused).
const NJS = `import crypto from 'crypto';
var SECRET = ${JSON.stringify(SECRET)};
function verify(r) {
  var h = r.headersIn['Stripe-Signature'] || '';
  var parts = h.split(',');
  var t = '', v1 = '';
  for (var j = 0; j < parts.length; j++) {
    var i = parts[j].indexOf('=');
    var k = parts[j].slice(0, i), v = parts[j].slice(i + 1);
    if (k === 't') t = v; else if (k === 'v1' && !v1) v1 = v;
  }
  if (!t || !v1) return r.return(401, '{"error":"signature_missing"}');
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return r.return(401, '{"error":"timestamp_out_of_tolerance"}');
  var body = r.requestBuffer;
  if (body === undefined) return r.return(413);
  var mac = crypto.createHmac('sha256', SECRET).update(t + '.').update(body).digest('hex');
  if (mac !== v1) return r.return(401, '{"error":"signature_invalid"}');
  r.internalRedirect('@upstream');
}
export default { verify };
`;

/**
 * nginx with ONE worker (the gateway is one event loop; a fair per-core comparison), access log off,
 * keep-alive to the upstream. `njs`: verify the signature first. Returns null (with a reason) when
 * nginx or its njs module is not installed.
 */
export async function startNginx(upstreamUrl, { njs = false } = {}) {
  const bin = nginxBinary();
  if (!bin) return { skipped: 'nginx is not installed (apt-get install nginx libnginx-mod-http-js to include it)' };
  const mod = njs ? njsModule() : null;
  if (njs && !mod) return { skipped: 'the njs module is not installed (apt-get install libnginx-mod-http-js)' };
  const dir = scratchDir(njs ? 'njs' : 'nginx');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, d));
  const port = await freePort();
  const up = new URL(upstreamUrl);
  const proxy = 'proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";';
  if (njs) writeFileSync(join(dir, 'hmac.js'), NJS);
  writeFileSync(join(dir, 'nginx.conf'), `
${mod ? `load_module ${mod};` : ''}
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs/error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  client_max_body_size 1m;
  client_body_buffer_size 64k;
  keepalive_requests 1000000;
  upstream app { server ${up.host}; keepalive 128; keepalive_requests 1000000; }
  ${njs ? `js_import hg from ${join(dir, 'hmac.js')};` : ''}
  server {
    listen 127.0.0.1:${port};
    ${njs ? `location / { js_content hg.verify; }\n    location @upstream { ${proxy} }` : `location / { ${proxy} }`}
  }
}
`);
  const name = njs ? 'nginx+njs-hmac' : 'nginx-proxy_pass';
  const proc = start(name, bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process on;'], { memoryLimit: MEMORY_LIMIT });
  proc.exit.then(() => rmSync(dir, { recursive: true, force: true }));
  await waitHttp(proc, `http://127.0.0.1:${port}/healthz-probe`, { expect: njs ? 401 : 200 });
  return {
    name, kind: 'baseline', url: `http://127.0.0.1:${port}`, pid: proc.pid, proc, dir,
    stop: () => stop(proc),
  };
}
