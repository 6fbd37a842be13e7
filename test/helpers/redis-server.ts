// A private redis-server on a free port, for tests that stop and restart Redis (never the shared one).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

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

/**
 * The shared Redis of the tests (HOOKGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379). When the
 * variable is set (always in CI) an unreachable server fails the test; when it is not and nothing
 * answers (a bare machine), the test is skipped with the reason, as the PostgreSQL suite falls back.
 */
export const SHARED_REDIS_URL = process.env.HOOKGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let reachable: Promise<boolean> | undefined;
function sharedReachable(): Promise<boolean> {
  reachable ??= new Promise((resolve) => {
    const { hostname, port } = new URL(SHARED_REDIS_URL);
    const s = connect(Number(port || 6379), hostname || '127.0.0.1');
    s.setTimeout(2000, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.end(), resolve(true)));
    s.once('error', () => resolve(false));
  });
  return reachable;
}

/** False (and the test marked skipped) when no shared Redis is here and none was asked for. */
export async function requireRedis(t: { plan(n: number, reason?: string): void }): Promise<boolean> {
  if (await sharedReachable()) return true;
  if (process.env.HOOKGATE_TEST_REDIS_URL) throw new Error(`HOOKGATE_TEST_REDIS_URL is set but Redis there cannot be reached`);
  t.plan(0, `no Redis at ${SHARED_REDIS_URL} (set HOOKGATE_TEST_REDIS_URL to require one)`);
  return false;
}

/** Whether a redis-server binary is on the PATH (for tests that only add a Redis fault when they can). */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** False (and the test marked skipped) when no redis-server binary is installed, unless CI requires Redis. */
export function requireRedisServer(t: { plan(n: number, reason?: string): void }): boolean {
  if (redisServerInstalled()) return true;
  if (process.env.HOOKGATE_TEST_REDIS_URL) throw new Error('redis-server is not installed, but this run requires Redis (HOOKGATE_TEST_REDIS_URL is set)');
  t.plan(0, 'redis-server is not installed');
  return false;
}

/**
 * A private redis-server started on a free port and SIGKILLed at the test's end; null (and the test
 * marked skipped) when redis-server is not installed and the run does not require Redis.
 */
export async function startPrivateRedis(t: { plan(n: number, reason?: string): void; teardown(fn: () => unknown): void }): Promise<PrivateRedis | null> {
  if (!requireRedisServer(t)) return null;
  const redis = privateRedis(await freePort());
  t.teardown(() => redis.kill());
  await redis.start();
  return redis;
}
