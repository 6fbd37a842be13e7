#!/usr/bin/env node
// A stand-in for the application behind hookgate: prints each delivery it receives (the hookgate-*
// headers and the body) and answers 200. `node examples/echo-upstream.mjs [PORT]` (default 8000).
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8000);
createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const ours = Object.entries(req.headers).filter(([k]) => k.startsWith('hookgate-')).map(([k, v]) => `${k}: ${v}`);
    console.log(`${req.method} ${req.url}\n  ${ours.join('\n  ')}\n  ${Buffer.concat(chunks).toString('utf8')}\n`);
    res.setHeader('content-type', 'application/json');
    res.end('{"received":true}');
  });
}).listen(port, '127.0.0.1', () => console.log(`echo upstream on http://127.0.0.1:${port}`));
