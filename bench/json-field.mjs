#!/usr/bin/env node
// What reading a per-tenant route's `json:` tenant from an unsigned body costs (issue 13): the bounded
// field scanner (src/providers/json-field.ts) against JSON.parse and against just touching the bytes.
// In this process, with the gateway's own modules from dist/ (`npm run build` first); median of
// ROUNDS (after WARM warm-up rounds), milliseconds of CPU a body.
//
//   node bench/json-field.mjs        (BENCH_FIELD_ROUNDS, default 11)
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { median } from './lib/report.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist/src', p)).href);
const { jsonFieldUnverified } = await dist('providers/json-field.js');
const { parseUnverifiedJson } = await dist('providers/primitives.js');
const ROUNDS = Number(process.env.BENCH_FIELD_ROUNDS ?? 11);
const WARM = 3;
const MB = 1 << 20;
const PATH = 'shop_domain';

const shopify = {
  id: 820982911946154508,
  email: 'jon@example.com',
  created_at: '2026-12-06T10:00:00-05:00',
  total_price: '598.94',
  currency: 'USD',
  financial_status: 'paid',
  customer: { id: 115310627314723954, email: 'jon@example.com', first_name: 'Jon', last_name: 'Doe', default_address: { address1: '123 Elm St.', city: 'Ottawa', province: 'Ontario', country: 'Canada', zip: 'K2P 1L4' } },
  line_items: Array.from({ length: 6 }, (_, i) => ({ id: 866550311766439000 + i, title: `Item ${i} – “quoted” \\ escaped`, quantity: 1 + i, price: '99.99', sku: `SKU-${i}`, properties: [], tax_lines: [{ title: 'GST', price: '5.00', rate: 0.05 }] })),
  note: 'Ünïcödé 😀 and "escapes"\n',
  shop_domain: 'acme.myshopify.com',
};
const flat = Object.fromEntries(Array.from({ length: MB / 16 }, (_, i) => [`k${i}`, i]));
const bodies = {
  'flat JSON object, 1 MB (65,536 members; tenant last)': Buffer.from(JSON.stringify({ ...flat, shop_domain: 'acme' })),
  'deep JSON object, 1 MB (refused at depth 65)': Buffer.from('{"a":'.repeat(MB / 6) + '1' + '}'.repeat(MB / 6)),
  'nested 60 levels, repeated to 1 MB (within the bound)': Buffer.from(JSON.stringify({ x: Array.from({ length: 2900 }, () => JSON.parse('{"a":'.repeat(60) + '"v"' + '}'.repeat(60))), shop_domain: 'acme' })),
  'strings with escapes, 1 MB': Buffer.from(JSON.stringify({ s: Array.from({ length: 4096 }, () => 'a"b\\c\n\u00e9😀'.repeat(16)), shop_domain: 'acme' })),
  'Shopify-like order event, 2 KiB': Buffer.from(JSON.stringify(shopify).padEnd(2048, ' ')),
};

// CPU time of this process (user + system), not wall time: on a shared machine the wall clock also
// counts the time other processes held the core. Each sample repeats the piece until it has run ~20 ms.
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const time = (fn, body) => {
  let reps = 0;
  const t0 = cpu();
  let t = t0;
  do {
    fn(body);
    reps++;
    t = cpu();
  } while (t - t0 < 20);
  return (t - t0) / reps;
};
let sink = 0;
const pieces = {
  // a lower bound: one look at every byte
  'read every byte': (b) => {
    let x = 0;
    for (let i = 0; i < b.length; i++) x ^= b[i];
    sink ^= x;
  },
  'HMAC-SHA256': (b) => createHmac('sha256', 'k').update(b).digest(),
  'JSON.parse': (b) => {
    try {
      return JSON.parse(b.toString('utf8'));
    } catch {
      return undefined;
    }
  },
  'depth bound + JSON.parse (before)': (b) => parseUnverifiedJson(b),
  'field scanner (now)': (b) => jsonFieldUnverified(b, PATH),
};

const rows = [];
for (const [name, body] of Object.entries(bodies)) {
  const samples = Object.fromEntries(Object.keys(pieces).map((p) => [p, []]));
  for (let r = 0; r < WARM + ROUNDS; r++)
    for (const [p, fn] of Object.entries(pieces)) {
      const ms = time(fn, body);
      if (r >= WARM) samples[p].push(ms);
    }
  const scanned = jsonFieldUnverified(body, PATH);
  rows.push([name, `${(body.length / 1024).toFixed(0)} KiB`, ...Object.keys(pieces).map((p) => median(samples[p]).toFixed(3)), typeof scanned === 'object' ? scanned.problem : JSON.stringify(scanned)]);
}
console.log(`node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')}, median of ${ROUNDS} (${WARM} warm-up rounds), ms of CPU a body\n`);
console.log(`| body | size | ${Object.keys(pieces).join(' | ')} | scanner answers |`);
console.log(`|---|---:|${Object.keys(pieces).map(() => '---:').join('|')}|---|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
if (sink === 0.5) console.log(sink);
