#!/usr/bin/env node
// What a route's payload rules cost per delivery (CONTRACT.md, Payload rules), in CPU microseconds,
// in-process with the gateway's own modules from dist/ (`npm run build` first): the depth scan on the
// bytes, the parse, the compiled schema (config/schemas/stripe-event.json, the shipped example) and
// the whole stage (depth + parse + schema + tenant field) on a 2 KiB Stripe event.
// Pieces are interleaved over rounds and the median is printed; writes its section of docs/benchmarks.md.
//
//   node bench/payload.mjs          (BENCH_PAYLOAD_MS: time per piece per round, default 300)
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, fmt, machine, machineLine, table, writeSection } from './lib/report.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist/src', p)).href);
const MS = Number(process.env.BENCH_PAYLOAD_MS ?? 300);
const ROUNDS = Number(process.env.BENCH_PAYLOAD_ROUNDS ?? 5);
const BYTES = 2048;

const { resolveConfig } = await dist('config/load.js');
const { judgePayload } = await dist('stages/payload.js');
const { jsonWithinDepth } = await dist('providers/json-bounds.js');

const route = {
  path: '/t/:tenant/stripe', provider: 'stripe', tenant: 'param:tenant', secrets: { acme: ['bench-secret-acme'] },
  payload: { schema: `file:${resolve(ROOT, 'config/schemas/stripe-event.json')}`, tenantField: 'json:data.object.metadata.tenant', maxDepth: 32 },
};
const config = resolveConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [route] }, { env: {}, baseDir: ROOT }).config;
const rules = config.routes[0].payload;

/** A charge.succeeded event of exactly 2048 bytes (the padding is the charge's description). */
function event(i) {
  const e = {
    id: `evt_3PbenchPayload${String(i).padStart(8, '0')}`, object: 'event', api_version: '2024-06-20', created: 1_733_480_000 + i,
    data: { object: {
      id: `ch_3Pbench${i}`, object: 'charge', amount: 2000, amount_captured: 2000, currency: 'usd', captured: true, paid: true, status: 'succeeded',
      billing_details: { address: { city: 'Berlin', country: 'DE', line1: 'Example Str. 1', postal_code: '10115' }, email: 'buyer@example.com', name: 'A Buyer' },
      payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030, funding: 'credit' } },
      metadata: { tenant: 'acme', order: `o-${i}`, cart: 'c-77' }, description: '',
    } },
    livemode: false, pending_webhooks: 1, request: { id: `req_${i}`, idempotency_key: null }, type: 'charge.succeeded',
  };
  const base = Buffer.byteLength(JSON.stringify(e));
  e.data.object.description = 'x'.repeat(BYTES - base);
  return Buffer.from(JSON.stringify(e));
}
const bodies = Array.from({ length: 1024 }, (_, i) => event(i));
if (bodies.some((b) => b.length !== BYTES)) throw new Error('event size');
const parsed = bodies.map((b) => JSON.parse(b.toString('utf8')));
const delivery = () => ({ route: config.routes[0], startedAt: 0n, tenant: 'acme', verdict: 'ok' });
// Sanity: the events conform, so every piece measures the path a good delivery takes.
for (const b of bodies.slice(0, 8)) if (judgePayload(rules, delivery(), b)) throw new Error('the bench event does not conform');

let sink = 0;
let n = 0;
const pieces = {
  'depth scan of the bytes (maxDepth 32)': () => (sink ^= jsonWithinDepth(bodies[n++ & 1023], 32) ? 1 : 0),
  'JSON.parse of the body': () => (sink ^= JSON.parse(bodies[n++ & 1023].toString('utf8')).created),
  'compiled schema on the parsed event (stripe-event.json)': () => (sink ^= rules.schema.validate(parsed[n++ & 1023]) ? 1 : 0),
  'whole stage: depth + parse + schema + tenant field': () => (sink ^= judgePayload(rules, delivery(), bodies[n++ & 1023]) ? 1 : 0),
};

function measure(fn) {
  for (let i = 0; i < 2000; i++) fn();
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const end = Date.now() + MS;
  while (Date.now() < end) for (let i = 0; i < 200; i++, calls++) fn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / calls;
}

const m = machine();
const results = Object.fromEntries(Object.keys(pieces).map((k) => [k, []]));
const names = Object.keys(pieces);
for (let r = 0; r < ROUNDS; r++) {
  for (let j = 0; j < names.length; j++) {
    const name = names[(j + r) % names.length];
    results[name].push(measure(pieces[name]));
  }
}
const rows = names.map((name) => [name, fmt.us(median(results[name])).replace(' µs', ''), results[name].map((x) => x.toFixed(2)).join(' / ')]);
const md = `## Payload rules (\`node bench/payload.mjs\`)

${machineLine(m)}

CPU µs per call, median of ${ROUNDS} interleaved rounds of ${MS} ms each, on a ${BYTES}-byte Stripe
\`charge.succeeded\` event, with the shipped \`config/schemas/stripe-event.json\`, \`tenantField:
json:data.object.metadata.tenant\` and \`maxDepth: 32\`. The stage parses the body once and shares
the value with a \`json:\` tenant or key (\`request.hg.json\`); the parse is most of its cost. Stripe's
verifier still parses the body on its own for the event's id, so on a Stripe route the body is parsed
twice (handing the verifier's value to the delivery is the lever, on the providers' side).

${table(['piece', 'µs (median)', 'every round'], rows)}
`;
process.stdout.write(md + '\n');
if (sink === 0.5) console.log(sink);
if (!process.env.BENCH_PAYLOAD_NO_WRITE) writeSection(join(ROOT, 'docs/benchmarks.md'), 'payload', md);
