#!/usr/bin/env node
// The soak run (issue 9): `npm run soak` (build first: it runs the built CLI and imports the chaos
// suite's provider from dist/test/chaos/simulator.js).
//
// Three `hookgate run` replicas (subprocesses) share one ledger: PostgreSQL at HOOKGATE_TEST_PG_URL in
// a schema of their own (`ledger.schema`, dropped at the end), or, only when no PostgreSQL answers, an
// embedded on-disk ledger shared by the three (said so in the output and the report). A provider in
// this process sends Standard-Webhooks-signed deliveries at a steady rate, new ids plus a share of
// replays of earlier ids, and retries like the chaos suite's provider (non-2xx, errors and timeouts
// with backoff, 409/503 after Retry-After); the upstream app (node:http, in this process) counts what
// it processed per id. Every few seconds: each replica's RSS (/proc/PID/status VmRSS) and the
// ledger's complete count from its /metrics (to know when its LRU is full).
//
// At the end: exactly-once accounting (once / doubled / lost), latency percentiles of the provider's
// requests, RSS over time. Exit 1 when anything was lost or doubled, a delivery was refused or ran out
// of attempts, a replica died, the rate could not be held, or a replica's RSS grew after its LRU was
// full by more than SOAK_RSS_GROWTH_MB (see docs/reliability.md, "Soak"); exit 3 when the run overran
// its time bound. Children are killed on every exit path. Results go to docs/reliability.md between
// `<!-- soak:ID:start/end -->` markers (ID = soak-<minutes>m), or only to stdout with SOAK_OUT=none.
//
// Knobs: SOAK_RATE (deliveries/s, 200), SOAK_MINUTES (2), SOAK_DUP (share of replays, 0.1),
// SOAK_CACHE (ledger.cache per replica, 5000), SOAK_SAMPLE_S (5), SOAK_RSS_GROWTH_MB (16),
// SOAK_OUT (docs/reliability.md | none), HOOKGATE_TEST_PG_URL.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { start, stopAll, killAllSync, freePort, waitHttp, rssBytes, guard } from './lib/proc.mjs';
import { fmt, machine, machineLine, median, table } from './lib/report.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SIM = join(ROOT, 'dist/test/chaos/simulator.js');
if (!existsSync(SIM) || !existsSync(join(ROOT, 'dist/src/cli/main.js'))) {
  console.error('soak: dist/ is missing: run `npm run build` first (or `npm run soak`, which builds)');
  process.exit(2);
}
const { startChaosApp, deliverer, account, CHAOS_SECRET } = await import(pathToFileURL(SIM).href);

const num = (name, def, { min = 0 } = {}) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    console.error(`${name}: expected a number >= ${min}, got ${v}`);
    process.exit(2);
  }
  return n;
};
const K = {
  rate: num('SOAK_RATE', 200, { min: 1 }),
  minutes: num('SOAK_MINUTES', 2, { min: 0.1 }),
  dup: num('SOAK_DUP', 0.1),
  cache: num('SOAK_CACHE', 5000, { min: 1 }),
  sampleS: num('SOAK_SAMPLE_S', 5, { min: 1 }),
  growthMb: num('SOAK_RSS_GROWTH_MB', 16),
};
if (K.dup >= 1) {
  console.error('SOAK_DUP: expected a share below 1');
  process.exit(2);
}
const REPLICAS = 3;
const MAX_IN_FLIGHT = 5000;
const DRAIN_MS = 90_000;
const PG_URL = process.env.HOOKGATE_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const OUT = process.env.SOAK_OUT === 'none' ? null : join(ROOT, process.env.SOAK_OUT ?? 'docs/reliability.md');
const knobs = Object.entries(process.env).filter(([k]) => k.startsWith('SOAK_') && k !== 'SOAK_OUT').map(([k, v]) => `${k}=${v}`).sort();
const COMMAND = `${knobs.length ? `${knobs.join(' ')} ` : ''}npm run soak`;
const durationMs = K.minutes * 60_000;

const log = (...a) => console.log(...a);
const problems = [];

// ---------------------------------------------------------------------------------------------
// Never leave a process behind: a hard time bound, signals, and a synchronous kill on exit.
// ---------------------------------------------------------------------------------------------
let cleanup = async () => {};
const boundS = Math.ceil(durationMs / 1000 + DRAIN_MS / 1000 + 180);
const watchdog = guard('soak', boundS, () => cleanup());
process.on('exit', killAllSync);

