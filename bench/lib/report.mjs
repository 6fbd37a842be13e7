// Statistics, the machine description, and docs/benchmarks.md: each scenario owns one section between
// markers and rewrites only that section, so scenarios can be run separately.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, availableParallelism, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { launchLine } from './candidates.mjs';

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmt = {
  int: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–'),
  ms: (x) => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : '–'),
  us: (x) => (Number.isFinite(x) ? `${x.toFixed(1)} µs` : '–'),
  ratio: (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–'),
  mb: (x) => (Number.isFinite(x) ? `${(x / 1048576).toFixed(1)} MB` : '–'),
  load: (l) => l.map((x) => x.toFixed(2)).join(' / '),
};

export function machine() {
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {}
  return {
    cpus: availableParallelism(),
    model: cpus()[0]?.model ?? 'unknown',
    memory: totalmem(),
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: dirty ? `${commit} (with uncommitted changes under src/)` : commit,
    load: loadavg(),
  };
}

export function machineLine(m) {
  return `${m.cpus} CPUs (\`nproc\`), ${m.model}, ${fmt.mb(m.memory)} RAM, Node ${m.node}, ${m.commit.startsWith('gateway') ? m.commit : `commit ${m.commit}`}, ${m.date}; load average before the run ${fmt.load(m.load)}; ${launchLine()}, the other candidates on their own defaults`;
}

export function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const HEAD = `# Benchmarks

Written by the scripts in \`bench/\` (see \`bench/README.md\`); each section is rewritten by its own
script and names the command, the machine and the load average it ran under. Ratios are measured side
by side in one run (candidates interleaved, medians of the rounds); absolute numbers drift with the
machine. On a shared 2-core machine every process (load generator, upstream, candidate) competes for
the same cores: compare ratios, and the CPU time per request, which is steadier than throughput.
`;

export function writeSection(file, id, markdown) {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : HEAD;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) doc = doc.slice(0, a) + block + doc.slice(b + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, doc);
}
