#!/usr/bin/env node
// hookgate's benchmarks (issue 8). One scenario per npm script:
//
//   node bench/run.mjs full     npm run bench         full pipeline, unique events, embedded ledger vs the bare proxy
//   node bench/run.mjs dup      npm run bench:dup     duplicates answered from the LRU vs the bare proxy
//   node bench/run.mjs ledger   npm run bench:ledger  full pipeline on the PostgreSQL ledger vs the bare proxy
//   node bench/run.mjs memory   npm run bench:memory  RSS idle, after 100k LRU entries, sampled over a run
//   node bench/run.mjs profile  npm run bench:profile the gateway under load with --cpu-prof; top frames
//   node bench/run.mjs spool    npm run bench:spool   accepted/s on a spool route vs sync vs the bare proxy; delivery rate
//   node bench/run.mjs attack   npm run bench:attack  forged signatures (401), over the per-address limit (429), fairness under a flood (bench/lib/attack.mjs)
//
// Every process it needs (upstream, candidates) is started here, in its own process, and stopped at the
// end, also on failure or timeout. Needs `npm run build` first (the gateway runs from dist/ through
// bin/hookgate.js). Knobs (environment): see bench/README.md. Exits non-zero when a candidate fails,
// a run sees errors or unexpected statuses, or the whole run overruns its time bound.
import { join } from 'node:path';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import pg from 'pg';
import { startUpstream, startBareProxy, startNodeFloor, startGateway, startNginx, gatewayCounters, ROOT, GATEWAY_ROOT, COMPARE_ROOT, COMPARE_ENV, COMPARE_NODE_ARGS, GATEWAY_NODE_ARGS, GATEWAY_LAUNCH, MEMORY_LIMIT, scratchDir } from './lib/candidates.mjs';
import { drive, signCostUs } from './lib/load.mjs';
import { cpuSeconds, mainThreadCpuSeconds, rssBytes, stopAll, killAllSync, ask, guard, freePort } from './lib/proc.mjs';
import { median, fmt, machine as machineInfo, machineLine, table, writeSection } from './lib/report.mjs';
import { summarize } from './lib/cpuprofile.mjs';
import { scenarioAttack } from './lib/attack.mjs';

const SCENARIOS = ['full', 'dup', 'ledger', 'memory', 'profile', 'spool', 'attack'];
const scenario = process.argv[2] ?? 'full';
if (!SCENARIOS.includes(scenario)) {
  console.error(`usage: node bench/run.mjs ${SCENARIOS.join('|')}`);
  process.exit(2);
}

const num = (name, def) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`${name}: expected a number, got ${v}`);
    process.exit(2);
  }
  return n;
};
const K = {
  seconds: num('BENCH_SECONDS', 10),
  rounds: num('BENCH_ROUNDS', 3),
  warmup: num('BENCH_WARMUP', 3),
  connections: num('BENCH_CONNECTIONS', 50),
  memorySeconds: num('BENCH_MEMORY_SECONDS', 60),
  memoryFill: num('BENCH_MEMORY_FILL', 100_000),
  memoryRate: num('BENCH_MEMORY_RATE', 0),
  dupIds: num('BENCH_DUP_IDS', 1000),
  spoolBurst: num('BENCH_SPOOL_BURST', 5000),
  drainTimeout: num('BENCH_SPOOL_DRAIN_S', 300),
};
// bench:spool's delivery-rate runs: one per spool concurrency (deliveries in flight to the upstream).
const SPOOL_CONCURRENCY = (process.env.BENCH_SPOOL_CONCURRENCY ?? '4,16').split(',').map((x) => Number(x.trim()));
if (SPOOL_CONCURRENCY.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) {
  console.error(`BENCH_SPOOL_CONCURRENCY: expected a comma list of integers 1-1000, got ${process.env.BENCH_SPOOL_CONCURRENCY}`);
  process.exit(2);
}
const OUT = process.env.BENCH_OUT === 'none' ? null : join(ROOT, process.env.BENCH_OUT ?? 'docs/benchmarks.md');
const ONLY = process.env.BENCH_CANDIDATES ? new Set(process.env.BENCH_CANDIDATES.split(',').map((s) => s.trim())) : null;
const WITH_NGINX = process.env.BENCH_NGINX !== '0';
// on: the full scenario adds `hookgate (embedded, traced)`, the same gateway exporting a span tree per
// delivery (every one sampled: no traceparent comes in) over OTLP/HTTP to a sink process.
const TRACING = process.env.BENCH_TRACING === 'on';
const PG_URL = process.env.HOOKGATE_BENCH_PG_URL || process.env.HOOKGATE_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

// The command line that reproduces this run, for the report.
const SCRIPT = { full: 'bench', dup: 'bench:dup', ledger: 'bench:ledger', memory: 'bench:memory', profile: 'bench:profile', spool: 'bench:spool', attack: 'bench:attack' }[scenario];
// Paths of other checkouts are this machine's business: the report names their commit instead.
const rootLabel = (dir) => {
  try {
    return `<checkout of ${execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}>`;
  } catch {
    return existsSync(join(dir, 'COMMIT')) ? `<build of ${readFileSync(join(dir, 'COMMIT'), 'utf8').trim()}>` : '<another checkout>';
  }
};
/** A database URL in a knob, as the docs print it: the scheme and the database, no host or user. */
function dbLabel(v) {
  const m = /^(postgres(?:ql)?):\/\/[^/]*\/([^?]*)(\?.*)?$/.exec(v);
  return m ? `"${m[1]}://…/${m[2]}${m[3] ? '?…' : ''}"` : undefined;
}
const knobs = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_') && k !== 'BENCH_OUT')
  .map(([k, v]) => `${k}=${k.endsWith('_ROOT') ? rootLabel(v) : dbLabel(v) ?? (/\s/.test(v) ? JSON.stringify(v) : v)}`).sort();
const COMMAND = `${knobs.length ? `${knobs.join(' ')} ` : ''}npm run ${SCRIPT}`;

for (const root of [GATEWAY_ROOT, COMPARE_ROOT].filter(Boolean)) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) {
    console.error(`${join(root, 'dist/src/cli/main.js')} is missing: run \`npm run build\` first`);
    process.exit(2);
  }
}

// Time bound for the whole run: every run plus generous start/stop time.
const boundS = num('BENCH_TIMEOUT_S', scenario === 'memory'
  ? K.memorySeconds + 600
  : scenario === 'spool'
    // 5 candidates, the spool ones waiting after each run until their backlog is delivered (each wait
    // bounded by BENCH_SPOOL_DRAIN_S), then a burst and its delivery per ledger and concurrency.
    ? (K.rounds + 1) * 5 * (K.seconds + K.warmup + 8) + (K.rounds + 1) * 2 * K.drainTimeout + 4 * SPOOL_CONCURRENCY.length * (K.drainTimeout + 60) + 180
    : (K.rounds * 6 + 6) * (K.seconds + 8) + 180);
