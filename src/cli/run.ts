// `hookgate run`: load, open the ledger, listen, and handle the process signals (SIGTERM drains,
// a second one exits at once; SIGHUP reloads).
import { ConfigError, loadConfigFile, type Config, type Loaded } from '../config/load.js';
import { redactCredentials } from '../config/redact.js';
import { openLedger, describeLedger, sqliteInThread } from '../ledger/index.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { ledgerHooks } from '../observability/ledger-hooks.js';
import { probeTcp } from '../observability/probe.js';
import { watchFiles, serial, type WatchOptions } from '../config/watch.js';
import { ListenError, startGateway, type RunningGateway } from '../server.js';
import { spooling } from '../spool/index.js';
import { createLimiters } from '../limits/index.js';
import { startTracing, stopTracing, TracingConfigError } from '../observability/tracing.js';
import type { Io } from './main.js';
import type { Logger } from 'pino';

function printProblems(file: string, err: ConfigError, io: Io): void {
  io.err(`${file}: invalid\n`);
  for (const p of err.problems) io.err(`  ${p}\n`);
}

/** Settings that a reload cannot change: they are bound to sockets and connections opened at start. */
function restartOnly(a: Config, b: Config): string[] {
  const out: string[] = [];
  if (JSON.stringify(a.listen) !== JSON.stringify(b.listen)) out.push('listen');
  if (JSON.stringify(a.admin) !== JSON.stringify(b.admin)) out.push('admin');
  if (JSON.stringify(a.ledger) !== JSON.stringify(b.ledger)) out.push('ledger');
  if (a.limits.store !== b.limits.store) out.push('limits.store');
  return out;
}

export async function reloadFrom(file: string, gw: RunningGateway, log: Logger, env: NodeJS.ProcessEnv, trigger: object = {}): Promise<boolean> {
  return (await reloadLoaded(file, gw, log, env, trigger)) !== null;
}

/** A reload that says what it read when it succeeded (the watcher's next baseline), null when it failed. */
async function reloadLoaded(file: string, gw: RunningGateway, log: Logger, env: NodeJS.ProcessEnv, trigger: object): Promise<Loaded | null> {
  try {
    const loaded = loadConfigFile(file, env);
    const { config, warnings } = loaded;
    for (const w of warnings) log.warn(w);
    const fixed = restartOnly(gw.config(), config);
    if (fixed.length) log.warn({ fields: fixed }, 'these settings changed but take effect only after a restart');
    await gw.reload(config);
    gw.metrics.reloads.inc({ result: 'success' });
    log.info({ ...trigger, routes: config.routes.length }, 'configuration reloaded');
    return loaded;
  } catch (err) {
    gw.metrics.reloads.inc({ result: 'failure' });
    const problems = err instanceof ConfigError ? err.problems : [redactCredentials((err as Error).message)];
    log.error({ ...trigger, problems }, 'configuration reload failed; the previous configuration stays in force');
    return null;
  }
}

export interface LiveReload {
  /** reload now (SIGHUP); never two reloads at once */
  reload(): Promise<boolean>;
  /** compare the watched files with the baseline now, reloading when one changed (what the poll does) */
  check(): Promise<void>;
  close(): void;
}

/**
 * SIGHUP and file changes (the config file, every `file:` secret) both reload, one at a time.
 * `opts.baseline` is what the load in force read (Loaded.digests): pass it, or a file changed between
 * that load and this call goes unnoticed.
 */
export function liveReload(file: string, gw: RunningGateway, log: Logger, env: NodeJS.ProcessEnv, opts: Partial<WatchOptions> = {}): LiveReload {
  let why: object = {};
  const run = serial(() => reloadLoaded(file, gw, log, env, why));
  const watcher = watchFiles({
    files: () => [gw.config().file ?? file, ...gw.config().secretFiles, ...gw.config().schemaFiles],
    onChange: async (changed) => ((why = { trigger: 'file change', files: changed }), (await run())?.digests),
    log,
    ...opts,
  });
  return {
    reload: async () => ((why = { trigger: 'SIGHUP' }), (await run()) !== null),
    check: () => watcher.check(),
    close: () => watcher.close(),
  };
}

export async function runCommand(file: string, io: Io): Promise<number> {
  let loaded;
  try {
    loaded = loadConfigFile(file, io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      printProblems(file, err, io);
      return 1;
    }
    throw err;
  }
  const { config, warnings } = loaded;
  const log = createLogger(config.logLevel);
  for (const w of warnings) log.warn(w);
  const metrics = createMetrics();
  // Before the routes are built: they carry the tracing hooks only when it is on (OTEL_* variables).
  try {
    await startTracing(io.env, log);
  } catch (err) {
    if (!(err instanceof TracingConfigError)) throw err;
    io.err(`hookgate: ${err.message}\n`);
    return 1;
  }

  let ledger;
  // SQLite (embedded:PATH) in a worker thread only for a spool, which shares its connection; else in
  // the event loop, which costs less CPU and memory (docs/ledger.md)
  const ledgerOptions = { url: config.ledger.url, ...(config.ledger.schema ? { schema: config.ledger.schema } : {}), retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: config.ledger.cache, migrate: config.ledger.migrate, ...(config.ledger.synchronous ? { synchronous: config.ledger.synchronous } : {}), thread: spooling(config) };
  try {
    ledger = await openLedger(ledgerOptions, ledgerHooks(metrics, log));
  } catch (err) {
    log.fatal({ ledger: describeLedger(config.ledger.url), err: { message: (err as Error).message } }, 'cannot open the ledger');
    return 1;
  }

  // The limit store lives for the process: a reload changes rates, not the store (see docs/rate-limits.md).
  const limits = createLimiters(config, { metrics, log });
  await limits.ready(); // bounded by the Redis connect timeout; an unreachable Redis means per-replica limits, not a failed start
  let gw: RunningGateway;
  try {
    gw = await startGateway(config, { logger: log, ledger, metrics, limiters: limits.limiters, spoolRate: limits.dispatch });
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    // One line a person can act on, not a stack trace (issue 13).
    io.err(`hookgate: ${err.message}\n`);
    await Promise.allSettled([ledger.close(), limits.close()]);
    return 1;
  }
  log.info(
    { traffic: gw.url, admin: gw.adminUrl, mode: config.mode, ledger: describeLedger(config.ledger.url), backend: ledger.backend, ...(ledger.backend === 'embedded' ? { ledgerThread: sqliteInThread(ledgerOptions) } : {}), limits: config.limits.store.startsWith('redis') ? 'redis' : 'memory', routes: config.routes.map((r) => `${r.path} (${r.provider})`) },
    'hookgate listening',
  );
  // Not awaited: the gateway serves (and answers 502, releasing the claim) while the app starts.
  void probeTcp(config.upstream.url, 2_000).then((why) => {
    if (why) log.warn({ upstream: config.upstream.url.origin, reason: why }, 'upstream not reachable yet; deliveries get 502 upstream_unavailable until it is');
  });
  // The watcher's baseline is what this load read, not what is on disk by now (the gateway took time to start).
  const live = liveReload(file, gw, log, io.env, { baseline: loaded.digests });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    live.close();
    log.info({ signal }, 'draining: finishing deliveries in flight');
    // The spans of the last deliveries are exported before exit (bounded: see stopTracing).
    gw.drain().then(() => Promise.all([limits.close(), stopTracing()])).then(
      () => {
        log.info('drained; bye');
        log.flush();
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (!stopping) void live.reload();
  });
  return -1;
}
