// `npm run bench:attack` (issue 16, "the cost of an attack"): what an attacker costs the gateway, in
// three measurements, each interleaved with its comparison in one run.
//
//  1. forged: Stripe deliveries signed with the wrong secret at full speed against hookgate (each is
//     read, verified and answered 401) vs genuine-looking deliveries at the reference (which forwards
//     everything). Target ≥ 2× the reference's req/s.
//  2. over-limit: one address far over `limits.unverified` (BENCH_ATTACK_LIMIT, 10/s), so nearly every
//     request is answered 429 before its body is read, and the connection is closed (an unread body
//     cannot be skipped on a keep-alive connection). autocannon then reconnects, so what it counts is
//     answers per second INCLUDING one TCP connect each; the report gives connections per answer and
//     socket errors beside it. Target ≥ 3× the reference's req/s.
//  3. fairness: a genuine client at a fixed moderate rate (BENCH_ATTACK_RATE) alone, then the same
//     while a flooder process, connecting from another loopback address (BENCH_ATTACK_FROM), sends
//     forgeries at full speed; the per-address limit (BENCH_ATTACK_FAIR_LIMIT) separates the two.
//     Target: the genuine client keeps ≥ 50% of its throughput alone.
//
// The hook in run.mjs passes the harness's knobs and helpers; this module starts its own processes.
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUpstream, startBareProxy, startGateway, gatewayCounters, COMPARE_ROOT, COMPARE_ENV, COMPARE_NODE_ARGS } from './candidates.mjs';
import { makeSigner, drive, PATH } from './load.mjs';
import { start, message, cpuSeconds } from './proc.mjs';
import { median, fmt, machineLine, table } from './report.mjs';

const LIB = fileURLToPath(new URL('./', import.meta.url));
const FORGED_SECRET = 'whsec_forged_by_the_bench_attacker_0000000000';

/**
 * autocannon at full speed with Stripe deliveries signed by `secret`. Counts the TCP connections it
 * opens (its client reconnects whenever the server closes one) by wrapping each client's connect.
 */
function hammer(url, { seconds, connections, secret }) {
  const next = makeSigner(secret ? { secret } : {});
  let connects = 0;
  return new Promise((resolve, reject) => {
    const inst = autocannon({
      url,
      connections,
      pipelining: 1,
      timeout: 10,
      duration: seconds,
      setupClient(client) {
        const connect = client._connect;
        client._connect = function counted() {
          connects++;
          return connect.call(this);
        };
      },
      requests: [{
        method: 'POST',
        path: PATH,
        setupRequest(req) {
          const s = next();
          req.body = s.body;
          req.headers = { 'content-type': 'application/json', 'stripe-signature': s.signature, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
          return req;
        },
      }],
    }, (err, r) => {
      if (err) return reject(err);
      resolve({
        requests: r.requests.total,
        rps: r.requests.total / (r.duration || seconds),
        p50: r.latency.p50,
        p99: r.latency.p99,
        errors: r.errors,
        timeouts: r.timeouts,
        statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count])),
        duration: r.duration,
        connects,
      });
    });
    drive.current = inst;
  });
}

const delta = (a, b) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]).filter(([, v]) => v > 0));
const codes = (o) => Object.entries(o ?? {}).map(([k, v]) => `${k} ${fmt.int(v)}`).join(', ');

