// The bounded field scanner (issue 13): it must read what JSON.parse + jsonPath read, refuse what
// JSON.parse refuses, refuse duplicate keys on the path, and never throw.
import t from 'tap';
import fc from 'fast-check';
import { jsonFieldUnverified, isJsonFieldProblem, type JsonFieldProblem } from '../../src/providers/json-field.js';
import { jsonPath, UNVERIFIED_MAX_DEPTH } from '../../src/providers/primitives.js';

const scan = (text: string | Buffer, path: string) => jsonFieldUnverified(Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'), path);
const problemOf = (v: ReturnType<typeof scan>) => (isJsonFieldProblem(v) ? v.problem : null);
const oracle = (text: string, path: string) => jsonPath(JSON.parse(text), path);

t.test('reads strings and numbers along a dotted path, as jsonPath over JSON.parse does', async (t) => {
  const cases: [string, string][] = [
    ['{"shop_domain":"acme.myshopify.com"}', 'shop_domain'],
    ['{"a":{"b":{"c":"deep"}},"z":1}', 'a.b.c'],
    ['{"a":[{"b":"in an array"}],"b":"x"}', 'a.b'],
    ['{"a":{"b":[1,2]},"c":"x"}', 'a.b'],
    ['{"a":12.5e1}', 'a'],
    ['{"a":-0}', 'a'],
    ['{"a":1E+2}', 'a'],
    ['{"a":1e400}', 'a'],
    ['{"a":""}', 'a'],
    ['{"a":true,"b":null,"c":false}', 'a'],
    ['{"a":{"b":"x"}}', 'a'],
    ['["a"]', 'a'],
    ['"a"', 'a'],
    ['{}', 'a'],
    ['{"a":"x"}', 'a.b'],
    [' \t\r\n{ "a" : { "b" : "spaced" } } \n', 'a.b'],
    ['{"":"empty key"}', ''],
    ['{"toString":"own"}', 'toString'],
    ['{"__proto__":"own proto"}', '__proto__'],
    ['{"a":"x"}', 'constructor'],
  ];
  for (const [text, path] of cases) t.equal(scan(text, path), oracle(text, path), `${text} at ${path}`);
});

t.test('decodes escapes in the value: short ones, \\uXXXX, surrogate pairs, UTF-8 between them', async (t) => {
  t.equal(scan('{"a":"x\\"y\\\\z\\/\\b\\f\\n\\r\\t"}', 'a'), 'x"y\\z/\b\f\n\r\t');
  t.equal(scan('{"a":"caf\\u00e9 \\ud83d\\ude00 \\u20AC"}', 'a'), 'café 😀 €');
  t.equal(scan('{"a":"é😀\\n€"}', 'a'), 'é😀\n€');
  t.equal(scan('{"a":"\\ud800"}', 'a'), '\ud800', 'a lone surrogate, as JSON.parse gives it');
  t.equal(scan('{"a":"\\ud83d" }', 'a'), JSON.parse('{"a":"\\ud83d"}').a);
});

t.test('compares keys after decoding them', async (t) => {
  t.equal(scan('{"shop\\u005fdomain":"acme"}', 'shop_domain'), 'acme', 'an escaped underscore');
  t.equal(scan('{"\\u0073\\u0068\\u006F\\u0070_domain":"acme"}', 'shop_domain'), 'acme', 'upper- and lowercase hex');
  t.equal(scan('{"caf\\u00e9":"x"}', 'café'), 'x');
  t.equal(scan('{"café":"x"}', 'caf\\u00e9'), undefined, 'the path is not JSON: it is not decoded');
  t.equal(scan('{"\\ud83d\\ude00":"x"}', '😀'), 'x', 'a surrogate pair escaped');
  t.equal(scan('{"😀":"x"}', '😀'), 'x', 'a 4-byte UTF-8 key');
  t.equal(scan('{"a\\"b":"x"}', 'a"b'), 'x');
  t.equal(scan('{"shop_domai":"no","shop_domainx":"no","shop_domain":"yes"}', 'shop_domain'), 'yes', 'prefixes and extensions differ');
  t.equal(scan(Buffer.from([...Buffer.from('{"a'), 0xff, ...Buffer.from('":"x","a":"y"}')]), 'a'), 'y', 'a key with a byte that is not UTF-8 differs from the path');
  t.equal(problemOf(scan(Buffer.from([...Buffer.from('{"a'), 0xff, ...Buffer.from('":"x"}')]), 'a\ufffd')), 'utf8', 'unless the path holds U+FFFD, which the decoder would put there');
});

t.test('refuses a key of the path given twice in one object on the path', async (t) => {
  const dup = (text: string, path: string, why: string) => {
    const v = scan(text, path);
    t.equal(problemOf(v), 'duplicate', why);
    t.match((v as JsonFieldProblem).message, /twice/);
  };
  dup('{"shop_domain":"acme","shop_domain":"globex"}', 'shop_domain', 'the same spelling');
  dup('{"shop_domain":"acme","shop\\u005fdomain":"globex"}', 'shop_domain', 'an escaped spelling of the same key');
  dup('{"shop_domain":"acme","shop_domain":"acme"}', 'shop_domain', 'even with the same value');
  dup('{"a":{"b":"x"},"a":{"b":"y"}}', 'a.b', 'an intermediate key');
  dup('{"a":1,"a":{"b":"y"}}', 'a.b', 'an intermediate key whose first value is no object');
  dup('{"a":{"b":"x","b":"y"}}', 'a.b', 'at the second level');
  t.equal(scan('{"x":{"a":1,"a":2},"a":"ok"}', 'a'), 'ok', 'duplicates off the path are JSON.parse’s business');
  t.equal(scan('{"a":{"c":1,"c":2,"b":"ok"}}', 'a.b'), 'ok', 'duplicates of other keys on the path too');
});

t.test('refuses what JSON.parse refuses', async (t) => {
  const bad = ['', ' ', '{', '{"a"', '{"a":', '{"a":"x"', '{"a":"x",}', '{"a" "x"}', '{,"a":1}', '{"a":1}}', '{"a":1} x', '[1,]', '[1 2]', '{a:1}', "{'a':1}",
    '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":-}', '{"a":1e}', '{"a":+1}', '{"a":tru}', '{"a":nul}', '{"a":True}', '{"a":NaN}', '{"a":"\\x"}', '{"a":"\\u12"}',
    '{"a":"\\u12g4"}', '{"a":"tab\there"}', '{"a":"nl\nhere"}', '\ufeff{"a":1}', '{"a":1}\u00a0', '{"a\\q":1}', '{"a\u0001":1}', '[', ']', '}', 'x'];
  for (const text of bad) {
    t.throws(() => JSON.parse(text), `${JSON.stringify(text)}: JSON.parse throws`);
    t.equal(problemOf(scan(text, 'a')), 'syntax', `${JSON.stringify(text)}: refused`);
  }
  const v = scan('{"a":"x" , "b": tru }', 'a') as JsonFieldProblem;
  t.equal(v.at, 16, 'names where it stopped');
  t.match(v.message, /not JSON \(at byte 16\)/);
});

t.test('refuses nesting deeper than the bound, and stops there', async (t) => {
  const nest = (d: number) => '{"a":'.repeat(d) + '"x"' + '}'.repeat(d);
  t.equal(scan(nest(UNVERIFIED_MAX_DEPTH), 'a'), undefined, 'at the bound: read (the path is shorter)');
  t.equal(scan(nest(3), 'a.a.a'), 'x');
  t.equal(problemOf(scan(nest(UNVERIFIED_MAX_DEPTH + 1), 'a')), 'depth');
  const arrays = Buffer.from('['.repeat(500_000) + ']'.repeat(500_000));
  const v = scan(arrays, 'a') as JsonFieldProblem;
  t.equal(v.problem, 'depth');
  t.equal(v.at, UNVERIFIED_MAX_DEPTH, 'stops at the first bracket over the bound');
  t.equal(problemOf(jsonFieldUnverified(Buffer.from(nest(3)), 'a', 2)), 'depth', 'a smaller bound');
  t.equal(jsonFieldUnverified(Buffer.from(nest(100)), 'a.a', 200), undefined, 'a larger bound than the default');
});

t.test('reads the field wherever it is in a large flat body', async (t) => {
  const flat = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i % 3 ? i : `s${i}"\\`]));
  t.equal(scan(JSON.stringify({ shop_domain: 'first', ...flat }), 'shop_domain'), 'first');
  t.equal(scan(JSON.stringify({ ...flat, shop_domain: 'last' }), 'shop_domain'), 'last');
  t.equal(problemOf(scan(JSON.stringify({ shop_domain: 'first', ...flat }).slice(0, -1), 'shop_domain')), 'syntax', 'found early, but the body must still be whole JSON');
});

