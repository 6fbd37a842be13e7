// Reads the admin listener's /metrics the way Prometheus does and looks samples up by name and labels.
import { request } from 'undici';

export interface Scrape {
  text: string;
  /** the value of the sample with exactly these labels (order free), or undefined when absent */
  get(name: string, labels?: Record<string, string>): number | undefined;
  /** the sum over every sample of that name whose labels include these */
  sum(name: string, labels?: Record<string, string>): number;
  /** every label set of that name */
  labels(name: string): Record<string, string>[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export async function scrape(adminUrl: string): Promise<Scrape> {
  const res = await request(`${adminUrl}/metrics`);
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  const text = await res.body.text();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const includes = (have: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);
  return {
    text,
    get: (name, want = {}) =>
      samples.find((s) => s.name === name && includes(s.labels, want) && Object.keys(s.labels).length === Object.keys(want).length)?.value,
    sum: (name, want = {}) => samples.filter((s) => s.name === name && includes(s.labels, want)).reduce((a, s) => a + s.value, 0),
    labels: (name) => samples.filter((s) => s.name === name).map((s) => s.labels),
  };
}
