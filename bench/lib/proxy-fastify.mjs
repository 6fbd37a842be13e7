// The reference: bare fastify + @fastify/http-proxy with nothing else (no logger, no hooks), the body
// streamed through to the same upstream. Its own process; reports its port over IPC.
import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';

const app = Fastify({ logger: false });
await app.register(httpProxy, { upstream: process.env.UPSTREAM });
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.send({ type: 'ready', port: app.server.address().port });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
