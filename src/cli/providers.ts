// `hookgate providers [--json]`: every provider of the registry with its family, signature headers, id
// source, default tolerance and documentation (CONTRACT.md, Command line). The same data generates
// docs/providers.md (scripts/docs-providers.mjs).
import { PROVIDER_NAMES, getScheme } from '../providers/index.js';
import type { ProviderInfo } from '../providers/types.js';
import type { Io } from './main.js';

import { DEFAULT_TOLERANCE } from '../config/units.js';

export { DEFAULT_TOLERANCE };

export interface ProviderListing {
  name: string;
  family: string;
  docs: string;
  aliases?: readonly string[];
  headers: readonly string[];
  signed: string;
  timestamp: string | null;
  /** the route's default tolerance where a timestamp is signed (the provider's own window, else 5m), else null (nothing bounds a replay but the ledger's retention) */
  tolerance: string | null;
  id: string;
  secret: ProviderInfo['secret'];
  notes?: readonly string[];
}

export function providerListing(): ProviderListing[] {
  return PROVIDER_NAMES.map((name) => {
    const s = getScheme(name)!;
    const i: ProviderInfo = s.info ?? { family: 'unknown', docs: '', headers: s.signedHeaders.length ? s.signedHeaders : ['?'], signed: '?', timestamp: null, id: 'digest', secret: 'utf8' };
    return {
      name,
      family: i.family,
      docs: i.docs,
      ...(i.aliases?.length ? { aliases: i.aliases } : {}),
      headers: i.headers,
      signed: i.signed,
      timestamp: i.timestamp,
      tolerance: i.timestamp ? (i.tolerance ?? DEFAULT_TOLERANCE) : null,
      id: i.id,
      secret: i.secret,
      ...(i.notes?.length ? { notes: i.notes } : {}),
    };
  });
}

export function providersCommand(json: boolean, io: Io): number {
  const list = providerListing();
  if (json) {
    io.out(JSON.stringify(list, null, 2) + '\n');
    return 0;
  }
  // numbered headers (DocuSign's -1 … -10) would make the column as wide as the screen: the first two and a count
  const headers = (h: readonly string[]) => (h.length > 2 ? `${h[0]}, ${h[1]}, … (${h.length})` : h.join(', '));
  const rows = list.map((p) => [p.name + (p.aliases ? ` (${p.aliases.join(', ')})` : ''), p.family, headers(p.headers), p.id, p.tolerance ?? '-', p.docs]);
  const head = ['NAME', 'FAMILY', 'SIGNATURE HEADERS', 'ID', 'TOLERANCE', 'DOCS'];
  const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(width[c]!))).join('  ') + '\n';
  io.out(line(head));
  for (const r of rows) io.out(line(r));
  io.out(`${list.length} providers\n`);
  return 0;
}