const watchdog = guard('bench', boundS, () => {
  drive.current?.stop?.();
  return stopAll();
});
// Scratch folders of this run (ledger files, profiles are kept and printed) go on any exit.
const scratch = [];
const tempDir = (tag) => {
  const d = scratchDir(tag);
  scratch.push(d);
  return d;
};
process.on('exit', () => {
  killAllSync();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const log = (...a) => console.log(...a);
/** The machine, and which build of the gateway was measured. */
function machine() {
  const m = machineInfo();
  if (GATEWAY_ROOT !== ROOT) m.commit = `gateway from ${rootLabel(GATEWAY_ROOT)} (harness at ${m.commit})`;
  return m;
}
const problems = [];
/** The upstream's process: its CPU a request is reported beside the candidate's. */
let upstreamPid = 0;

/** One measured run of `cand`: load, CPU of the candidate, counters of the gateway. */
async function measure(cand, { seconds = K.seconds, ids = null, prefix, secret, label = 'run' } = {}) {
  const load1 = loadavg()[0];
  const before = cand.adminUrl ? await gatewayCounters(cand.adminUrl) : null;
  const pgBefore = cand.pgCounts ? await cand.pgCounts() : null;
  const cpu0 = cpuSeconds(cand.pid);
  const main0 = mainThreadCpuSeconds(cand.pid);
  const own0 = process.cpuUsage();
  const up0 = upstreamPid ? cpuSeconds(upstreamPid) : 0;
  const r = await drive(cand.url, { seconds, connections: K.connections, ids, prefix, ...(secret ? { secret } : {}) });
  const cpu = cpuSeconds(cand.pid) - cpu0;
  const mainCpu = mainThreadCpuSeconds(cand.pid) - main0;
  const own = process.cpuUsage(own0);
  const upCpu = upstreamPid ? cpuSeconds(upstreamPid) - up0 : 0;
  const rss = rssBytes(cand.pid);
  const after = cand.adminUrl ? await gatewayCounters(cand.adminUrl) : null;
  const pgAfter = cand.pgCounts ? await cand.pgCounts() : null;
  const run = { candidate: cand.name, label, ...r, cpuUsPerReq: (cpu * 1e6) / Math.max(1, r.requests), mainUsPerReq: (mainCpu * 1e6) / Math.max(1, r.requests), cpuCores: cpu / r.duration, load1, rss, loadUsPerReq: (own.user + own.system) / Math.max(1, r.requests), upstreamUsPerReq: (upCpu * 1e6) / Math.max(1, r.requests) };
  if (before) {
    run.outcomes = Object.fromEntries(Object.entries(after.outcomes).map(([k, v]) => [k, v - (before.outcomes[k] ?? 0)]).filter(([, v]) => v > 0));
    run.claimsPerS = (after.claims - before.claims) / r.duration;
    if (cand.afterRun) run.deliveredDuring = (after.dispatches.delivered ?? 0) - (before.dispatches.delivered ?? 0);
  }
  if (pgBefore) {
    const d = {};
    for (const [k, v] of Object.entries(pgAfter)) d[k] = v - (pgBefore[k] ?? 0);
    run.statements = d;
    const total = Object.values(d).reduce((a, b) => a + b, 0);
    run.roundTripsPerDelivery = total / Math.max(1, r.requests);
  }
  // bench:spool: wait (untimed) until the spool candidate delivered its backlog, so its dispatcher
  // does not compete with the next candidate's run.
  if (cand.afterRun) Object.assign(run, await cand.afterRun(label));
  if (run.drainCpuS !== undefined) run.cpuWithBacklogUs = ((cpu + run.drainCpuS) * 1e6) / Math.max(1, r.requests);
  const bad = r.errors + r.timeouts + r.non2xx;
  if (r.requests === 0 || bad > r.requests * 0.001) problems.push(`${cand.name} ${label}: ${r.requests} answered, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}, ${r.errors} errors, ${r.timeouts} timeouts`);
  if (run.outcomes && cand.expect) {
    const total = Object.values(run.outcomes).reduce((a, b) => a + b, 0);
    const good = run.outcomes[cand.expect] ?? 0;
    if (good < total * 0.999) problems.push(`${cand.name} ${label}: expected outcome ${cand.expect}, got ${JSON.stringify(run.outcomes)}`);
  }
  log(`  ${cand.name.padEnd(28)} ${fmt.int(run.rps).padStart(7)} req/s  p50 ${fmt.ms(r.p50)}  p99 ${fmt.ms(r.p99)}  cpu ${fmt.us(run.cpuUsPerReq)}/req (${run.cpuCores.toFixed(2)} cores; main thread ${fmt.us(run.mainUsPerReq)}; load generator ${fmt.us(run.loadUsPerReq)}, upstream ${fmt.us(run.upstreamUsPerReq)})  load ${load1.toFixed(2)}${run.outcomes ? `  ${JSON.stringify(run.outcomes)}` : ''}${run.roundTripsPerDelivery !== undefined ? `  ${run.roundTripsPerDelivery.toFixed(2)} stmts/delivery` : ''}${run.backlog !== undefined ? `  backlog ${run.backlog}, delivered ${run.drainS.toFixed(1)} s later` : ''}`);
  return run;
}

/** Warm every candidate, then `rounds` rounds, the candidates' order rotating each round. */
async function interleaved(cands, opts = {}) {
  if (K.warmup > 0) {
    log(`warm-up (${K.warmup} s each)`);
    for (const c of cands) await measure(c, { ...opts, seconds: K.warmup, label: 'warm-up' });
  }
  const runs = [];
  for (let round = 0; round < K.rounds; round++) {
    log(`round ${round + 1}/${K.rounds} (${K.seconds} s each, ${K.connections} connections)`);
    const order = cands.map((_, i) => cands[(i + round) % cands.length]);
    for (const c of order) runs.push({ round: round + 1, ...(await measure(c, opts)) });
  }
  return runs;
}

function medians(cands, runs) {
  return cands.map((c) => {
    const rs = runs.filter((r) => r.candidate === c.name);
    return {
      name: c.name,
      kind: c.kind,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      cpu: median(rs.map((r) => r.cpuUsPerReq)),
      main: median(rs.map((r) => r.mainUsPerReq)),
      claimsPerS: median(rs.map((r) => r.claimsPerS)),
      roundTrips: median(rs.map((r) => r.roundTripsPerDelivery)),
      load: median(rs.map((r) => r.load1)),
      rss: median(rs.map((r) => r.rss)),
    };
  });
}

function comparison(meds, refName, runs = []) {
  const ref = meds.find((m) => m.name === refName);
  return meds.map((m) => ({ ...m, tput: m.rps / ref.rps, p99r: m.p99 / ref.p99, cpuR: m.cpu / ref.cpu, byRound: byRoundRatio(runs, m.name, refName) }));
}

/**
 * The median over the rounds of a candidate's throughput ÷ the reference's in the same round. On a
 * machine whose speed drifts from one minute to the next, each round's pair was measured closer
 * together than the medians of all rounds are; both are reported, the targets use the medians.
 */
function byRoundRatio(runs, name, refName) {
  const ratios = [];
  for (const r of runs) {
    if (r.candidate !== name) continue;
    const ref = runs.find((x) => x.round === r.round && x.candidate === refName);
    if (ref?.rps) ratios.push(r.rps / ref.rps);
  }
  return ratios.length ? median(ratios) : NaN;
}

function runsTable(runs) {
  return table(['round', 'candidate', 'req/s', 'p50', 'p99', 'CPU/req', 'main thread/req', 'load generator + upstream CPU/req', 'load (1 min)', 'notes'], runs.map((r) => [
    r.round, r.candidate, fmt.int(r.rps), fmt.ms(r.p50), fmt.ms(r.p99), fmt.us(r.cpuUsPerReq), fmt.us(r.mainUsPerReq), `${fmt.us(r.loadUsPerReq)} + ${fmt.us(r.upstreamUsPerReq)}`, r.load1.toFixed(2),
    [r.outcomes ? Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ') : '', r.roundTripsPerDelivery !== undefined ? `${r.roundTripsPerDelivery.toFixed(2)} statements/delivery` : '', r.backlog !== undefined ? `${fmt.int(r.deliveredDuring)} delivered during the run, ${fmt.int(r.backlog)} left at its end (delivered ${r.drainS.toFixed(1)} s later); CPU/req with that backlog's delivery ${fmt.us(r.cpuWithBacklogUs)}` : ''].filter(Boolean).join('; '),
  ]));
}

function mediansTable(cmp, extra = []) {
  return table(['candidate', 'req/s', '× ref', '× ref, by round', 'p50', 'p99', 'p99 ÷ ref', 'CPU/req', 'CPU ÷ ref', 'main thread/req', ...extra.map((e) => e.head)], cmp.map((m) => [
    m.name, fmt.int(m.rps), fmt.ratio(m.tput), fmt.ratio(m.byRound), fmt.ms(m.p50), fmt.ms(m.p99), fmt.ratio(m.p99r), fmt.us(m.cpu), fmt.ratio(m.cpuR), fmt.us(m.main), ...extra.map((e) => e.cell(m)),
  ]));
}

function verdict(ok) {
  return ok ? 'met' : '**not met**';
}

function conditions(mach, skipped) {
  return [
    `- Command: \`${COMMAND}\` (\`node bench/run.mjs ${scenario}\`), after \`npm run build\`.`,
    `- Machine: ${machineLine(mach)}.`,
    `- Load: autocannon in the harness process, ${K.connections} keep-alive connections, no pipelining, POST ${'`/webhooks/stripe`'} with a Stripe-signed 2 KiB JSON body and a new event id per request (signing costs the client ${fmt.us(signCostUs())} a request). Each candidate is one process (nginx: one worker) forwarding to the same node:http upstream; ${K.rounds} rounds × ${K.seconds} s per candidate, interleaved, after a ${K.warmup} s warm-up each. CPU/req is the candidate's own user+system CPU time divided by the requests it answered (all its threads and child processes); main thread/req counts only its main thread (node's event loop, which bounds its throughput; nginx: the master); beside them, the CPU a request of the harness process (the load generator) and of the upstream, which share the same cores.`,
    ...skipped.map((s) => `- Skipped: ${s}`),
  ].join('\n');
}

async function startCommon() {
  const upstream = await startUpstream();
  upstreamPid = upstream.pid;
  const ref = await startBareProxy(upstream.url);
  const skipped = [];
  const baselines = [];
  if (WITH_NGINX) {
    for (const njs of [false, true]) {
      const n = await startNginx(upstream.url, { njs });
      if (n.skipped) {
        skipped.push(n.skipped);
        log(`skipping nginx${njs ? '+njs' : ''}: ${n.skipped}`);
      } else baselines.push(n);
    }
  } else skipped.push('nginx baselines (BENCH_NGINX=0)');
  return { upstream, ref, baselines, skipped };
}

const pick = (cands) => (ONLY ? cands.filter((c) => c.kind === 'reference' || ONLY.has(c.name)) : cands);

async function scenarioFull() {
  const mach = machine();
  const { upstream, ref, baselines, skipped } = await startCommon();
  const dir = tempDir('full');
  // Any server that reads the body and answers 200 is an OTLP/HTTP sink: the upstream's program, in a process of its own.
  const sink = TRACING ? await startUpstream() : null;
  const gws = [
    await startGateway(upstream.url, { name: 'hookgate (embedded)', ledger: 'embedded' }),
    await startGateway(upstream.url, { name: 'hookgate (embedded:file)', ledger: `embedded:${join(dir, 'ledger.db')}` }),
    ...(sink ? [await startGateway(upstream.url, { name: 'hookgate (embedded, traced)', ledger: 'embedded', env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } })] : []),
    ...(COMPARE_ROOT ? [await startGateway(upstream.url, { name: 'hookgate B (embedded)', root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: COMPARE_NODE_ARGS, ledger: 'embedded' })] : []),
    ...(COMPARE_ROOT ? [await startGateway(upstream.url, { name: 'hookgate B (embedded:file)', root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: COMPARE_NODE_ARGS, ledger: `embedded:${join(dir, 'ledger-b.db')}` })] : []),
  ];
  for (const g of gws) g.expect = 'forwarded';
  // beside nginx+njs: what any gateway on Node's HTTP stack could reach at most (BENCH_FLOOR=0 leaves it out)
  const floor = process.env.BENCH_FLOOR === '0' ? [] : [await startNodeFloor(upstream.url)];
  const cands = pick([ref, ...gws, ...baselines, ...floor]);
  const runs = await interleaved(cands);
  const cmp = comparison(medians(cands, runs), ref.name, runs);
  rmSync(dir, { recursive: true, force: true });
  const gw = cmp.find((m) => m.name === 'hookgate (embedded)');
  const file = cmp.find((m) => m.name === 'hookgate (embedded:file)');
  const njs = cmp.find((m) => m.name === 'nginx+njs-hmac');
  const nodeFloor = cmp.find((m) => m.name === 'node-http+hmac (floor)');
  const targets = gw ? [
    `- Throughput ≥ 1.0× the bare proxy: **${fmt.ratio(gw.tput)}** — ${verdict(gw.tput >= 1)} (by round: ${fmt.ratio(gw.byRound)}).`,
    ...(file ? [`- On the embedded file, ≥ 0.8× the bare proxy: **${fmt.ratio(file.tput)}** — ${verdict(file.tput >= 0.8)} (by round: ${fmt.ratio(file.byRound)}).`] : []),
    `- p99 ≤ 1.2× the bare proxy's: **${fmt.ratio(gw.p99r)}** — ${verdict(gw.p99r <= 1.2)}.`,
    njs ? `- Stretch, ≥ the nginx+njs HMAC sidecar: **${fmt.ratio(gw.rps / njs.rps)}** of it — ${verdict(gw.rps >= njs.rps)}.` : '- Stretch (nginx+njs): not measured, nginx not installed.',
    ...(njs && nodeFloor ? [`  - The floor of Node's HTTP stack (node:http + undici + the same HMAC check, nothing else; bench/lib/proxy-node-floor.mjs): ${fmt.ratio(nodeFloor.rps / njs.rps)} of nginx+njs, at ${fmt.us(nodeFloor.cpu)} CPU a request against nginx+njs's ${fmt.us(njs.cpu)}; hookgate is ${fmt.ratio(gw.rps / nodeFloor.rps)} of the floor.`] : []),
  ] : [];
  return {
    title: 'Full pipeline, unique events, embedded ledger (`npm run bench`)',
    body: [
      'Verify (Stripe HMAC), tenant, tenant limit, claim (LRU miss, then the ledger), forward with undici, settle; every request a new event. The reference is bare fastify + @fastify/http-proxy on the same upstream.',
      '', conditions(mach, skipped), '', '### Targets', ...targets, '', '### Medians', mediansTable(cmp), '', '### Every run', runsTable(runs),
    ].join('\n'),
  };
}

async function scenarioDup() {
  const mach = machine();
  const { upstream, ref, skipped } = await startCommon();
  const gw = await startGateway(upstream.url, { name: 'hookgate (embedded)', ledger: 'embedded' });
  const gws = [gw, ...(COMPARE_ROOT ? [await startGateway(upstream.url, { name: 'hookgate B (embedded)', root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: COMPARE_NODE_ARGS, ledger: 'embedded' })] : [])];
  const prefix = `dup${Date.now().toString(36)}`;
  // Deliver each id once, so every request of the measured runs is a duplicate of a settled key.
  for (const g of gws) {
    await drive(g.url, { amount: K.dupIds, connections: 10, ids: K.dupIds, prefix });
    const counters = await gatewayCounters(g.adminUrl);
    if ((counters.outcomes.forwarded ?? 0) < K.dupIds) problems.push(`dup: pre-delivery forwarded ${counters.outcomes.forwarded ?? 0} of ${K.dupIds}`);
    g.expect = 'duplicate';
  }
  const cands = [ref, ...gws];
  const runs = await interleaved(cands, { ids: K.dupIds, prefix });
  const cmp = comparison(medians(cands, runs), ref.name, runs);
  const g = cmp.find((m) => m.name === gw.name);
  return {
    title: 'Duplicates answered from the LRU (`npm run bench:dup`)',
    body: [
      `${K.dupIds} events delivered once, then re-sent (fresh timestamps, same ids) for the whole run: the gateway verifies each, finds the key in the hot LRU and answers the first status without the ledger or the upstream; the bare proxy forwards every one.`,
      '', conditions(mach, skipped.filter((s) => !s.includes('nginx'))), '', '### Targets',
      `- Duplicates ≥ 1.5× the bare proxy: **${fmt.ratio(g.tput)}** — ${verdict(g.tput >= 1.5)} (by round: ${fmt.ratio(g.byRound)}; p99 ${fmt.ratio(g.p99r)} of the reference's).`,
      '', '### Medians', mediansTable(cmp), '', '### Every run', runsTable(runs),
    ].join('\n'),
  };
}

async function scenarioLedger() {
  const mach = machine();
  const schema = `hookgate_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`bench:ledger needs PostgreSQL at HOOKGATE_TEST_PG_URL (${PG_URL.replace(/\/\/[^@]*@/, '//…@')}): ${err.message}`);
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const { upstream, ref, skipped } = await startCommon();
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    const preload = [new URL('./lib/pg-count.mjs', import.meta.url).href];
    const gw = await startGateway(upstream.url, { name: 'hookgate (postgres)', ledger: u.toString(), ipc: true, preload });
    const gws = [gw];
    if (COMPARE_ROOT) {
      // The same schema: both gateways share the ledger, as replicas would.
      gws.push(await startGateway(upstream.url, { name: 'hookgate B (postgres)', root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: COMPARE_NODE_ARGS, ledger: u.toString(), ipc: true, preload }));
    }
    for (const g of gws) {
      g.expect = 'forwarded';
      g.pgCounts = async () => (await ask(g.proc, 'pg-counts')).counts;
    }
    const cands = pick([ref, ...gws]);
    const runs = await interleaved(cands);
    const cmp = comparison(medians(cands, runs), ref.name, runs);
    const g = cmp.find((m) => m.name === gw.name);
    const stmts = {};
    for (const r of runs.filter((x) => x.statements && x.candidate === gw.name)) for (const [k, v] of Object.entries(r.statements)) stmts[k] = (stmts[k] ?? 0) + v;
    const delivered = runs.filter((x) => x.statements && x.candidate === gw.name).reduce((a, r) => a + r.requests, 0);
    const server = (await admin.query('SHOW server_version')).rows[0].server_version;
    return {
      title: 'Full pipeline on the PostgreSQL ledger (`npm run bench:ledger`)',
      body: [
        `PostgreSQL ${server} on the same machine (pool of 10, SERIALIZABLE), a fresh schema dropped at the end. Statements are counted in the gateway process by wrapping node-postgres' \`Client.query\` (\`bench/lib/pg-count.mjs\`, by each statement's \`/* hookgate:NAME */\` tag); claims/s from \`hookgate_ledger_duration_seconds_count{op="claim"}\`.`,
        '', conditions(mach, skipped.filter((s) => !s.includes('nginx'))), '', '### Targets',
        `- PostgreSQL ledger ≥ 0.5× the bare proxy: **${fmt.ratio(g.tput)}** — ${verdict(g.tput >= 0.5)} (by round: ${fmt.ratio(g.byRound)}; p99 ${fmt.ratio(g.p99r)} of the reference's).`,
        `- Claims/s (median of the rounds): ${fmt.int(g.claimsPerS)}; round trips per delivery: ${g.roundTrips.toFixed(2)} (${Object.entries(stmts).map(([k, v]) => `${k} ${(v / delivered).toFixed(2)}`).join(', ')}).`,
        '', '### Medians', mediansTable(cmp, [{ head: 'claims/s', cell: (m) => fmt.int(m.claimsPerS) }, { head: 'statements/delivery', cell: (m) => (Number.isFinite(m.roundTrips) ? m.roundTrips.toFixed(2) : '–') }]),
        '', '### Every run', runsTable(runs),
      ].join('\n'),
    };
  } finally {
    await stopAll();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

function slopeMbPerMin(samples) {
  // least squares over (seconds, bytes)
  const n = samples.length;
  if (n < 2) return NaN;
  const mx = samples.reduce((a, s) => a + s.t, 0) / n;
  const my = samples.reduce((a, s) => a + s.rss, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mx) * (s.rss - my);
    den += (s.t - mx) ** 2;
  }
  return ((num / den) * 60) / 1048576;
}

/** V8's heap spaces as the gateway's own metrics report them (committed size), for where RSS goes. */
async function heapSpaces(adminUrl) {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const spaces = [...text.matchAll(/^hookgate_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\d+)/gm)].map(([, space, b]) => `${space} ${fmt.mb(Number(b))}`);
  const ext = /^hookgate_nodejs_external_memory_bytes (\d+)/m.exec(text);
  return [...spaces, ...(ext ? [`external ${fmt.mb(Number(ext[1]))}`] : [])].join(', ') || 'not reported';
}

async function scenarioMemory() {
  const mach = machine();
  const upstream = await (await import('./lib/candidates.mjs')).startUpstream();
  const kind = process.env.BENCH_MEMORY_LEDGER ?? 'embedded';
  const dir = tempDir('mem');
  const ledger = kind === 'file' ? `embedded:${join(dir, 'ledger.db')}` : kind === 'embedded' ? 'embedded' : kind;
  const gw = await startGateway(upstream.url, { name: `hookgate (${kind === 'file' ? 'embedded:file' : kind === 'embedded' ? kind : 'postgres'})`, ledger, cache: 100000 });
  const ref = await startBareProxy(upstream.url);
  await new Promise((r) => setTimeout(r, 3000));
  const idle = rssBytes(gw.pid);
  const refIdle = rssBytes(ref.pid);
  log(`idle: gateway ${fmt.mb(idle)}, bare proxy ${fmt.mb(refIdle)}`);
  log(`  of which V8 heap spaces (committed): ${await heapSpaces(gw.adminUrl)}`);

  const sample = (into, t0) => setInterval(() => into.push({ t: (Date.now() - t0) / 1000, rss: rssBytes(gw.pid) }), 1000);
  // Fill the LRU: more unique deliveries than it holds, so it ends full (100k settled keys).
  const fillSamples = [];
  let timer = sample(fillSamples, Date.now());
  const fill = await drive(gw.url, { amount: K.memoryFill + 5000, connections: K.connections });
  clearInterval(timer);
  const afterFill = rssBytes(gw.pid);
  log(`after ${fmt.int(fill.requests)} deliveries: ${fmt.mb(afterFill)} (max while filling ${fmt.mb(Math.max(...fillSamples.map((s) => s.rss)))})`);
  log(`  of which V8 heap spaces (committed): ${await heapSpaces(gw.adminUrl)}`);
  if (fill.non2xx || fill.errors) problems.push(`memory fill: ${fill.non2xx} non-2xx, ${fill.errors} errors`);

  const samples = [];
  const t0 = Date.now();
  timer = sample(samples, t0);
  const run = await drive(gw.url, { seconds: K.memorySeconds, connections: K.connections, ...(K.memoryRate ? { rate: K.memoryRate } : {}) });
  clearInterval(timer);
  if (run.non2xx || run.errors) problems.push(`memory run: ${run.non2xx} non-2xx, ${run.errors} errors`);
  await new Promise((r) => setTimeout(r, 3000));
  const idleAfter = rssBytes(gw.pid);
  const rss = samples.map((s) => s.rss);
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  // the baseline is the second tenth: the first holds the fill's garbage settling, a spike that falls
  // back and made a run that then grew look flat (docs/benchmarks.md)
  const first = median(rss.slice(tenth, 2 * tenth));
  const last = median(rss.slice(-tenth));
  const slope = slopeMbPerMin(samples.slice(tenth));
  // GC and allocator noise over a steady run (seen: ±3 MB between samples a few seconds apart)
  const FLAT_MB = 5;
  log(`run ${K.memorySeconds} s at ${fmt.int(run.rps)} req/s: RSS min ${fmt.mb(Math.min(...rss))} median ${fmt.mb(median(rss))} max ${fmt.mb(Math.max(...rss))}; second 10% ${fmt.mb(first)} last 10% ${fmt.mb(last)}; slope after the first 10% ${slope.toFixed(2)} MB/min`);
  rmSync(dir, { recursive: true, force: true });
  const every = Math.max(1, Math.floor(samples.length / 20));
  return {
    // a run in a pod's memory limit or with Node's flags gets a section of its own beside the plain one
    section: `${kind === 'embedded' ? 'memory' : `memory-${kind === 'file' ? 'file' : 'postgres'}`}${GATEWAY_LAUNCH === 'image' ? '' : `-${GATEWAY_LAUNCH}`}${MEMORY_LIMIT ? '-limit' : ''}`,
    title: `Memory (\`npm run bench:memory\`), ${gw.name}${GATEWAY_LAUNCH === 'image' ? '' : GATEWAY_LAUNCH === 'node-defaults' ? ", on Node's defaults" : `, hookgate with \`${GATEWAY_NODE_ARGS.join(' ')}\``}${MEMORY_LIMIT ? `, each candidate in a ${fmt.mb(MEMORY_LIMIT)} memory cgroup (as in a pod)` : ''}`,
    body: [
      `RSS of the gateway process (from /proc) idle, after ${fmt.int(K.memoryFill + 5000)} unique deliveries (the LRU holds ${fmt.int(100000)} settled keys), and sampled every second over a ${K.memorySeconds} s run of unique deliveries${K.memoryRate ? ` at ${K.memoryRate} req/s` : ' at full speed'}. Ledger: \`${kind === 'file' ? 'embedded:FILE (WAL)' : kind === 'embedded' ? 'embedded (in memory)' : 'postgres'}\` (\`BENCH_MEMORY_LEDGER=embedded|file\`).`,
      '',
      `- Command: \`${COMMAND}\`; machine: ${machineLine(mach)}.`,
      '',
      '### Targets',
      // issue 16: relative to the reference measured in the same run
      `- Idle ≤ the reference's idle + 10 MB (${fmt.mb(refIdle + 10 * 1048576)}; bare fastify + http-proxy idle: ${fmt.mb(refIdle)}): **${fmt.mb(idle)}** — ${verdict(idle <= refIdle + 10 * 1048576)}.`,
      `- After ${fmt.int(K.memoryFill + 5000)} unique deliveries (100k LRU entries) ≤ the reference's idle + 50 MB (${fmt.mb(refIdle + 50 * 1048576)}): **${fmt.mb(afterFill)}** right after the fill, **${fmt.mb(Math.max(...rss))}** max during the run — ${verdict(Math.max(afterFill, ...rss) <= refIdle + 50 * 1048576)}${kind === 'file' ? '' : ' (the target is set for the embedded file)'}.`,
      `- Flat over the run (${K.memorySeconds} s${K.memorySeconds < 600 ? '; the target asks for 10 minutes: BENCH_MEMORY_SECONDS=600' : ''}; flat: the last 10% of the samples within ${FLAT_MB} MB of the second 10%, after the fill's garbage has settled): second 10% median ${fmt.mb(first)}, last 10% ${fmt.mb(last)} — ${verdict(last - first <= FLAT_MB * 1048576 && K.memorySeconds >= 600)}; least-squares slope after the first 10% **${slope.toFixed(2)} MB/min** at ${fmt.int(run.rps)} req/s (${fmt.int(run.requests)} deliveries); idle again after the run: ${fmt.mb(idleAfter)}.`,
      '',
      '### Samples (every ' + every + ' s)',
      table(['t (s)', 'RSS'], samples.filter((_, i) => i % every === 0).map((s) => [s.t.toFixed(0), fmt.mb(s.rss)])),
    ].join('\n'),
  };
}

