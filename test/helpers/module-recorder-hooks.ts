// The loader-thread half of module-recorder.ts: records the URL every ES import resolves to.
import { appendFileSync } from 'node:fs';

let out = '';

export function initialize(data: { out: string }): void {
  out = data.out;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const r = await next(specifier, context);
  appendFileSync(out, `esm ${r.url}\n`);
  return r;
}
