// Starts a real gateway on port 0 from a config object, the way `hookgate run` does.
import { Writable } from 'node:stream';
import { resolveConfig, type Config } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startGateway, type RunningGateway, type StartOptions } from '../../src/server.js';
import type { Ledger } from '../../src/ledger/types.js';

export interface TestGateway extends RunningGateway {
  /** every log line the gateway wrote, parsed */
  logs: Record<string, unknown>[];
  /** the raw log text, for asserting that nothing secret appears */
  logText: () => string;
  close(): Promise<void>;
}

/** Builds a config from a partial YAML-shaped object (upstream.url filled in). */
export function testConfig(doc: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config {
  return resolveConfig(doc, { env, baseDir: process.cwd() }).config;
}

export async function startTestGateway(config: Config, opts: Partial<StartOptions> & { ledger?: Ledger | null } = {}): Promise<TestGateway> {
  const logs: Record<string, unknown>[] = [];
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const logger = createLogger('info', sink);
  const gw = await startGateway(config, {
    logger,
    ledger: opts.ledger ?? null,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    ...opts,
  });
  return Object.assign(gw, { logs, logText: () => text, close: () => gw.drain() });
}
