// `hookgate sign`: the headers of a valid delivery of a body, for testing a handler behind hookgate.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { getScheme, PROVIDER_NAMES } from '../providers/index.js';
import type { Io } from './main.js';

export interface SignArgs {
  provider?: string;
  secret?: string;
  body?: string;
  url?: string;
  timestamp?: string;
  id?: string;
  method?: string;
  curl?: string;
}

/** POSIX shell single-quoting. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function signCommand(a: SignArgs, io: Io): Promise<number> {
  const scheme = a.provider ? getScheme(a.provider) : undefined;
  if (!scheme) {
    io.err(`hookgate sign: --provider must be one of ${PROVIDER_NAMES.join(', ')}\n`);
    return 2;
  }
  if (!a.secret) {
    io.err(`hookgate sign: --secret is required${scheme.asymmetric ? ' (for this provider: a PEM private key, or @FILE to read one)' : ''}\n`);
    return 2;
  }
  if (a.provider === 'generic') {
    io.err('hookgate sign: generic routes are configured per route; sign with the route\'s algorithm yourself\n');
    return 2;
  }
  if (a.timestamp !== undefined && !/^\d{1,12}$/.test(a.timestamp)) {
    io.err('hookgate sign: --timestamp must be unix seconds\n');
    return 2;
  }
  let secret = a.secret;
  let body: Buffer;
  try {
    if (secret.startsWith('@')) secret = readFileSync(secret.slice(1), 'utf8');
    body = a.body === undefined ? Buffer.alloc(0) : a.body === '-' ? await io.stdin() : readFileSync(a.body);
  } catch (err) {
    io.err(`hookgate sign: ${(err as Error).message}\n`);
    return 2;
  }
  const target = a.curl ?? a.url ?? 'https://hooks.example.com/webhook';
  const input = {
    secret,
    body,
    url: a.url ?? target,
    method: (a.method ?? 'POST').toUpperCase(),
    timestamp: a.timestamp === undefined ? Math.floor(Date.now() / 1000) : Number(a.timestamp),
    id: a.id ?? `msg_${randomUUID().replace(/-/g, '')}`,
  };
  let headers: Record<string, string>;
  try {
    if (scheme.signBody) body = scheme.signBody(input);
    headers = scheme.sign({ ...input, body });
  } catch (err) {
    io.err(`hookgate sign: ${(err as Error).message}\n`);
    return 2;
  }
  if (a.curl) {
    const parts = ['curl', '-sS', '-X', input.method, sq(a.curl)];
    for (const [k, v] of Object.entries(headers)) parts.push('-H', sq(`${k}: ${v}`));
    if (body.length) parts.push('--data-binary', a.body && a.body !== '-' && !scheme.signBody ? sq(`@${a.body}`) : sq(body.toString('utf8')));
    io.out(parts.join(' ') + '\n');
    return 0;
  }
  for (const [k, v] of Object.entries(headers)) io.out(`${k}: ${v}\n`);
  if (scheme.signBody) io.out(`\n${body.toString('utf8')}\n`);
  return 0;
}
