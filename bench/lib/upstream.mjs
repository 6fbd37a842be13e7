// The upstream every candidate forwards to: node:http, reads the whole body, answers 200 at once.
// Runs in its own process (its own event loop); reports its port over IPC.
import { createServer } from 'node:http';

const REPLY = '{"ok":true}';
let requests = 0;
let bytes = 0;
// When the first and the last request were answered (ms since the epoch): bench:spool's delivery rate.
let first = 0;
let last = 0;
// UPSTREAM_DEDUP=1 (bench:spool): counts requests whose hookgate-idempotency-key was seen before.
const seen = process.env.UPSTREAM_DEDUP === '1' ? new Set() : null;
let dupes = 0;
const server = createServer((req, res) => {
  requests++;
  if (seen) {
    const key = req.headers['hookgate-idempotency-key'];
    if (key !== undefined) {
      if (seen.has(key)) dupes++;
      else seen.add(key);
    }
  }
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': REPLY.length });
    res.end(REPLY);
    last = Date.now();
    first ||= last;
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port });
});
process.on('message', (m) => {
  if (m?.type === 'stats') process.send({ type: 'stats', requests, bytes, first, last, dupes });
});
process.on('SIGTERM', () => process.exit(0));
