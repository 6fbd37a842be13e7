// The small languages of the config file: durations (500ms, 30s, 5m, 72h, 7d), sizes (64kb, 1mb),
// rates (100/s). The schema has already checked the shapes; these turn them into numbers.
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const SIZE_BYTES = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as const;

export function parseDuration(s: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(s);
  if (!m) throw new Error(`expected a duration like 500ms, 30s, 5m, 72h or 7d, got "${s}"`);
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

export function parseSize(s: string): number {
  const m = /^([0-9]+)(b|kb|mb|gb)?$/.exec(s);
  if (!m) throw new Error(`expected a size like 64kb or 1mb, got "${s}"`);
  return Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b') as keyof typeof SIZE_BYTES];
}

export interface Rate {
  max: number;
  windowMs: number;
  /** as written, for logs and check's output */
  text: string;
}

export function parseRate(s: string): Rate {
  const m = /^([0-9]+)\/(s|m|h)$/.exec(s);
  if (!m) throw new Error(`expected a rate like 100/s, 10/m or 5/h, got "${s}"`);
  const max = Number(m[1]);
  if (max < 1) throw new Error(`expected a rate of at least 1, got "${s}"`);
  return { max, windowMs: DURATION_MS[m[2] as 's' | 'm' | 'h'], text: s };
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):([0-9]{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`expected HOST:PORT like 0.0.0.0:8080, got "${s}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** `completeOn` entries: `2xx` classes or exact statuses. */
export function statusMatcher(list: readonly string[]): (status: number) => boolean {
  const classes = new Set<number>();
  const exact = new Set<number>();
  for (const e of list) {
    if (e.endsWith('xx')) classes.add(Number(e[0]));
    else exact.add(Number(e));
  }
  // 408 and 429 always release: the upstream asked for the retry (CONTRACT.md, completeOn).
  return (status) => status !== 408 && status !== 429 && (exact.has(status) || classes.has(Math.floor(status / 100)));
}

/** A route's tolerance when neither the route nor its provider (ProviderInfo.tolerance) names one. */
export const DEFAULT_TOLERANCE = '5m';