// ---------------------------------------------------------------------------------------------
// Pieces
// ---------------------------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentiles(xs) {
  if (!xs.length) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(xs).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] };
}

/** The ledger: PostgreSQL in a fresh schema when a server answers, else one embedded file. */
async function openLedgerTarget(dir) {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const version = (await client.query('SHOW server_version')).rows[0].server_version;
    const schema = `hg_soak_${randomBytes(4).toString('hex')}`;
    return {
      kind: 'postgres',
      label: `PostgreSQL ${version} (SERIALIZABLE), schema \`${schema}\` of its own, dropped at the end`,
      yaml: [`url: ${JSON.stringify(PG_URL)}`, `schema: ${schema}`],
      rows: async () => Object.fromEntries((await client.query(`SELECT status, count(*)::int AS n FROM "${schema}".hookgate_ledger GROUP BY status`)).rows.map((r) => [r.status, r.n])),
      drop: async () => {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch((err) => console.error(`soak: could not drop schema ${schema}: ${err.message}`));
        await client.end().catch(() => {});
      },
    };
  } catch (err) {
    await client.end().catch(() => {});
    const file = join(dir, 'ledger.db');
    console.error(`soak: no PostgreSQL at HOOKGATE_TEST_PG_URL (${err.message}); FALLING BACK to an embedded on-disk ledger shared by the replicas`);
    return { kind: 'embedded', label: '**embedded on-disk ledger (WAL) shared by the three processes: no PostgreSQL was reachable**', yaml: [`url: ${JSON.stringify(`embedded:${file}`)}`], rows: async () => null, drop: async () => {} };
  }
}

async function startReplica(i, dir, appUrl, ledgerYaml) {
  const [port, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, `replica-${i}.yaml`);
  writeFileSync(file, [
    `listen: 127.0.0.1:${port}`,
    `admin: 127.0.0.1:${adminPort}`,
    `upstream: { url: ${JSON.stringify(appUrl)}, timeout: 10s }`,
    `ledger: { ${[...ledgerYaml, `cache: ${K.cache}`, 'lease: 30s', 'retention: 72h'].join(', ')} }`,
    // Far above the soak's rate: the limiter runs on every request but must not refuse one.
    'limits: { store: memory, unverified: 100000/s, tenants: { "*": 100000/s } }',
    'routes:',
    '  - { path: /hooks, provider: standard, tenant: acme, secrets: [env:CHAOS_SECRET] }',
    '',
  ].join('\n'));
  const proc = start(`replica ${i}`, process.execPath, [join(ROOT, 'bin/hookgate.js'), 'run', '--config', file], { cwd: ROOT, env: { CHAOS_SECRET } });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitHttp(proc, `${adminUrl}/readyz`, { timeoutMs: 30_000 });
  return { i, proc, pid: proc.pid, url: `http://127.0.0.1:${port}`, adminUrl, samples: [] };
}