export async function scenarioAttack({ K, log, problems, machine, command, env = process.env }) {
  const mach = machine();
  const limit = env.BENCH_ATTACK_LIMIT || '10/s';
  const rate = Number(env.BENCH_ATTACK_RATE || 300);
  const fairLimit = env.BENCH_ATTACK_FAIR_LIMIT || '1000/s';
  const from = env.BENCH_ATTACK_FROM || '127.0.0.2';
  if (!/^127\./.test(from)) throw new Error(`BENCH_ATTACK_FROM=${from}: the flooder stays on loopback (127.x.y.z)`);

  const upstream = await startUpstream();
  const ref = await startBareProxy(upstream.url);
  const forged = await startGateway(upstream.url, { name: 'hookgate (forged → 401)' });
  const limited = await startGateway(upstream.url, { name: `hookgate (over ${limit} → 429)`, unverified: limit });
  const fair = await startGateway(upstream.url, { name: 'hookgate (fairness)', unverified: fairLimit });

  // --- 1 and 2: full speed, interleaved with the reference --------------------------------------
  const loads = [
    { cand: ref, secret: null, what: 'genuine-looking, forwarded' },
    { cand: forged, secret: FORGED_SECRET, what: 'forged signature' },
    { cand: limited, secret: FORGED_SECRET, what: `forged, one address over ${limit}` },
  ];
  // BENCH_COMPARE_ROOT / BENCH_COMPARE_ENV: the same two loads on `hookgate B`, interleaved (in the log, for A/B)
  if (COMPARE_ROOT) {
    const b = { root: COMPARE_ROOT, env: COMPARE_ENV, nodeArgs: COMPARE_NODE_ARGS };
    loads.push({ cand: await startGateway(upstream.url, { name: 'hookgate B (forged → 401)', ...b }), secret: FORGED_SECRET, what: 'forged signature (B)' });
    loads.push({ cand: await startGateway(upstream.url, { name: `hookgate B (over ${limit} → 429)`, unverified: limit, ...b }), secret: FORGED_SECRET, what: `forged, one address over ${limit} (B)` });
  }
  const one = async (l, seconds, round) => {
    const load1 = loadavg()[0];
    const before = l.cand.adminUrl ? (await gatewayCounters(l.cand.adminUrl)).outcomes : null;
    const cpu0 = cpuSeconds(l.cand.pid);
    const r = await hammer(l.cand.url, { seconds, connections: K.connections, secret: l.secret });
    const cpu = cpuSeconds(l.cand.pid) - cpu0;
    const outcomes = before ? delta((await gatewayCounters(l.cand.adminUrl)).outcomes, before) : null;
    const run = { round, candidate: l.cand.name, ...r, load1, outcomes, cpuUsPerReq: (cpu * 1e6) / Math.max(1, r.requests), connectsPerReq: r.connects / Math.max(1, r.requests) };
    log(`  ${l.cand.name.padEnd(28)} ${fmt.int(r.rps).padStart(7)} answers/s  p99 ${fmt.ms(r.p99)}  cpu ${fmt.us(run.cpuUsPerReq)}/answer  ${fmt.int(r.connects)} connects  ${r.errors} errors  [${codes(r.statusCodes)}]${outcomes ? `  ${JSON.stringify(outcomes)}` : ''}`);
    return run;
  };
  if (K.warmup > 0) {
    log(`warm-up (${K.warmup} s each)`);
    for (const l of loads) await one(l, K.warmup, 'warm-up');
  }
  const runs = [];
  for (let round = 1; round <= K.rounds; round++) {
    log(`round ${round}/${K.rounds} (${K.seconds} s each, ${K.connections} connections)`);
    for (let i = 0; i < loads.length; i++) runs.push(await one(loads[(i + round - 1) % loads.length], K.seconds, round));
  }
  for (const r of runs) {
    const c = r.statusCodes;
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    if (!r.requests) problems.push(`${r.candidate} round ${r.round}: no answers (${r.errors} errors)`);
    else if (r.candidate === ref.name && (c['200'] ?? 0) < total * 0.999) problems.push(`${r.candidate} round ${r.round}: ${codes(c)}`);
    else if (r.candidate === forged.name && (c['401'] ?? 0) < total * 0.999) problems.push(`${r.candidate} round ${r.round}: expected 401, got ${codes(c)}`);
    // The limit lets `limit` requests a second through (to their 401); everything else must be 429.
    else if (r.candidate === limited.name && (c['429'] ?? 0) < total * 0.9) problems.push(`${r.candidate} round ${r.round}: expected mostly 429, got ${codes(c)}`);
  }
  const med = (name, f) => median(runs.filter((r) => r.candidate === name).map(f));
  const m = Object.fromEntries(loads.map((l) => l.cand).map((c) => [c.name, {
    rps: med(c.name, (r) => r.rps), p50: med(c.name, (r) => r.p50), p99: med(c.name, (r) => r.p99), cpu: med(c.name, (r) => r.cpuUsPerReq),
    connects: med(c.name, (r) => r.connectsPerReq), errors: med(c.name, (r) => r.errors / r.duration),
  }]));
  const r401 = m[forged.name].rps / m[ref.name].rps;
  const r429 = m[limited.name].rps / m[ref.name].rps;

  // --- 3: fairness ---------------------------------------------------------------------------------
  const flooder = start('flooder', process.execPath, [join(LIB, 'flood.mjs')], { ipc: true, env: { URL: fair.url, LOCAL: from, CONNECTIONS: String(K.connections) } });
  await message(flooder, 'ready');
  const genuine = async (attacked, round, seconds) => {
    const load1 = loadavg()[0];
    const before = (await gatewayCounters(fair.adminUrl)).outcomes;
    if (attacked) {
      const going = message(flooder, 'going');
      flooder.child.send({ type: 'go' });
      await going;
      // Let the flood reach full speed before the genuine client starts.
      await new Promise((res) => setTimeout(res, 500));
    }
    const g = await drive(fair.url, { seconds, connections: 10, rate });
    let flood = null;
    if (attacked) {
      const stopped = message(flooder, 'stop', 30_000);
      flooder.child.send({ type: 'stop' });
      flood = await stopped;
    }
    const outcomes = delta((await gatewayCounters(fair.adminUrl)).outcomes, before);
    const run = { round, attacked, ...g, load1, outcomes, flood, floodRps: flood ? Object.values(flood.counts).reduce((a, b) => a + b, 0) / flood.seconds : 0 };
    log(`  genuine at ${rate}/s ${attacked ? 'under attack' : 'alone       '} ${fmt.int(g.rps).padStart(6)} req/s  p99 ${fmt.ms(g.p99)}  non-2xx ${g.non2xx} [${codes(Object.fromEntries(Object.entries(g.statusCodes).map(([k, v]) => [k, v.count])))}]${flood ? `  flood ${fmt.int(run.floodRps)} answers/s [${codes(flood.counts)}] ${flood.errors} errors` : ''}`);
    return run;
  };
  if (K.warmup > 0) {
    log(`fairness warm-up (${K.warmup} s each)`);
    await genuine(false, 'warm-up', K.warmup);
    await genuine(true, 'warm-up', K.warmup);
  }
  const fruns = [];
  for (let round = 1; round <= K.rounds; round++) {
    log(`fairness round ${round}/${K.rounds} (${K.seconds} s each; genuine ${rate} req/s over 10 connections; flood ${K.connections} connections from ${from})`);
    for (const attacked of round % 2 ? [false, true] : [true, false]) fruns.push(await genuine(attacked, round, K.seconds));
  }
  for (const r of fruns) {
    if (!r.requests) problems.push(`fairness round ${r.round}: the genuine client got no answers`);
    if (r.attacked && !(r.flood.counts['401'] || r.flood.counts['429'])) problems.push(`fairness round ${r.round}: the flood got no 401/429 (${codes(r.flood.counts)}, ${r.flood.errors} errors): is ${from} usable as a source address?`);
  }
  const fm = (attacked, f) => median(fruns.filter((r) => r.attacked === attacked).map(f));
  const alone = { rps: fm(false, (r) => r.rps), p99: fm(false, (r) => r.p99), bad: fm(false, (r) => r.non2xx + r.errors) };
  const under = { rps: fm(true, (r) => r.rps), p99: fm(true, (r) => r.p99), bad: fm(true, (r) => r.non2xx + r.errors), flood: fm(true, (r) => r.floodRps) };
  const keep = under.rps / alone.rps;

  const floodCodes = {};
  for (const r of fruns.filter((x) => x.attacked)) for (const [k, v] of Object.entries(r.flood.counts)) floodCodes[k] = (floodCodes[k] ?? 0) + v;
  return {
    section: 'attack',
    title: 'The cost of an attack (`npm run bench:attack`)',
    body: [
      `Issue 16's attack targets. (1) Stripe deliveries signed with the wrong secret, at full speed: hookgate reads each body, verifies and answers 401; the reference (bare fastify + @fastify/http-proxy) gets genuine-looking deliveries and forwards them all. (2) The same forgeries from one address far over \`limits.unverified: ${limit}\`: hookgate answers 429 before reading the body, which Node then discards (2 KiB, a declared length under 64 KiB) to keep the connection; a larger or chunked body would be hung up on (connections per answer and socket errors are reported beside the answers). (3) Fairness: a genuine client at ${rate} req/s (autocannon, 10 connections, from 127.0.0.1) alone, and while a flooder process sends forgeries at full speed (undici, ${K.connections} connections, bound to ${from}) to the same gateway (\`limits.unverified: ${fairLimit}\`, so the limit keys the two apart).`,
      '',
      `- Command: \`${command}\` (\`node bench/run.mjs attack\`), after \`npm run build\`. Knobs: \`BENCH_ATTACK_LIMIT\` (${limit}), \`BENCH_ATTACK_RATE\` (${rate}), \`BENCH_ATTACK_FAIR_LIMIT\` (${fairLimit}), \`BENCH_ATTACK_FROM\` (${from}).`,
      `- Machine: ${machineLine(mach)}.`,
      `- ${K.rounds} rounds × ${K.seconds} s per load, interleaved (order rotating), after a ${K.warmup} s warm-up each; ${K.connections} connections at full speed. The load clients run on the same machine as the candidates.`,
      '',
      '### Targets',
      `- Forged signatures (401) ≥ 2× the reference's throughput: **${fmt.ratio(r401)}** (${fmt.int(m[forged.name].rps)} vs ${fmt.int(m[ref.name].rps)} req/s) — ${r401 >= 2 ? 'met' : '**not met**'}.`,
      `- Over the per-address limit (429) ≥ 3× the reference's throughput: **${fmt.ratio(r429)}** (${fmt.int(m[limited.name].rps)} answers/s with ${m[limited.name].connects.toFixed(2)} connects an answer, vs ${fmt.int(m[ref.name].rps)} req/s) — ${r429 >= 3 ? 'met' : '**not met**'}.`,
      `- Genuine deliveries under a forgery flood keep ≥ 50% of their throughput alone: **${(keep * 100).toFixed(0)}%** (${fmt.int(under.rps)} vs ${fmt.int(alone.rps)} req/s at an offered ${rate} req/s; p99 ${fmt.ms(under.p99)} vs ${fmt.ms(alone.p99)}, ${fmt.ratio(under.p99 / alone.p99)}) — ${keep >= 0.5 ? 'met' : '**not met**'}. The flood was answered at ${fmt.int(under.flood)} answers/s (${codes(floodCodes)}).`,
      '',
      '### Medians (1 and 2)',
      table(['load', 'candidate', 'answers/s', '× ref', 'p50', 'p99', 'CPU/answer', 'connects/answer', 'socket errors/s'], loads.map((l) => {
        const x = m[l.cand.name];
        return [l.what, l.cand.name, fmt.int(x.rps), fmt.ratio(x.rps / m[ref.name].rps), fmt.ms(x.p50), fmt.ms(x.p99), fmt.us(x.cpu), x.connects.toFixed(2), fmt.int(x.errors)];
      })),
      '',
      '### Every run (1 and 2)',
      table(['round', 'candidate', 'answers/s', 'p99', 'CPU/answer', 'connects', 'errors', 'statuses', 'outcomes', 'load (1 min)'], runs.map((r) => [
        r.round, r.candidate, fmt.int(r.rps), fmt.ms(r.p99), fmt.us(r.cpuUsPerReq), fmt.int(r.connects), r.errors, codes(r.statusCodes), r.outcomes ? codes(r.outcomes) : '', r.load1.toFixed(2),
      ])),
      '',
      '### Fairness, every run (3)',
      table(['round', 'genuine client', 'req/s', 'p50', 'p99', 'non-2xx', 'flood answers/s', 'flood statuses', 'load (1 min)'], fruns.map((r) => [
        r.round, r.attacked ? 'under attack' : 'alone', fmt.int(r.rps), fmt.ms(r.p50), fmt.ms(r.p99), r.non2xx + r.errors, r.attacked ? fmt.int(r.floodRps) : '–', r.attacked ? codes(r.flood.counts) : '–', r.load1.toFixed(2),
      ])),
    ].join('\n'),
  };
}
