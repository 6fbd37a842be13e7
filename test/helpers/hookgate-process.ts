// The built CLI as a real process with any arguments and environment (HOOKGATE_CONFIG, npm start's
// command line, SIGTERM timing), its stdout parsed as pino JSON lines. Killed at the test's end if
// still running. Synchronisation is on state: a line that has appeared, or the process's exit.
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../../bin/hookgate.js', import.meta.url));

export interface HookgateProcess {
  readonly child: ChildProcess;
  /** stdout, one parsed JSON object a line ({ raw } when a line is not JSON) */
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  /** the first line (seen or to come) matching, or a rejection naming `what` when the process exits or `ms` pass */
  line(pred: (l: Record<string, unknown>) => boolean, what: string, ms?: number): Promise<Record<string, unknown>>;
  /** the traffic and admin URLs from the start line */
  started(ms?: number): Promise<{ traffic: string; admin: string }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node bin/hookgate.js ...args` from the repository root. */
export function spawnHookgate(t: Test, args: string[], env: NodeJS.ProcessEnv = {}, argv0: string[] = [BIN]): HookgateProcess {
  const child = spawn(process.execPath, [...argv0, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ raw: l });
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const line = async (pred: (l: Record<string, unknown>) => boolean, what: string, ms = 30_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
        throw new Error(`hookgate ${args.join(' ')}: no line ${what} (exit ${child.exitCode ?? child.signalCode}); stderr: ${err.slice(0, 800)}; stdout: ${JSON.stringify(lines).slice(0, 1500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    child,
    lines,
    stderr: () => err,
    line,
    async started(ms) {
      const l = await line((x) => typeof x.traffic === 'string' && typeof x.admin === 'string', 'naming the traffic and admin URLs', ms);
      return { traffic: l.traffic as string, admin: l.admin as string };
    },
    exited,
  };
}

/** Polls `fn` until it returns true, or fails after `ms`. */
export async function until(fn: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
