// The depth scan agrees with the depth of the parsed value on every JSON text, and brackets inside
// strings (escaped quotes included) never count.
import t from 'tap';
import fc from 'fast-check';
import { jsonWithinDepth } from '../../src/providers/json-bounds.js';

function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (v && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

t.test('within max exactly when the parsed value nests at most max levels', async () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 14 }), fc.boolean(), (v, max, pretty) => {
      const text = JSON.stringify(v, null, pretty ? 2 : undefined);
      return jsonWithinDepth(Buffer.from(text), max) === depth(v) <= max;
    }),
    { numRuns: 2000 },
  );
});

t.test('strings with brackets, escapes and non-ASCII', async (t) => {
  const text = JSON.stringify({ a: '[[{{\\"]]', b: ['\u2603"[', '\\'], c: '\ud83d\ude00{' });
  t.ok(jsonWithinDepth(Buffer.from(text), 2));
  t.notOk(jsonWithinDepth(Buffer.from(text), 1));
  t.ok(jsonWithinDepth(Buffer.from('"[[[["'), 0), 'a string alone has no depth');
  t.notOk(jsonWithinDepth(Buffer.from('[[[' + '"unterminated'), 2), 'an unterminated text is judged by the brackets before it');
  t.ok(jsonWithinDepth(Buffer.alloc(0), 1));
});

t.test('escaped quotes and runs of backslashes before a closing quote', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('\\', '"', '[', ']', '{', '}', 'a'), { maxLength: 30 }), fc.integer({ min: 0, max: 4 }), (chars, max) => {
      const v = [chars.join(''), [chars.join('')]];
      return jsonWithinDepth(Buffer.from(JSON.stringify(v)), max) === depth(v) <= max;
    }),
    { numRuns: 3000 },
  );
});