async function metrics(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  // `slow`: operations over 100 ms, from the histograms (count minus the le="0.1" bucket): where a
  // latency tail comes from (the ledger's retries after a serialization failure, or the upstream).
  const out = { completes: 0, cacheHits: 0, outcomes: {}, ops: {} };
  const op = (name) => (out.ops[name] ??= { count: 0, fast: 0 });
  for (const line of text.split('\n')) {
    let h = /^hookgate_ledger_duration_seconds_(count|bucket)\{(?:le="([^"]+)",)?op="(claim|complete)"(?:,le="([^"]+)")?\} (\S+)/.exec(line);
    if (h) {
      const le = h[2] ?? h[4];
      if (h[1] === 'count') op(h[3]).count += Number(h[5]);
      else if (le === '0.1') op(h[3]).fast += Number(h[5]);
    }
    h = /^hookgate_upstream_duration_seconds_(count|bucket)(?:\{le="([^"]+)"\})? (\S+)/.exec(line);
    if (h) {
      if (h[1] === 'count') op('upstream').count += Number(h[3]);
      else if (h[2] === '0.1') op('upstream').fast += Number(h[3]);
    }
    let m = /^hookgate_ledger_duration_seconds_count\{op="complete"\} (\S+)/.exec(line);
    if (m) out.completes += Number(m[1]);
    m = /^hookgate_cache_hits_total(?:\{\})? (\S+)/.exec(line);
    if (m) out.cacheHits += Number(m[1]);
    m = /^hookgate_requests_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (m) out.outcomes[m[1]] = (out.outcomes[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

/**
 * The memory verdict for one replica. Only the LRU grows with the number of distinct deliveries
 * (everything else is bounded by concurrency or fixed); once the LRU is full (the replica has
 * settled ≥ ledger.cache keys: each settle inserts one), RSS must stop trending up. Compare the
 * median of the first and the last quarter of the samples taken after that point.
 */
function memoryVerdict(r) {
  const fill = r.samples.find((s) => s.completes >= K.cache);
  const after = fill ? r.samples.filter((s) => s.t > fill.t) : [];
  if (after.length < 4) return { fillT: fill?.t, full: false, note: `LRU not full long enough (${after.length} samples after it filled; settled ${r.samples.at(-1)?.completes ?? 0} of ${K.cache})` };
  const q = Math.max(1, Math.floor(after.length / 4));
  const first = median(after.slice(0, q).map((s) => s.rss));
  const last = median(after.slice(-q).map((s) => s.rss));
  const growth = last - first;
  return { fillT: fill.t, full: true, first, last, growth, max: Math.max(...r.samples.map((s) => s.rss)), ok: growth <= K.growthMb * 1048576 };
}

function writeSection(file, id, markdown) {
  const a = `<!-- soak:${id}:start -->`;
  const b = `<!-- soak:${id}:end -->`;
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Reliability\n';
  const block = `${a}\n${markdown.trim()}\n${b}`;
  const i = doc.indexOf(a);
  const j = doc.indexOf(b);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + b.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, doc);
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------
async function soak() {
  const mach = machine();
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-soak-'));
  const app = await startChaosApp();
  const ledger = await openLedgerTarget(dir);
  let replicas = [];
  cleanup = async () => {
    await stopAll();
    await app.close();
    await ledger.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The first replica migrates (creates the schema) alone; the others find it done.
    replicas.push(await startReplica(0, dir, app.url, ledger.yaml));
    replicas.push(...(await Promise.all([1, 2].map((i) => startReplica(i, dir, app.url, ledger.yaml)))));
    const urls = replicas.map((r) => r.url);
    log(`soak: ${REPLICAS} replicas (${replicas.map((r) => r.pid).join(', ')}) on ${ledger.kind}; ${K.rate}/s for ${K.minutes} min, ${Math.round(K.dup * 100)}% replays, ledger.cache ${K.cache}; RSS every ${K.sampleS} s`);

    const latNew = [];
    const latDup = [];
    const attemptOutcomes = {};
    const tally = (ms, outcome, into) => {
      into.push(ms);
      attemptOutcomes[outcome] = (attemptOutcomes[outcome] ?? 0) + 1;
    };
    const common = { targets: () => urls, requestTimeoutMs: 10_000, maxAttempts: 30 };
    const deliverNew = deliverer({ ...common, onAttempt: (ms, o) => tally(ms, o, latNew) });
    const deliverDup = deliverer({ ...common, onAttempt: (ms, o) => tally(ms, o, latDup) });

    const prefix = `evt_soak_${randomBytes(4).toString('hex')}`;
    const sent = [];
    const records = [];
    const endToEnd = [];
    let replays = 0;
    let inFlight = 0;
    let skipped = 0;
    let maxInFlight = 0;
    const settle = (rec) => {
      inFlight--;
      if (rec.settledAt !== undefined) {
        endToEnd.push(rec.settledAt - rec.startedAt);
        rec.trail = []; // keep memory flat in the harness; failures keep theirs for the report
      }
      records.push(rec);
    };
    const launch = () => {
      if (inFlight >= MAX_IN_FLIGHT) return void skipped++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (sent.length && Math.random() < K.dup) {
        // A provider re-sending an earlier event (same id, same body, re-signed now).
        const n = Math.floor(Math.random() * sent.length);
        replays++;
        deliverDup(sent[n], n).then(settle);
      } else {
        const n = sent.length;
        sent.push(`${prefix}_${n}`);
        deliverNew(sent[n], n).then(settle);
      }
    };

    // Samples: RSS and the ledger's settle count per replica, load average.
    const t0 = performance.now();
    const loads = [];
    const sampleAll = async () => {
      const t = (performance.now() - t0) / 1000;
      loads.push({ t, load: loadavg()[0] });
      await Promise.all(replicas.map(async (r) => {
        if (r.proc.exited) return;
        const rss = rssBytes(r.pid);
        const m = await metrics(r.adminUrl).catch(() => null);
        r.samples.push({ t, rss, completes: m?.completes ?? r.samples.at(-1)?.completes ?? 0, cacheHits: m?.cacheHits ?? 0 });
      }));
      const line = replicas.map((r) => `${fmt.mb(r.samples.at(-1)?.rss)} (${r.samples.at(-1)?.completes ?? 0} settled)`).join(' | ');
      log(`  t=${t.toFixed(0).padStart(4)} s  sent ${sent.length} (+${replays} replays) in flight ${inFlight}  load ${loadavg()[0].toFixed(2)}  RSS ${line}`);
    };
    await sampleAll();
    let nextSample = K.sampleS * 1000;

    // Open loop at a steady rate: every tick, start whatever is due by now.
    let started = 0;
    let died = null;
    for (;;) {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) break;
      died = replicas.find((r) => r.proc.exited);
      if (died) break;
      const due = Math.floor((elapsed / 1000) * K.rate);
      while (started < due) {
        launch();
        started++;
      }
      if (elapsed >= nextSample) {
        nextSample += K.sampleS * 1000;
        await sampleAll();
      }
      await sleep(5);
    }
    const sendSeconds = (performance.now() - t0) / 1000;
    if (died) problems.push(`replica ${died.i} (pid ${died.pid}) exited during the run: ${JSON.stringify(await died.proc.exit)}\n${died.proc.stderr().slice(-2000)}`);

    // Let every delivery finish (retries included), bounded.
    const drainUntil = performance.now() + DRAIN_MS;
    while (inFlight > 0 && performance.now() < drainUntil) await sleep(50);
    if (inFlight > 0) problems.push(`${inFlight} deliveries still unfinished ${DRAIN_MS / 1000} s after the sending stopped`);
    await sampleAll();

    const finals = await Promise.all(replicas.map((r) => (r.proc.exited ? null : metrics(r.adminUrl).catch(() => null))));
    const outcomes = {};
    for (const f of finals) for (const [k, v] of Object.entries(f?.outcomes ?? {})) outcomes[k] = (outcomes[k] ?? 0) + v;
    const rows = await ledger.rows().catch(() => null);
    const ops = {};
    for (const f of finals) for (const [k, v] of Object.entries(f?.ops ?? {})) ops[k] = { count: (ops[k]?.count ?? 0) + v.count, fast: (ops[k]?.fast ?? 0) + v.fast };
    const slow = Object.entries(ops).map(([k, v]) => `${k} ${fmt.int(v.count - v.fast)} of ${fmt.int(v.count)}`).join(', ');

    const a = account('soak', { sent, records }, app);
    const lat = { all: percentiles([...latNew, ...latDup]), new: percentiles(latNew), replay: percentiles(latDup), e2e: percentiles(endToEnd) };
    const mem = replicas.map((r) => ({ r, v: memoryVerdict(r) }));
    const achieved = (sent.length + replays) / sendSeconds;

    if (a.lost) problems.push(`${a.lost} deliveries lost (e.g. ${a.lostIds.slice(0, 3).join(', ')})`);
    if (a.doubled) problems.push(`${a.doubled} deliveries processed twice (e.g. ${a.doubledIds.slice(0, 3).join(', ')})`);
    if (a.refused) problems.push(`${a.refused} deliveries got a final 4xx`);
    if (a.exhausted) problems.push(`${a.exhausted} deliveries ran out of attempts: ${records.filter((x) => x.settledAt === undefined && !x.refused).slice(0, 3).map((x) => `${x.id}: ${x.trail.join(' ')}`).join('; ')}`);
    if (skipped > 0.01 * started) problems.push(`the rate could not be held: ${skipped} of ${started} deliveries not started (more than ${MAX_IN_FLIGHT} in flight)`);
    if (outcomes.internal_error) problems.push(`${outcomes.internal_error} internal_error outcomes`);
    for (const { r, v } of mem) {
      if (v.full && !v.ok) problems.push(`replica ${r.i}: RSS grew ${fmt.mb(v.growth)} after its LRU was full (bound ${K.growthMb} MB)`);
      if (!v.full) problems.push(`replica ${r.i}: ${v.note}: the memory bound was not tested (run longer, or lower SOAK_CACHE)`);
    }

    // ---- report ----
    const every = Math.max(1, Math.round(replicas[0].samples.length / 16));
    const idx = replicas[0].samples.map((_, i) => i).filter((i, _, all) => i % every === 0 || i === all.length - 1);
    const loadAt = (t) => loads.reduce((best, l) => (Math.abs(l.t - t) < Math.abs(best.t - t) ? l : best), loads[0]).load;
    const rssTable = table(['t (s)', ...replicas.map((r) => `replica ${r.i} RSS`), 'settled by replica 0/1/2', 'load (1 min)'], idx.map((i) => {
      const t = replicas[0].samples[i].t;
      return [t.toFixed(0), ...replicas.map((r) => fmt.mb(r.samples[i]?.rss)), replicas.map((r) => fmt.int(r.samples[i]?.completes)).join(' / '), loadAt(t).toFixed(2)];
    }));
    const memRows = table(['replica', 'LRU full at (s)', 'RSS max', 'first ¼ after full', 'last ¼ after full', 'growth after full', 'cache hits'], mem.map(({ r, v }) => [
      r.i, v.fillT !== undefined ? v.fillT.toFixed(0) : 'never', fmt.mb(Math.max(...r.samples.map((s) => s.rss))), fmt.mb(v.first), fmt.mb(v.last), v.full ? `${v.growth >= 0 ? '+' : ''}${fmt.mb(v.growth)}` : v.note, fmt.int(r.samples.at(-1)?.cacheHits),
    ]));
    const latRow = (name, p) => [name, fmt.int(p.n), fmt.ms(p.p50), fmt.ms(p.p90), fmt.ms(p.p99), fmt.ms(p.max)];
    const ls = loads.map((l) => l.load);
    const md = [
      `### ${K.minutes} minutes at ${K.rate} deliveries/s (${problems.length ? '**failed**' : 'passed'})`,
      '',
      `- Command: \`${COMMAND}\` (\`node bench/soak.mjs\` after \`npm run build\`).`,
      `- Machine: ${machineLine(mach)}; load average (1 min) during the run min ${Math.min(...ls).toFixed(2)} / median ${median(ls).toFixed(2)} / max ${Math.max(...ls).toFixed(2)}.`,
      `- Ledger: ${ledger.label}; \`ledger.cache: ${K.cache}\` per replica, lease 30s; three \`hookgate run\` processes, logs at info to /dev/null.`,
      `- Load: ${fmt.int(sent.length)} new deliveries + ${fmt.int(replays)} replays of earlier ids (${Math.round(K.dup * 100)}%, uniform over all ids sent so far) in ${sendSeconds.toFixed(0)} s = ${achieved.toFixed(1)}/s (target ${K.rate}/s; most in flight at once ${maxInFlight}), round-robin over the replicas, retries as in the chaos suite.`,
      '',
      '| sent (unique) | delivered once | doubled | lost | refused | out of attempts | replays | app requests | provider attempts |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${a.sent} | ${a.once} | ${a.doubled} | ${a.lost} | ${a.refused} | ${a.exhausted} | ${replays} | ${a.received} | ${a.attempts} |`,
      '',
      `Gateway outcomes (all replicas): ${Object.entries(outcomes).sort().map(([k, v]) => `${k} ${fmt.int(v)}`).join(', ')}. Provider attempts by answer: ${Object.entries(attemptOutcomes).sort().map(([k, v]) => `${k} ${fmt.int(v)}`).join(', ')}.${rows ? ` Ledger rows at the end: ${Object.entries(rows).map(([k, v]) => `${k} ${fmt.int(v)}`).join(', ')}.` : ''}`,
      '',
      'Latency of the provider\'s requests (sent to answer, in the provider):',
      '',
      table(['requests', 'n', 'p50', 'p90', 'p99', 'max'], [latRow('all', lat.all), latRow('new ids (forwarded)', lat.new), latRow('replays (duplicate / in_flight)', lat.replay), latRow('delivery, first attempt to 2xx', lat.e2e)]),
      '',
      `Operations over 100 ms in the gateways (from their histograms): ${slow}.`,
      '',
      `Memory (RSS from /proc, every ${K.sampleS} s; bound: growth after the LRU is full ≤ ${K.growthMb} MB):`,
      '',
      memRows,
      '',
      rssTable,
      ...(problems.length ? ['', '**Problems:**', ...problems.map((p) => `- ${p.split('\n')[0]}`)] : []),
    ].join('\n');
    return md;
  } finally {
    await cleanup();
  }
}

let code = 0;
try {
  const md = await soak();
  log(`\n${md}\n`);
  if (problems.length) {
    code = 1;
    console.error(`soak: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
  // Only a passing run replaces the recorded one (a failed run's report is printed above).
  if (OUT && !problems.length) {
    writeSection(OUT, `soak-${K.minutes}m`, md);
    log(`written to ${OUT.slice(ROOT.length)}`);
  }
} catch (err) {
  code = 1;
  console.error(`soak failed: ${err.stack ?? err}`);
  await stopAll().catch(() => {});
}
clearTimeout(watchdog);
process.exit(code);