// ---- properties ----

// A JSON document as the scanner sees it: objects are lists of members, so keys may repeat.
type Doc = string | number | boolean | null | Doc[] | { members: [string, Doc][] };

const keyArb = fc.oneof(
  fc.constantFrom('a', 'b', 'shop_domain', 'é', '😀', '', 'a"b', '\\', '\u0000', '\ud800', '\u2028', 'a.b'),
  fc.string({ maxLength: 4 }),
  fc.string({ unit: 'binary', maxLength: 3 }),
);
const docArb: fc.Arbitrary<Doc> = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(keyArb, fc.string({ unit: 'binary', maxLength: 6 })),
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    fc.constantFrom(true, false, null),
    fc.array(tie('doc'), { maxLength: 4 }),
    fc.array(fc.tuple(keyArb, tie('doc')), { maxLength: 5 }).map((members) => ({ members })),
  ),
})).doc;
// webhook bodies are objects: most runs start from one
const rootArb: fc.Arbitrary<Doc> = fc.oneof(
  { arbitrary: fc.array(fc.tuple(keyArb, docArb), { minLength: 1, maxLength: 6 }).map((members) => ({ members })), weight: 4 },
  { arbitrary: docArb, weight: 1 },
);
const pathArb = fc.array(fc.oneof(fc.constantFrom('a', 'b', 'shop_domain', 'é', '😀', '', 'a"b', '\\', '\u0000', '\ud800'), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));

