// BENCH_MEMORY_LIMIT (e.g. 256Mi, the chart's limit for hookgate): each candidate runs in a memory
// cgroup of its own with that limit, as in a pod. It matters beyond the OOM line: Node sizes V8's heap
// from the limit it finds (uv_get_constrained_memory), and under 1 GiB the young generation stays at
// 2 MB instead of growing to 32 MB (docs/benchmarks.md, Memory). Needs Linux, root and a writable
// cgroup file system (v1's memory hierarchy, or v2 with the memory controller delegated).
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const UNITS = { '': 1, k: 1e3, ki: 1024, m: 1e6, mi: 1024 ** 2, g: 1e9, gi: 1024 ** 3 };

/** "256Mi", "512M", "1G", "268435456" → bytes; throws on anything else */
export function parseBytes(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?)?b?$/i.exec(String(text).trim());
  if (!m) throw new Error(`BENCH_MEMORY_LIMIT: "${text}" is not a size (256Mi, 512M, 1G)`);
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
}

/** where this process's memory cgroup is, and how its limit is set */
function ownMemoryCgroup() {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
  const v1 = lines.find(([, ctrls]) => ctrls.split(',').includes('memory'));
  if (v1 && existsSync('/sys/fs/cgroup/memory')) return { dir: join('/sys/fs/cgroup/memory', v1[2]), limitFile: 'memory.limit_in_bytes' };
  const v2 = lines.find(([id]) => id === '0');
  if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers')) return { dir: join('/sys/fs/cgroup', v2[2]), limitFile: 'memory.max' };
  throw new Error('BENCH_MEMORY_LIMIT: no memory cgroup found (/proc/self/cgroup)');
}

let serial = 0;

/**
 * A new memory cgroup beside this process's, limited to `bytes`. `wrap(cmd, args)` gives the command
 * that enters it and then execs cmd (the pid stays the child's); `remove()` once the child has exited.
 */
export function memoryCgroup(name, bytes) {
  const own = ownMemoryCgroup();
  const dir = join(own.dir, `hookgate-bench-${process.pid}-${++serial}-${name.replace(/[^\w.-]+/g, '_')}`);
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, own.limitFile), String(bytes));
  } catch (err) {
    // v2 without the memory controller delegated: the folder is made, its memory.max is missing
    try {
      rmdirSync(dir);
    } catch {}
    throw new Error(`BENCH_MEMORY_LIMIT: cannot make a memory cgroup at ${dir} (${err.code ?? err.message}): run as root on Linux with a writable cgroup file system`);
  }
  return {
    dir,
    wrap: (cmd, args) => ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(dir, 'cgroup.procs'), cmd, ...args]],
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {}
    },
  };
}
