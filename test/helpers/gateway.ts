// Starts a real gateway on port 0 from a config object, assembled the way `hookgate run` assembles it
// (src/cli/run.ts): the ledger opened from `config.ledger` (embedded, in memory, unless the config
// says otherwise), the limiters from `config.limits` (memory store unless the config says otherwise),
// the same metrics shared by both. A test that needs a gateway `hookgate run` never builds (no ledger,
// no limiter) asks for it with `null` and says why; a test that brings its own ledger (a replica of a
// shared test database) or limiters passes them in.
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { resolveConfig, type Config } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ledgerHooks } from '../../src/observability/ledger-hooks.js';
import { openLedger } from '../../src/ledger/index.js';
import { createLimiters, type LimitersHandle } from '../../src/limits/index.js';
import { startGateway, type RunningGateway, type StartOptions } from '../../src/server.js';
import type { Ledger } from '../../src/ledger/types.js';
import type { Limiters } from '../../src/pipeline.js';

export interface TestGateway extends RunningGateway {
  /** every log line the gateway wrote, parsed */
  logs: Record<string, unknown>[];
  /** the raw log text, for asserting that nothing secret appears */
  logText: () => string;
  /** the ledger the gateway runs with (null only when the test asked for none) */
  ledger: Ledger | null;
  /** drains the gateway, then closes the ledger and the limiters it opened */
  close(): Promise<void>;
}

export interface TestGatewayOptions extends Partial<Omit<StartOptions, 'ledger' | 'limiters'>> {
  /**
   * undefined (the default): the ledger `hookgate run` opens for `config.ledger` (embedded unless the
   * config names another). A Ledger: that one (e.g. a replica of a shared test database); the gateway's
   * drain closes it. null: no ledger at all, which `hookgate run` never does: say why in `why`.
   */
  ledger?: Ledger | null;
  /** undefined: createLimiters(config) as `hookgate run` does; Limiters: those; null: none (say why) */
  limiters?: Limiters | null;
  /** required with `ledger: null` or `limiters: null`: why this test runs less than `hookgate run` */
  why?: string;
}

/** Builds a config from a partial YAML-shaped object (upstream.url filled in). */
export function testConfig(doc: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Config {
  return resolveConfig(doc, { env, baseDir: process.cwd() }).config;
}

export async function startTestGateway(config: Config, opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const { ledger: givenLedger, limiters: givenLimiters, why, ...rest } = opts;
  if ((givenLedger === null || givenLimiters === null) && !why?.trim()) {
    throw new Error('startTestGateway: a gateway without a ledger or without limiters is not what `hookgate run` builds; pass `why` saying why this test needs less');
  }
  const logs: Record<string, unknown>[] = [];
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const logger = rest.logger ?? createLogger('info', sink);
  const metrics = rest.metrics ?? createMetrics();

  // What src/cli/run.ts does, in the same order: the ledger, then the limiters, then the gateway.
  const ledger =
    givenLedger !== undefined
      ? givenLedger
      : await openLedger(
          { url: config.ledger.url, ...(config.ledger.schema ? { schema: config.ledger.schema } : {}), retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: config.ledger.cache, migrate: config.ledger.migrate },
          ledgerHooks(metrics, logger as Logger),
        );
  let handle: LimitersHandle | undefined;
  let limiters: Limiters | undefined;
  if (givenLimiters === undefined) {
    handle = createLimiters(config, { metrics, log: logger as Logger });
    await handle.ready();
    limiters = handle.limiters;
  } else limiters = givenLimiters ?? undefined;

  let gw: RunningGateway;
  try {
    gw = await startGateway(config, {
      ...rest,
      logger,
      metrics,
      ledger,
      ...(limiters ? { limiters } : {}),
      listen: rest.listen ?? { host: '127.0.0.1', port: 0 },
      admin: rest.admin ?? { host: '127.0.0.1', port: 0 },
    });
  } catch (err) {
    await ledger?.close().catch(() => undefined);
    await handle?.close().catch(() => undefined);
    throw err;
  }
  // The drain closes the ledger (as on SIGTERM); the limiters close after it, as run.ts does.
  const close = async () => {
    await gw.drain();
    await handle?.close();
  };
  return Object.assign(gw, { logs, logText: () => text, ledger, close });
}
