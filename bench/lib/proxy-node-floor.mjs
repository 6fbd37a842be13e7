// The floor of Node's HTTP stack on this path, for the stretch target: node:http and an undici pool
// with nothing else (no framework, no logger, no metrics, no ledger), doing what the nginx+njs sidecar
// does: read the body, check the Stripe HMAC as its njs script does, forward, relay the answer. No
// gateway built on Node's HTTP server and client can spend less a request; if this one is slower than
// nginx+njs, so is every one. Its own process; reports its port over IPC.
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { Pool } from 'undici';
import { SECRET } from './load.mjs';

const pool = new Pool(process.env.UPSTREAM, { connections: 128, pipelining: 1 });

// hop-by-hop headers stay on their own connection (undici refuses most of them anyway)
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
function endToEnd(headers) {
  const out = {};
  for (const k in headers) if (!HOP.has(k)) out[k] = headers[k];
  return out;
}

function refuse(res, status, error) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`{"error":"${error}"}`);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    let t = '';
    let v1 = '';
    for (const part of String(req.headers['stripe-signature'] ?? '').split(',')) {
      const i = part.indexOf('=');
      const k = part.slice(0, i);
      if (k === 't') t = part.slice(i + 1);
      else if (k === 'v1' && !v1) v1 = part.slice(i + 1);
    }
    if (!t || !v1) return refuse(res, 401, 'signature_missing');
    if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return refuse(res, 401, 'timestamp_out_of_tolerance');
    if (createHmac('sha256', SECRET).update(`${t}.`).update(body).digest('hex') !== v1) return refuse(res, 401, 'signature_invalid');
    pool.request({ method: req.method, path: req.url, headers: endToEnd(req.headers), body }, (err, up) => {
      if (err) return refuse(res, 502, 'upstream_unreachable');
      res.writeHead(up.statusCode, endToEnd(up.headers));
      up.body.on('data', (c) => res.write(c));
      up.body.on('end', () => res.end());
    });
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
process.on('SIGTERM', () => server.close(() => pool.close().then(() => process.exit(0))));