/** Serialises with random whitespace, random escapes and random number spellings, from `seed`. */
function serialise(doc: Doc, seed: number): string {
  let s = seed >>> 0 || 1;
  const rnd = (k: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % k;
  const ws = () => [' ', '\t', '\n', '\r', '', '', '', ''][rnd(8)]!.repeat(rnd(2) + 1);
  const hex = (u: number) => {
    const h = u.toString(16).padStart(4, '0');
    return '\\u' + (rnd(2) ? h : h.toUpperCase());
  };
  const str = (v: string) => {
    let out = '"';
    for (let i = 0; i < v.length; i++) {
      const u = v.charCodeAt(i);
      const short: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x2f: '\\/' };
      const hi = u >= 0xd800 && u <= 0xdbff && i + 1 < v.length && v.charCodeAt(i + 1) >= 0xdc00 && v.charCodeAt(i + 1) <= 0xdfff;
      if (hi) {
        const pair = rnd(3);
        out += pair === 0 ? hex(u) + hex(v.charCodeAt(i + 1)) : v.slice(i, i + 2);
        i++;
      } else if (u >= 0xd800 && u <= 0xdfff) out += hex(u); // a lone surrogate has no UTF-8 spelling
      else if (u < 0x20 || u === 0x22 || u === 0x5c) out += short[u] && rnd(2) ? short[u] : hex(u);
      else if (rnd(6) === 0) out += short[u] && rnd(2) ? short[u] : hex(u);
      else out += v[i];
    }
    return out + '"';
  };
  const num = (v: number) => {
    const j = JSON.stringify(v);
    if (!Number.isInteger(v) || /e/i.test(j)) return j;
    return [j, `${j}.0`, `${j}e0`, `${j}E+0`, v === 0 ? '0e-1' : `${j}0e-1`][rnd(5)]!;
  };
  const go = (d: Doc): string => {
    if (typeof d === 'string') return str(d);
    if (typeof d === 'number') return num(d);
    if (typeof d === 'boolean' || d === null) return String(d);
    if (Array.isArray(d)) return '[' + ws() + d.map((x) => go(x) + ws()).join(',' + ws()) + ']';
    return '{' + ws() + d.members.map(([k, v]) => str(k) + ws() + ':' + ws() + go(v) + ws()).join(',' + ws()) + '}';
  };
  return ws() + go(doc) + ws();
}

