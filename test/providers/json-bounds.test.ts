import t from 'tap';
import { formPairsOver, jsonShapeProblem, jsonWithinDepth } from '../../src/providers/json-bounds.js';

const b = (s: string) => Buffer.from(s);

t.test('jsonWithinDepth counts nesting of arrays and objects', async (t) => {
  t.ok(jsonWithinDepth(b(''), 0));
  t.ok(jsonWithinDepth(b('1'), 0));
  t.notOk(jsonWithinDepth(b('{}'), 0));
  t.ok(jsonWithinDepth(b('{}'), 1));
  t.ok(jsonWithinDepth(b('{"a":[1,{"b":2}],"c":[]}'), 3));
  t.notOk(jsonWithinDepth(b('{"a":[1,{"b":[2]}]}'), 3));
  t.ok(jsonWithinDepth(b('[[1],[2],[3],[4]]'), 2), 'siblings do not add up');
  t.notOk(jsonWithinDepth(b('['.repeat(1e6)), 64), 'stops at the first bracket over the limit');
});

t.test('brackets inside strings, escapes and UTF-8 do not count', async (t) => {
  t.ok(jsonWithinDepth(b('{"a":"[[[[{{{{"}'), 1));
  t.ok(jsonWithinDepth(b('{"a":"\\"[[[[","b":"\\\\"}'), 1), 'escaped quote inside, escaped backslash at the end');
  t.notOk(jsonWithinDepth(b('{"a":"\\\\",[[]]}'), 2), 'a string ending in an escaped backslash ends there');
  t.ok(jsonWithinDepth(b('{"é[":"😀]["}'), 1));
  t.ok(jsonWithinDepth(b('{"a":"[[[[ unterminated'), 1));
});

t.test('agrees with JSON.parse on the depth of generated documents', async (t) => {
  const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const gen = (d: number): unknown => {
    if (d === 0 || rnd(4) === 0) return ['x"[{', '\\]', 1, null, 'é'][rnd(5)];
    return rnd(2) ? Array.from({ length: rnd(3) + 1 }, () => gen(d - 1)) : Object.fromEntries(Array.from({ length: rnd(3) + 1 }, (_, i) => [`k${i}[`, gen(d - 1)]));
  };
  for (let i = 0; i < 200; i++) {
    const doc = gen(8);
    const text = b(JSON.stringify(doc));
    const depth = depthOf(doc);
    if (!jsonWithinDepth(text, depth) || (depth > 0 && jsonWithinDepth(text, depth - 1))) t.fail(`depth ${depth} misjudged: ${text}`);
  }
  t.pass('200 documents');
});

t.test('formPairsOver counts pairs up to the limit', async (t) => {
  t.notOk(formPairsOver(b(''), 0));
  t.notOk(formPairsOver(b('a=1'), 1));
  t.ok(formPairsOver(b('a=1&b=2'), 1));
  t.notOk(formPairsOver(b('a=1&b=2&c'), 3));
  t.ok(formPairsOver(b('&&&'), 3), 'empty pairs count');
});

t.test('jsonShapeProblem counts commas outside strings as items', async (t) => {
  t.equal(jsonShapeProblem(b('{"a":1,"b":[1,2,3]}'), 2, 3), null);
  t.equal(jsonShapeProblem(b('{"a":1,"b":[1,2,3,4]}'), 2, 3), 'items');
  t.equal(jsonShapeProblem(b('{"a":",,,,,,"}'), 2, 0), null, 'commas inside strings do not count');
  t.equal(jsonShapeProblem(b('[[[1,2]]]'), 2, 0), 'depth', 'the first bound broken is the one named');
  t.equal(jsonShapeProblem(b('[1,2,[[[]]]]'), 2, 0), 'items');
});
