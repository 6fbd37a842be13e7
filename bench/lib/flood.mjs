// The attacker of `npm run bench:attack`'s fairness measurement: its own process (so its client work
// does not slow the genuine client's), connecting FROM another loopback address (LOCAL, e.g.
// 127.0.0.2) so the gateway's per-address limit tells it apart, and POSTing forged Stripe deliveries
// as fast as the gateway answers. autocannon cannot bind a source address; undici's Pool can.
// IPC: 'ready' at start; on 'go' it floods; on 'stop' it reports { counts by status, errors, seconds }.
import { Pool } from 'undici';
import { makeSigner, PATH } from './load.mjs';

const pool = new Pool(process.env.URL, { connections: Number(process.env.CONNECTIONS ?? 50), pipelining: 1, localAddress: process.env.LOCAL });
const next = makeSigner({ secret: 'whsec_forged_by_the_bench_attacker_0000000000' });
const counts = {};
let errors = 0;
let running = false;
let t0 = 0;
const workers = [];

async function worker() {
  while (running) {
    const s = next();
    try {
      const r = await pool.request({ method: 'POST', path: PATH, body: s.body, headers: { 'content-type': 'application/json', 'stripe-signature': s.signature } });
      await r.body.dump();
      counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
    } catch {
      errors++;
    }
  }
}

process.on('message', async (m) => {
  if (m?.type === 'go') {
    // Each go/stop is one measured run: its own counts.
    for (const k of Object.keys(counts)) delete counts[k];
    errors = 0;
    workers.length = 0;
    running = true;
    t0 = performance.now();
    for (let i = 0; i < Number(process.env.CONNECTIONS ?? 50); i++) workers.push(worker());
    process.send({ type: 'going' });
  } else if (m?.type === 'stop') {
    running = false;
    const seconds = (performance.now() - t0) / 1000;
    await Promise.allSettled(workers);
    process.send({ type: 'stop', counts, errors, seconds });
  }
});
process.on('SIGTERM', () => process.exit(0));
process.send({ type: 'ready' });