/** BENCH_PROFILE_LEDGER: embedded (default), file (a scratch embedded:FILE) or a database URL */
function profileLedger(dir) {
  const l = process.env.BENCH_PROFILE_LEDGER ?? 'embedded';
  return l === 'file' ? `embedded:${join(dir, 'ledger.db')}` : l;
}

const threadOf = (profileName) => Number(profileName.split('.').at(-3));

async function scenarioProfile() {
  const upstream = await startUpstream();
  upstreamPid = upstream.pid;
  const dir = scratchDir('prof');
  const target = process.env.BENCH_PROFILE_TARGET ?? 'gateway';
  // BENCH_PROFILE_LOAD=limited: the forgeries from one address far over the per-address limit (bench:attack's 429 load)
  const limited = process.env.BENCH_PROFILE_LOAD === 'limited';
  const prof = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  const cand = target === 'reference'
    ? await startBareProxy(upstream.url, { nodeArgs: prof })
    : await startGateway(upstream.url, { name: 'hookgate (profiled)', ledger: profileLedger(dir), nodeArgs: prof, ...(limited ? { unverified: process.env.BENCH_ATTACK_LIMIT || '10/s' } : {}), ...(process.env.BENCH_PROFILE_DELIVERY ? { delivery: process.env.BENCH_PROFILE_DELIVERY, spool: SPOOL_BOUNDS } : {}), ...(COMPARE_ROOT ? { root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: [...prof, ...COMPARE_NODE_ARGS] } : {}) });
  // BENCH_PROFILE_LOAD=dup: duplicates of settled events (the bench:dup load) instead of new events.
  const dup = process.env.BENCH_PROFILE_LOAD === 'dup';
  // BENCH_PROFILE_LOAD=forged: signed with the wrong secret (bench:attack's 401 load)
  const load = dup ? { ids: K.dupIds, prefix: `pdup${Date.now().toString(36)}` } : process.env.BENCH_PROFILE_LOAD === 'forged' || limited ? { secret: 'whsec_forged_by_the_bench_attacker_0000000000' } : {};
  if (dup) await drive(cand.url, { amount: K.dupIds, connections: 10, ...load });
  const w = await measure(cand, { seconds: K.warmup || 2, label: 'warm-up', ...load });
  const r = await measure(cand, { seconds: K.seconds, label: 'profiled', ...load });
  await cand.stop();
  // node names a profile CPU.<date>.<time>.<pid>.<thread id>.<seq>: thread 0 is the event loop
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort((a, b) => threadOf(a) - threadOf(b));
  const file = files[0];
  if (!file) throw new Error('the gateway wrote no .cpuprofile');
  const s = summarize(join(dir, file), 30);
  // Worker threads (the embedded file's SQLite when a route spools): in the log only.
  for (const f of files.slice(1)) {
    const w2 = summarize(join(dir, f), 12);
    log(`worker thread ${threadOf(f)}: busy ${fmt.us(((w2.busyMs * 1000) / (w.requests + r.requests)))} a request; top: ${w2.functions.map((x) => `${x.name} ${x.pctBusy.toFixed(1)}%`).join(', ')}`);
  }
  // The profile covers the process's whole life: charge its busy time to every request it answered.
  const perReq = (ms) => (ms * 1000) / (w.requests + r.requests);
  for (const list of [s.buckets, s.owners, s.functions]) for (const x of list) x.us = perReq(x.ms);
  log(`\n${cand.name}: ${fmt.us(perReq(s.busyMs))} busy a request (${w.requests + r.requests} requests)`);
  log(`\nprofile: ${join(dir, file)} (kept for Chrome DevTools / speedscope)`);
  log(`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled\nself time by package / folder:`);
  for (const b of s.buckets.slice(0, 20)) log(`  ${b.pctBusy.toFixed(1).padStart(5)}% ${fmt.us(b.us).padStart(9)}  ${b.name}`);
  log('self time charged to the nearest package caller:');
  for (const b of s.owners.slice(0, 20)) log(`  ${b.pctBusy.toFixed(1).padStart(5)}% ${fmt.us(b.us).padStart(9)}  ${b.name}`);
  log('top functions by self time:');
  for (const f of s.functions) log(`  ${f.pctBusy.toFixed(1).padStart(5)}% ${fmt.us(f.us).padStart(9)}  ${f.name}`);
  return {
    title: 'Where the time goes (`npm run bench:profile`)',
    body: [
      `${cand.name} under the full-pipeline load with \`--cpu-prof\` (warm-up, then ${K.seconds} s; ${fmt.int(r.rps)} req/s, ${fmt.us(r.cpuUsPerReq)} CPU a request under the profiler, ${fmt.us(perReq(s.busyMs))} of it in the JS thread's samples). Self time as a share of the busy (non-idle) time, and per request.`,
      `- Command: \`${COMMAND}\`; machine: ${machineLine(machine())}.`,
      '', '### By package or folder', table(['share', 'per request', 'where'], s.buckets.slice(0, 20).map((b) => [`${b.pctBusy.toFixed(1)}%`, fmt.us(b.us), b.name])),
      '', '### Charged to the nearest caller in a package (node internals and native calls counted for who called them)', table(['share', 'per request', 'caller'], s.owners.slice(0, 20).map((b) => [`${b.pctBusy.toFixed(1)}%`, fmt.us(b.us), b.name])),
      '', '### Top functions', table(['share', 'per request', 'function'], s.functions.slice(0, 25).map((f) => [`${f.pctBusy.toFixed(1)}%`, fmt.us(f.us), `\`${f.name}\``])),
    ].join('\n'),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The spool of every bench:spool gateway: bounds far above any backlog a run can build (a 503
// spool_full would be a refusal, not a measure), the rest at the defaults unless stated.
const SPOOL_BOUNDS = { maxPending: 10_000_000, tenantMaxPending: 10_000_000 };
/**
 * Deliveries a spool gateway answered `spooled` and has not delivered yet, from its counters. A
 * lower bound: a delivery stored and committed whose client hung up before the answer (autocannon
 * stopping at the end of a run) is not counted `spooled`, and is delivered all the same.
 */
const undelivered = (c) => (c.outcomes.spooled ?? 0) - (c.dispatches.delivered ?? 0);

/**
 * Waits until a spool gateway has delivered all it accepted: first on the upstream's count (cheap:
 * the gateway's /metrics reads the spool's depth from the database on every scrape, which would add
 * to the CPU measured here; the other candidates are idle meanwhile), then until the spool holds
 * nothing pending or delivering. Returns the backlog at the start, the seconds it took (NaN on
 * timeout) and the gateway's CPU seconds meanwhile.
 */
async function drained(g, upstream, what) {
  const t0 = Date.now();
  const cpu0 = cpuSeconds(g.pid);
  // the upstream's count first: a delivery in flight at the counters' read (received, its settle not
  // yet counted) is then in both; read the other way round it was in the backlog alone, and up to
  // `concurrency` of them could never arrive (the second loop below proves the spool empty either way)
  const base = (await ask(upstream.proc, 'stats')).requests;
  const backlog = Math.max(0, undelivered(await gatewayCounters(g.adminUrl)));
  const late = () => Date.now() - t0 > K.drainTimeout * 1000;
  let seconds = NaN;
  for (;;) {
    const got = (await ask(upstream.proc, 'stats')).requests - base;
    if (got >= backlog) break;
    if (late()) {
      problems.push(`${g.name} ${what}: ${backlog - got} of ${backlog} accepted deliveries not delivered within ${K.drainTimeout} s (BENCH_SPOOL_DRAIN_S)`);
      return { backlog, drainS: seconds, drainCpuS: cpuSeconds(g.pid) - cpu0 };
    }
    await sleep(50);
  }
  for (;;) {
    const live = (await gatewayCounters(g.adminUrl)).live;
    if (live === 0) {
      seconds = (Date.now() - t0) / 1000;
      break;
    }
    if (late()) {
      problems.push(`${g.name} ${what}: ${live} deliveries still pending or delivering after ${K.drainTimeout} s (BENCH_SPOOL_DRAIN_S)`);
      break;
    }
    await sleep(100);
  }
  return { backlog, drainS: seconds, drainCpuS: cpuSeconds(g.pid) - cpu0 };
}

/**
 * The delivery rate: a gateway whose upstream port is closed accepts a burst of N deliveries (its
 * route backs off, nothing is delivered), then the upstream opens on that port and the clock runs
 * until it has answered all N.
 */
async function deliveryRate(ledgerName, ledgerUrl, concurrency) {
  const port = await freePort();
  const name = `hookgate spool (${ledgerName})`;
  const g = await startGateway(`http://127.0.0.1:${port}`, { name, ledger: ledgerUrl, delivery: 'spool', spool: { ...SPOOL_BOUNDS, concurrency } });
  const N = K.spoolBurst;
  const burst = await drive(g.url, { amount: N, connections: K.connections });
  const c0 = await gatewayCounters(g.adminUrl);
  if (burst.non2xx || burst.errors || burst.timeouts || (c0.outcomes.spooled ?? 0) !== N) {
    problems.push(`${name} burst: ${JSON.stringify(c0.outcomes)} of ${N}, ${burst.non2xx} non-2xx, ${burst.errors} errors, ${burst.timeouts} timeouts`);
  }
  const cpu0 = cpuSeconds(g.pid);
  const main0 = mainThreadCpuSeconds(g.pid);
  const load1 = loadavg()[0];
  const up = await startUpstream({ port, dedup: true });
  const opened = Date.now();
  let st = await ask(up.proc, 'stats');
  while (st.requests < N) {
    if (Date.now() - opened > K.drainTimeout * 1000) {
      problems.push(`${name}, concurrency ${concurrency}: ${st.requests} of ${N} delivered within ${K.drainTimeout} s (BENCH_SPOOL_DRAIN_S)`);
      break;
    }
    await sleep(50);
    st = await ask(up.proc, 'stats');
  }
  const cpu = cpuSeconds(g.pid) - cpu0;
  const mainCpu = mainThreadCpuSeconds(g.pid) - main0;
  // Anything delivered twice would show as more requests than deliveries, a moment later.
  await sleep(500);
  st = await ask(up.proc, 'stats');
  const c1 = await gatewayCounters(g.adminUrl);
  if (st.requests !== N || st.dupes || (c1.dispatches.delivered ?? 0) !== N) problems.push(`${name}, concurrency ${concurrency}: the upstream got ${st.requests} requests (${st.dupes} of them a key it had seen), the gateway counts ${c1.dispatches.delivered ?? 0} delivered, of ${N}`);
  await g.stop();
  await up.stop();
  const r = {
    ledger: ledgerName, concurrency, n: N, acceptRps: burst.rps, load1,
    firstS: (st.first - opened) / 1000,
    allS: (st.last - opened) / 1000,
    rate: (N - 1) / Math.max(1e-3, (st.last - st.first) / 1000),
    cpuUs: (cpu * 1e6) / N,
    mainUs: (mainCpu * 1e6) / N,
  };
  log(`  ${name} concurrency ${concurrency}: ${N} accepted at ${fmt.int(r.acceptRps)} req/s with the upstream closed; opened: first delivered after ${r.firstS.toFixed(2)} s, all after ${r.allS.toFixed(2)} s; ${fmt.int(r.rate)} deliveries/s from first to last; ${fmt.us(r.cpuUs)} CPU a delivery (main thread ${fmt.us(r.mainUs)})`);
  return r;
}

async function scenarioSpool() {
  const mach = machine();
  const dir = tempDir('spool');
  // PostgreSQL unless BENCH_CANDIDATES leaves out both of its candidates.
  const wantPg = !ONLY || [...ONLY].some((n) => n.includes('(postgres)'));
  const schemas = [];
  let admin = null;
  if (wantPg) {
    admin = new pg.Client({ connectionString: PG_URL });
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`bench:spool needs PostgreSQL at HOOKGATE_BENCH_PG_URL or HOOKGATE_TEST_PG_URL (${PG_URL.replace(/\/\/[^@]*@/, '//…@')}; BENCH_CANDIDATES without the postgres ones skips it): ${err.message}`);
    }
  }
  // Every PostgreSQL gateway gets a schema of its own (a spool gateway's dispatcher would otherwise
  // deliver another's rows), all dropped at the end.
  const pgLedger = async (tag) => {
    const schema = `hookgate_bench_${tag}_${process.pid}_${Date.now().toString(36)}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    schemas.push(schema);
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    return u.toString();
  };
  try {
    // No nginx here: the question is spool against sync on the same ledger, with the reference for scale.
    // dedup: a delivery that reaches the application twice fails the run.
    const upstream = await startUpstream({ dedup: true });
    const ref = await startBareProxy(upstream.url);
    const ledgers = [{ name: 'embedded:file', url: (tag) => `embedded:${join(dir, `${tag}.db`)}` }, ...(admin ? [{ name: 'postgres', url: pgLedger }] : [])];
    const gws = [];
    for (const l of ledgers) {
      for (const delivery of ['sync', 'spool']) {
        const name = `hookgate ${delivery} (${l.name})`;
        if (ONLY && !ONLY.has(name)) continue;
        const g = await startGateway(upstream.url, { name, ledger: await l.url(delivery), delivery, spool: SPOOL_BOUNDS });
        g.ledgerName = l.name;
        g.delivery = delivery;
        g.expect = delivery === 'spool' ? 'spooled' : 'forwarded';
        if (delivery === 'spool') {
          g.afterRun = (label) => drained(g, upstream, label);
        }
        gws.push(g);
        // BENCH_COMPARE_ROOT/ENV: the same route from build B, beside it (shown in the log and tables only)
        if (COMPARE_ROOT) {
          const b = await startGateway(upstream.url, { name: `hookgate B ${delivery} (${l.name})`, root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: COMPARE_NODE_ARGS, ledger: await l.url(`b${delivery}`), delivery, spool: SPOOL_BOUNDS });
          Object.assign(b, { ledgerName: l.name, delivery, expect: g.expect });
          if (delivery === 'spool') b.afterRun = (label) => drained(b, upstream, label);
          gws.push(b);
        }
      }
    }
    const cands = [ref, ...gws];
    const runs = await interleaved(cands);
    const cmp = comparison(medians(cands, runs), ref.name, runs);
    for (const m of cmp) {
      const rs = runs.filter((r) => r.candidate === m.name && r.backlog !== undefined);
      m.backlog = median(rs.map((r) => r.backlog));
      m.drainS = median(rs.map((r) => r.drainS));
      m.cpuAll = median(rs.map((r) => r.cpuWithBacklogUs));
    }
    // The interleaved candidates are done; the delivery-rate gateways run alone.
    for (const c of cands) await c.stop();
    const { dupes } = await ask(upstream.proc, 'stats');
    if (dupes) problems.push(`the upstream got ${dupes} deliveries whose hookgate-idempotency-key it had seen before`);
    await upstream.stop();
    log(`delivery rate: ${K.spoolBurst} deliveries accepted with the upstream closed, then delivered to a node:http upstream answering 200 at once`);
    const rates = [];
    for (const l of ledgers) {
      if (ONLY && !ONLY.has(`hookgate spool (${l.name})`)) continue;
      for (const c of SPOOL_CONCURRENCY) rates.push(await deliveryRate(l.name, await l.url(`rate${c}`), c));
    }
    rmSync(dir, { recursive: true, force: true });

    const targets = [];
    for (const l of ledgers) {
      const sync = cmp.find((m) => m.name === `hookgate sync (${l.name})`);
      const spool = cmp.find((m) => m.name === `hookgate spool (${l.name})`);
      if (!sync || !spool) continue;
      l.ratio = spool.rps / sync.rps;
      targets.push(`- ${l.name}: spool ${fmt.ratio(spool.tput)} the bare proxy's accepted req/s, sync ${fmt.ratio(sync.tput)}; spool ÷ sync **${fmt.ratio(l.ratio)}** — ${verdict(spool.tput >= sync.tput)} (p99: spool ${fmt.ms(spool.p99)}, sync ${fmt.ms(sync.p99)}).`);
    }
    const server = admin ? (await admin.query('SHOW server_version')).rows[0].server_version : null;
    const spoolCols = [
      { head: 'spool ÷ sync', cell: (m) => { const l = ledgers.find((x) => m.name === `hookgate spool (${x.name})`); return l?.ratio !== undefined ? fmt.ratio(l.ratio) : '–'; } },
      { head: 'left at run end', cell: (m) => (Number.isFinite(m.backlog) ? fmt.int(m.backlog) : '–') },
      { head: 'delivered after', cell: (m) => (Number.isFinite(m.drainS) ? `${m.drainS.toFixed(1)} s` : '–') },
      { head: 'CPU/req with its delivery', cell: (m) => (Number.isFinite(m.cpuAll) ? fmt.us(m.cpuAll) : '–') },
    ];
    return {
      title: 'Spool: accepted deliveries and delivery rate (`npm run bench:spool`)',
      body: [
        `The same Stripe route with \`delivery: sync\` (verify, claim, forward, settle while the provider waits) and with \`delivery: spool\` (verify, claim, store the request, answer 200 \`spooled\`; a dispatcher in the same process delivers it to the upstream), each on the embedded file (\`embedded:FILE\`, SQLite, \`synchronous=FULL\` for a spool) and on PostgreSQL${server ? ` ${server} on the same machine (a schema of its own per gateway, dropped at the end)` : ''}. Every request is a new event. An accepted spool delivery is on disk (committed) before its answer. The spool gateways deliver to the upstream while they accept (spool \`concurrency\` 4, the default), so their runs pay for both; after each of their runs the harness waits, untimed, until the backlog left at its end is delivered (nothing pending or delivering in the spool), so no candidate's run carries another's dispatching; the upstream checks that no \`hookgate-idempotency-key\` arrives twice. A spool candidate's CPU/req counts what it delivered during its run; *CPU/req with its delivery* adds the CPU it spent delivering the rest after the run (accept plus delivery of every request of the run).`,
        '', conditions(mach, []), '', '### Targets',
        ...targets,
        '', '### Medians', mediansTable(cmp, spoolCols),
        '', '### Delivery rate to a fast upstream',
        `${fmt.int(K.spoolBurst)} deliveries (\`BENCH_SPOOL_BURST\`) accepted by a fresh spool gateway whose upstream port is closed (not reached: the route backs off, no attempt spent), then the upstream (the same node:http server, 200 at once) opens on that port and the clock runs until it has answered all of them; each exactly once (the upstream's count and the gateway's \`hookgate_spool_dispatches_total{result="delivered"}\` both equal the burst, and no \`hookgate-idempotency-key\` arrives twice). *First* is the wait for the route's back-off probe (at most about 1.5 s), *rate* counts from the first delivery to the last. \`concurrency\`: the route's deliveries in flight to the upstream (\`BENCH_SPOOL_CONCURRENCY\`); CPU is the gateway's, per delivery, from the open to the last.`,
        '',
        table(['ledger', 'concurrency', 'accepted (upstream closed)', 'first delivered after', 'all delivered after', 'deliveries/s', 'CPU/delivery', 'main thread/delivery', 'load (1 min)'], rates.map((r) => [
          r.ledger, r.concurrency, `${fmt.int(r.n)} at ${fmt.int(r.acceptRps)} req/s`, `${r.firstS.toFixed(2)} s`, `${r.allS.toFixed(2)} s`, `**${fmt.int(r.rate)}**`, fmt.us(r.cpuUs), fmt.us(r.mainUs), r.load1.toFixed(2),
        ])),
        '', '### Every run', runsTable(runs),
      ].join('\n'),
    };
  } finally {
    await stopAll();
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
    await admin?.end().catch(() => undefined);
  }
}

let code = 0;
try {
  const t0 = Date.now();
  log(`hookgate bench: ${scenario} — ${COMMAND}`);
  const result = await { full: scenarioFull, dup: scenarioDup, ledger: scenarioLedger, memory: scenarioMemory, profile: scenarioProfile, spool: scenarioSpool,
    attack: () => scenarioAttack({ K, log, problems, machine, command: COMMAND }),
  }[scenario]();
  await stopAll();
  if (problems.length) {
    code = 1;
    console.error(`\nbench: ${problems.length} problem(s); ${OUT ? 'docs not updated' : ''}\n  ${problems.join('\n  ')}`);
  } else {
    const md = `## ${result.title}\n\n${result.body}\n`;
    log(`\n${md}`);
    if (OUT) {
      writeSection(OUT, result.section ?? scenario, md);
      log(`written to ${OUT.slice(ROOT.length)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
} catch (err) {
  code = 1;
  console.error(`bench failed: ${err.stack ?? err}`);
  await stopAll().catch(() => undefined);
}
clearTimeout(watchdog);
process.exit(code);
