// The admin listener: /healthz (alive), /readyz (config loaded, ledger reachable, not draining),
// /metrics (Prometheus text). Never on the traffic port.
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import { lazyCompilers } from './lazy-compilers.js';

export interface AdminDeps {
  logger: FastifyBaseLogger;
  registry: Registry;
  /** null when ready, else why not (shown in the 503 body) */
  notReady: () => Promise<string | null>;
}

export function buildAdmin(deps: AdminDeps): FastifyInstance {
  const admin = Fastify({ loggerInstance: deps.logger, logController: new LogController({ disableRequestLogging: true }), schemaController: lazyCompilers, forceCloseConnections: true });
  admin.get('/healthz', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  admin.get('/readyz', async (_req, reply) => {
    const why = await deps.notReady();
    reply.header('cache-control', 'no-store');
    return why === null ? reply.send({ status: 'ready' }) : reply.code(503).send({ status: 'not_ready', reason: why });
  });
  admin.get('/metrics', async (_req, reply) => reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics()));
  return admin;
}
