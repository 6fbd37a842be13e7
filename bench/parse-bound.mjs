#!/usr/bin/env node
// What parsing a body nobody has vouched for yet costs, before and after the bounds of issue 13
// (Mailgun, Twilio and per-tenant `json:` routes parse the body before any MAC). In this process, with
// the gateway's own modules from dist/ (`npm run build` first); median of ROUNDS, milliseconds a body.
//
//   node bench/parse-bound.mjs        (BENCH_PARSE_ROUNDS, default 7)
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './lib/report.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { parseForm, parseUnverifiedJson } = await import(pathToFileURL(join(ROOT, 'dist/src/providers/primitives.js')).href);
const ROUNDS = Number(process.env.BENCH_PARSE_ROUNDS ?? 7);
const MB = 1 << 20;

const bodies = {
  'deep JSON array, 1 MB': Buffer.from('['.repeat(MB / 2) + ']'.repeat(MB / 2)),
  'deep JSON object, 1 MB': Buffer.from('{"a":'.repeat(MB / 6) + '1' + '}'.repeat(MB / 6)),
  'flat JSON object, 1 MB (65,536 members)': Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: MB / 16 }, (_, i) => [`k${i}`, i])))),
  'JSON array of numbers, 1 MB': Buffer.from(JSON.stringify({ n: Array.from({ length: MB / 2 }, () => 1) })),
  'form, 1 MB (262,144 parameters)': Buffer.from('a=1&'.repeat(MB / 4)),
  'Mailgun event, 2 KB': Buffer.from(JSON.stringify({ signature: { timestamp: '1700000000', token: 'a'.repeat(50), signature: 'f'.repeat(64) }, 'event-data': { event: 'delivered', id: 'x', message: { headers: { 'message-id': 'm', to: 'a@example.com' } }, pad: 'p'.repeat(1700) } })),
};

const time = (fn) => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const isForm = (name) => name.startsWith('form');
let current = '';
const pieces = {
  'HMAC-SHA256 (reference)': (b) => createHmac('sha256', 'k').update(b).digest(),
  before: (b) => (isForm(current) ? new URLSearchParams(b.toString('utf8')) : (() => { try { return JSON.parse(b.toString('utf8')); } catch { return undefined; } })()),
  // per-tenant json: routes bound the depth; Mailgun (small events) the items too; forms the parameters
  'after: depth bound (per-tenant json:)': (b) => (isForm(current) ? parseForm(b) : parseUnverifiedJson(b)),
  'after: depth + 10,000 items (Mailgun)': (b) => (isForm(current) ? parseForm(b) : parseUnverifiedJson(b, 64, 10_000)),
};
const rows = [];
for (const [name, body] of Object.entries(bodies)) {
  current = name;
  const samples = Object.fromEntries(Object.keys(pieces).map((p) => [p, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [p, fn] of Object.entries(pieces)) samples[p].push(time(() => fn(body)));
  rows.push([name, ...Object.keys(pieces).map((p) => median(samples[p]).toFixed(3))]);
}
console.log(`| body | ${Object.keys(pieces).join(' | ')} |`);
console.log(`|---|${Object.keys(pieces).map(() => '---:').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