/** What the scanner must answer by its rules: 'duplicate' when a path key repeats, else jsonPath's answer. */
function expected(doc: Doc, path: string): string | undefined | 'duplicate' {
  let cur: Doc = doc;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    const hits: Doc[] = cur.members.filter(([k]) => k === seg).map(([, v]) => v);
    if (hits.length > 1) return 'duplicate';
    if (hits.length === 0) return undefined;
    cur = hits[0]!;
  }
  if (typeof cur === 'string' && cur !== '') return cur;
  if (typeof cur === 'number' && Number.isFinite(cur)) return String(cur);
  return undefined;
}

t.test('property: agrees with JSON.parse + jsonPath wherever the path is unambiguous, refuses it where not', async (t) => {
  let dups = 0;
  let found = 0;
  fc.assert(
    fc.property(rootArb, pathArb, fc.integer(), (doc, path, seed) => {
      const text = serialise(doc, seed);
      const want = expected(doc, path);
      const got = scan(text, path);
      if (want === 'duplicate') {
        dups++;
        return problemOf(got) === 'duplicate';
      }
      if (want !== undefined) found++;
      return got === want && got === oracle(text, path);
    }),
    { numRuns: 3000 },
  );
  // paths made of the keys of the document itself, so that most runs find something
  fc.assert(
    fc.property(rootArb, fc.integer(), fc.nat(), (doc, seed, pick) => {
      const keys: string[] = [];
      let cur: Doc = doc;
      while (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && cur.members.length) {
        const [k, v]: [string, Doc] = cur.members[pick % cur.members.length]!;
        if (k.includes('.')) break;
        keys.push(k);
        cur = v;
      }
      if (!keys.length) return true;
      const path = keys.join('.');
      const text = serialise(doc, seed);
      const want = expected(doc, path);
      const got = scan(text, path);
      if (want === 'duplicate') return dups++, problemOf(got) === 'duplicate';
      if (want !== undefined) found++;
      return got === want && got === oracle(text, path);
    }),
    { numRuns: 3000 },
  );
  t.ok(dups > 50, `duplicates were exercised (${dups})`);
  t.ok(found > 500, `values were found (${found})`);
});

t.test('property: refuses whatever JSON.parse refuses, reads what it reads, never throws, on mangled bytes', async (t) => {
  let refused = 0;
  fc.assert(
    fc.property(
      rootArb,
      fc.integer(),
      fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 3 }),
      pathArb,
      (doc, seed, edits, path) => {
        const bytes = [...Buffer.from(serialise(doc, seed), 'utf8')];
        for (const [at, byte, op] of edits) {
          const i = bytes.length ? at % bytes.length : 0;
          if (op === 'set' && bytes.length) bytes[i] = byte;
          else if (op === 'insert') bytes.splice(i, 0, byte);
          else bytes.splice(i, 1);
        }
        const buf = Buffer.from(bytes);
        let parsed: unknown;
        let parses = true;
        try {
          parsed = JSON.parse(buf.toString('utf8'));
        } catch {
          parses = false;
        }
        const got = jsonFieldUnverified(buf, path); // a throw fails the property
        // refused; usually as syntax, but a duplicate path key met before the broken byte stops it first
        if (!parses) return refused++, isJsonFieldProblem(got);
        if (problemOf(got) === 'syntax') return false;
        // parsed: either the same answer, or a refusal by the scanner's own rules
        return !isJsonFieldProblem(got) ? got === jsonPath(parsed, path) : got.problem === 'duplicate' || got.problem === 'utf8';
      },
    ),
    { numRuns: 5000 },
  );
  t.ok(refused > 1000, `broken bodies were exercised (${refused})`);
});

t.test('property: arbitrary bytes never make it throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), pathArb, (bytes, path) => {
      jsonFieldUnverified(Buffer.from(bytes), path);
    }),
    { numRuns: 5000 },
  );
  t.pass();
});
