// A private redis-server on a free port, for tests that stop and restart Redis (never the shared one).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

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
