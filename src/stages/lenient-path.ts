// What a lenient router makes of a path, and whether that is a route's path. Pure.
//
// With `upstream.unmatched: forward`, a request that misses every route reaches the upstream
// unverified. The upstream's router is often more forgiving than hookgate's exact match: Django
// (APPEND_SLASH) adds a slash, Express ignores case and a trailing slash, Spring drops `;params`
// and (before 5.3) `.suffix`, WSGI servers percent-decode the whole path (`%2F` too), Tomcat reads
// `..;` as `..`, IIS strips trailing dots and reads `\` as `/`, proxies resolve dot segments
// (RFC 3986 §5.2.4). A pass-through whose path reduces to a route's path would reach that route's
// handler without a signature check, so it is refused. The reduction here is deliberately the
// union of those rules: it only needs to be at least as lenient as any router behind hookgate.

/** Percent-decoding rounds: a router that decodes twice still sees `%252e` as `.`. */
const DECODE_ROUNDS = 3;

/**
 * One round of `%XX` decoding over a byte string (one char a byte, as Node hands over a request
 * target); an incomplete or non-hex escape stays as it is.
 */
function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 37 /* % */ && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

export interface LenientPath {
  /** the segments a lenient router sees, lower-case, without empty, `.` and `..` segments */
  readonly segments: string[];
  /** a `..` tried to climb above the root (out of an upstream base path, for instance) */
  readonly climbs: boolean;
}

/**
 * The path part of a request target (before `?` or `#`) as a lenient router reads it. `target` is a
 * byte string, as Node's `request.url` is (latin1: raw UTF-8 arrives as one char a byte); the bytes,
 * raw or percent-encoded, are read as UTF-8 (lossy) once decoded.
 */
export function lenientPath(target: string): LenientPath {
  let path = target;
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  for (let i = 0; i < DECODE_ROUNDS; i++) {
    const next = percentDecode(path);
    if (next === path) break;
    path = next;
  }
  path = Buffer.from(path, 'latin1').toString('utf8');
  // C string handling behind a router ends the path at NUL.
  const nul = path.indexOf('\0');
  if (nul >= 0) path = path.slice(0, nul);
  path = path.replace(/\\/g, '/').normalize('NFKC').toLowerCase();
  const segments: string[] = [];
  let climbs = false;
  for (const raw of path.split('/')) {
    // `;` starts a path parameter (RFC 3986 §3.3; Spring, Tomcat's `..;`): gone before dot handling.
    const semi = raw.indexOf(';');
    let seg = (semi < 0 ? raw : raw.slice(0, semi)).trim();
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (segments.length) segments.pop();
      else climbs = true;
      continue;
    }
    // Windows-style servers drop trailing dots and spaces of a name.
    seg = seg.replace(/[. ]+$/, '');
    if (seg !== '') segments.push(seg);
  }
  return { segments, climbs };
}

/** One segment of a route pattern: a literal, or null for a `:param` segment (any one segment). */
type PatternSegment = string | null;
/** A trailing `*` (find-my-way's wildcard) matches the rest, one segment or more. */
interface Pattern {
  segments: PatternSegment[];
  rest: boolean;
}

const PARAM = /:[A-Za-z_]/;

export function compilePattern(path: string): Pattern {
  const parts = path.split('/');
  let rest = false;
  if (parts.at(-1) === '*') {
    parts.pop();
    rest = true;
  }
  // Parameter segments become a placeholder that survives the reduction, then null.
  const marker = '\u{10FFFF}param';
  // A configured path is text: its bytes (UTF-8) are what a request for it carries.
  const bytes = Buffer.from(parts.map((p) => (PARAM.test(p) ? marker : p)).join('/'), 'utf8').toString('latin1');
  const reduced = lenientPath(bytes).segments;
  return { segments: reduced.map((s) => (s === marker ? null : s)), rest };
}

function matches(p: Pattern, segs: readonly string[]): boolean {
  if (p.rest ? segs.length <= p.segments.length : segs.length !== p.segments.length) return false;
  for (let i = 0; i < p.segments.length; i++) {
    const want = p.segments[i];
    if (want === null) continue;
    const got = segs[i]!;
    if (got === want) continue;
    // Spring's suffix pattern match: `/webhooks/github.json` is `/webhooks/github`.
    if (i === segs.length - 1 && got.startsWith(want + '.')) continue;
    return false;
  }
  return true;
}

/**
 * A test for "these segments (lenientPath's) are, to a lenient router, one of these paths". Patterns are route
 * paths (with `:params`) and `forwardTo` targets, without the upstream's base path (the request's
 * target gets the same base, so the comparison holds for any base).
 */
export function lenientMatcher(patterns: readonly string[]): (segments: readonly string[]) => boolean {
  const compiled = patterns.map(compilePattern);
  return (segments) => compiled.some((p) => matches(p, segments));
}
