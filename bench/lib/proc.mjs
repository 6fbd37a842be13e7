// Child processes for the benchmarks: start, wait until ready, read their CPU time and RSS from
// /proc, and stop every one of them whatever happens (a benchmark must never leave a process behind).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { memoryCgroup } from './cgroup.mjs';

const children = new Set();

/** A free TCP port on 127.0.0.1 (bound and released; the tiny race is acceptable for a benchmark). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a child whose stderr is kept (last 8 KiB) for error messages. `ipc: true` opens a message
 * channel; `memoryLimit` (bytes) runs it in a memory cgroup of its own (cgroup.mjs). The child is
 * killed when the harness exits.
 */
export function start(name, cmd, args, { env = {}, ipc = false, stdout = 'ignore', cwd, memoryLimit } = {}) {
  const cgroup = memoryLimit ? memoryCgroup(name, memoryLimit) : null;
  if (cgroup) [cmd, args] = cgroup.wrap(cmd, args);
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe', ...(ipc ? ['ipc'] : [])],
  });
  let tail = '';
  child.stderr.on('data', (b) => {
    tail = (tail + b.toString()).slice(-8192);
  });
  const proc = {
    name,
    child,
    pid: child.pid,
    exited: false,
    stderr: () => tail,
    exit: new Promise((resolve) => child.once('exit', (code, signal) => {
      proc.exited = true;
      children.delete(proc);
      cgroup?.remove();
      resolve({ code, signal });
    })),
  };
  child.once('error', (err) => {
    tail += `\nspawn error: ${err.message}`;
  });
  children.add(proc);
  return proc;
}

/** Waits for the child's first IPC message of `type` (e.g. `{ type: 'ready', port }`). */
export function message(proc, type, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${proc.name}: no '${type}' message within ${timeoutMs} ms\n${proc.stderr()}`)), timeoutMs);
    const onMsg = (m) => {
      if (m && m.type === type) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`${proc.name} exited before '${type}'\n${proc.stderr()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.child.off('message', onMsg);
      proc.child.off('exit', onExit);
    };
    proc.child.on('message', onMsg);
    proc.child.once('exit', onExit);
  });
}

/** Sends a request over IPC and waits for the answer with the same `type`. */
export async function ask(proc, type, timeoutMs = 5_000) {
  const p = message(proc, type, timeoutMs);
  proc.child.send({ type });
  return p;
}

/** Polls `url` until it answers `expect` (default 200). */
export async function waitHttp(proc, url, { timeoutMs = 30_000, expect = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc?.exited) throw new Error(`${proc.name} exited while starting\n${proc.stderr()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === expect) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc?.name ?? url}: not ready within ${timeoutMs} ms (${last})\n${proc?.stderr() ?? ''}`);
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(proc, graceMs = 5_000) {
  if (!proc || proc.exited) return;
  try {
    proc.child.kill('SIGTERM');
  } catch {}
  const timer = setTimeout(() => {
    try {
      proc.child.kill('SIGKILL');
    } catch {}
  }, graceMs);
  await proc.exit;
  clearTimeout(timer);
}

export async function stopAll() {
  await Promise.all([...children].map((p) => stop(p)));
}

/** Last resort on abnormal exit: synchronous SIGKILL of every child still running. */
export function killAllSync() {
  for (const p of children) {
    try {
      p.child.kill('SIGKILL');
    } catch {}
  }
}

const TICKS = 100; // USER_HZ on Linux

function descendants(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
      } catch {}
    }
  }
  return out;
}

/** utime + stime in seconds of a process and its descendants (nginx: master + workers). */
export function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5)
    } catch {}
  }
  return ticks / TICKS;
}

/**
 * utime + stime in seconds of a process's main thread only (its JavaScript thread, for node): what
 * bounds a single event loop's throughput, while cpuSeconds also counts GC helpers and workers.
 */
export function mainThreadCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes of a process and its descendants. */
export function rssBytes(pid) {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb * 1024;
}

/**
 * Never leave a process behind: after `boundS` seconds kill everything and exit 3; on SIGINT/SIGTERM
 * run `stopping()` (bounded by 10 s) and exit 130; a second signal exits at once.
 */
export function guard(name, boundS, stopping) {
  // returns the watchdog timer: clearTimeout it when the run ends normally
  const watchdog = setTimeout(() => {
    console.error(`${name}: still running after ${boundS} s; killing everything`);
    killAllSync();
    process.exit(3);
  }, boundS * 1000);
  watchdog.unref();
  let aborting = false;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      if (aborting) process.exit(130);
      aborting = true;
      console.error(`${name}: ${sig}, stopping`);
      Promise.race([Promise.resolve().then(stopping).catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]).finally(() => process.exit(130));
    });
  }
  return watchdog;
}
