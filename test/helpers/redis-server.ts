// A private redis-server on a free port, for tests that stop and restart Redis (never the shared one).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { missing, REDIS_URL, requireRedisUrl, type Skippable } from './services.js';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** starts redis-server on the port (again); resolves when it accepts connections */
  start(): Promise<void>;
  /** SIGKILL, as a crash would; resolves when the process is gone */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that hangs with its connections open */
  pause(): void;
  resume(): void;
}

export function privateRedis(port: number): PrivateRedis {
  let child: ChildProcess | null = null;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start() {
      return new Promise<void>((resolve, reject) => {
        const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
        child = c;
        let out = '';
        const timer = setTimeout(() => (c.kill('SIGKILL'), reject(new Error(`redis-server did not start on ${port}: ${out}`))), 15_000);
        c.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Ready to accept connections')) (clearTimeout(timer), resolve());
        });
        c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        c.once('exit', (code) => (clearTimeout(timer), reject(new Error(`redis-server exited (${code}): ${out}`))));
        c.once('error', (err) => (clearTimeout(timer), reject(err)));
      });
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    kill() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
  };
}

/** The shared Redis of the tests: test/helpers/services.ts (HOOKGATE_TEST_REDIS_URL). */
export const SHARED_REDIS_URL = REDIS_URL;

/** False (the test failed, or skipped with HOOKGATE_TEST_ALLOW_SKIP=1) when the shared Redis cannot be reached. */
export async function requireRedis(t: Skippable): Promise<boolean> {
  return (await requireRedisUrl(t)) !== null;
}

/** Whether a redis-server binary is on the PATH. */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** False (the test failed, or skipped with HOOKGATE_TEST_ALLOW_SKIP=1) when no redis-server binary is installed. */
export function requireRedisServer(t: Skippable): boolean {
  if (redisServerInstalled()) return true;
  return missing(t, 'redis-server', '', 'not on the PATH');
}

/**
 * A private redis-server, started: redis-server cannot listen on port 0 and report the port, so a free
 * port is picked and, should another process bind it first, the start is tried again on another.
 */
export async function launchPrivateRedis(): Promise<PrivateRedis> {
  for (let attempt = 1; ; attempt++) {
    const redis = privateRedis(await freePort());
    try {
      await redis.start();
      return redis;
    } catch (err) {
      await redis.kill();
      if (attempt >= 5 || !/in use|bind/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * A private redis-server SIGKILLed at the test's end; null (the test failed, or skipped with
 * HOOKGATE_TEST_ALLOW_SKIP=1) when redis-server is not installed.
 */
export async function startPrivateRedis(t: Skippable & { teardown(fn: () => unknown): void }): Promise<PrivateRedis | null> {
  if (!requireRedisServer(t)) return null;
  const redis = await launchPrivateRedis();
  t.teardown(() => redis.kill());
  return redis;
}
