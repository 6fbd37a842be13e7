// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: top functions by self time,
// and self time grouped by package or source folder (fastify, undici, pino, prom-client, hookgate's
// own src/…, node internals, GC, idle).
import { readFileSync } from 'node:fs';

function bucketOf(url, fn) {
  if (!url) {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return '(program: native, outside JS)';
    return `native: ${fn || '(anonymous)'}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const src = /\/dist\/src\/(.+?)\/?[^/]*$/.exec(url);
  if (src) return `hookgate src/${/\/dist\/src\/([^/]+)\//.exec(url)?.[1] ?? url.replace(/.*\/dist\/src\//, '')}`;
  if (/\/dist\/src\/[^/]+$/.test(url)) return `hookgate src/${url.replace(/.*\/dist\/src\//, '')}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url.replace(/^file:\/\/.*\//, '');
}

export function summarize(file, top = 25) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // samples[i] ran for timeDeltas[i] µs (the delta precedes the sample in V8's format: use i+1 when present)
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const buckets = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${cf.lineNumber + 1}` : ''}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    const b = bucketOf(cf.url, cf.functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
  }
  // Node's internals and native calls charged to the nearest caller in a package or in hookgate's
  // source: who caused the time (e.g. writev from undici vs from the HTTP response).
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owners = new Map();
  for (const [id, us] of self) {
    let cur = id;
    let owner = null;
    while (cur !== undefined) {
      const cf = byId.get(cur).callFrame;
      if (cf.url && !cf.url.startsWith('node:')) {
        owner = bucketOf(cf.url, cf.functionName);
        break;
      }
      cur = parent.get(cur);
    }
    const first = byId.get(id).callFrame;
    if (!owner) owner = first.functionName === '(idle)' ? 'idle' : first.functionName === '(garbage collector)' ? 'GC' : 'node core (no package caller)';
    owners.set(owner, (owners.get(owner) ?? 0) + us);
  }
  const idle = buckets.get('idle') ?? 0;
  const busy = total - idle;
  const rank = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total / 1e3,
    busyMs: busy / 1e3,
    functions: rank(fns).filter(([n]) => !n.startsWith('(idle)')).slice(0, top).map(([name, us]) => ({ name, ms: us / 1e3, pctBusy: (100 * us) / busy })),
    buckets: rank(buckets).filter(([b]) => b !== 'idle').map(([name, us]) => ({ name, ms: us / 1e3, pctBusy: (100 * us) / busy })),
    owners: rank(owners).filter(([b]) => b !== 'idle').map(([name, us]) => ({ name, ms: us / 1e3, pctBusy: (100 * us) / busy })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const s = summarize(process.argv[2], Number(process.argv[3] ?? 30));
  console.log(`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled`);
  console.log('\nself time by package / folder:');
  for (const b of s.buckets.slice(0, 25)) console.log(`  ${b.pctBusy.toFixed(1).padStart(5)}%  ${b.name}`);
  console.log('\nself time charged to the nearest package caller:');
  for (const b of s.owners.slice(0, 25)) console.log(`  ${b.pctBusy.toFixed(1).padStart(5)}%  ${b.name}`);
  console.log('\ntop functions by self time:');
  for (const f of s.functions) console.log(`  ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.name}`);
}
