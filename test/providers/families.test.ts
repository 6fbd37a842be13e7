// A scheme's delivery id is read by the field scanner first and by JSON.parse when the scanner has no
// plain answer: every answer must be the one JSON.parse + jsonPath gives (the key of every delivery).
import t from 'tap';
import { jsonId, jsonIdIfJson } from '../../src/providers/families.js';
import { jsonObject, jsonPath } from '../../src/providers/primitives.js';

const parsed = (body: Buffer, path: string, notJson: null | undefined) => {
  const o = jsonObject(body);
  return o === undefined ? notJson : jsonPath(o, path);
};

const BODIES = [
  '{"id":"evt_1","type":"charge.succeeded"}',
  '{"type":"x","data":{"object":{"id":"ch_1"}},"id":"evt_last"}',
  '{"id":"evt_first","id":"evt_second"}', // given twice: JSON.parse keeps the last
  '{"id":12345678901234567890}',
  '{"id":1e2}',
  '{"id":-0}',
  '{"id":""}',
  '{"id":null}',
  '{"id":true}',
  '{"id":["a"]}',
  '{"id":{"x":"y"}}',
  '["id","evt"]',
  '"evt_1"',
  '42',
  'null',
  '',
  'id=evt_1&type=x',
  '\ufeff{"id":"evt_bom"}',
  '{"id":"evt_1"} trailing',
  '{"id":"evt_1",}',
  '{"i\\u0064":"evt_escaped_key"}',
  '{"id":"evt_\\u00e9\\ud83d\\ude00\\n"}',
  '{"event":{"id":"P1"},"event_id":"ev_2"}',
  `${'['.repeat(70)}${']'.repeat(70)}`,
  `{"deep":${'['.repeat(80)}${']'.repeat(80)},"id":"evt_after_deep"}`,
  '{ "id" : "evt_spaced" ,\r\n "n": 1 }',
];

t.test('jsonId and jsonIdIfJson answer what JSON.parse + jsonPath answer', async (t) => {
  const paths = ['id', 'event.id', 'event_id', 'data.object.id'];
  const wrong: string[] = [];
  const check = (body: Buffer) => {
    for (const path of paths) {
      const a = jsonId(path)(body);
      const b = parsed(body, path, null);
      const c = jsonIdIfJson(path)(body);
      const d = parsed(body, path, undefined);
      if (a !== b || c !== d) wrong.push(`${JSON.stringify(body.toString('latin1'))} at ${path}: ${a}/${b}, ${c}/${d}`);
    }
  };
  for (const text of BODIES) check(Buffer.from(text, 'utf8'));
  // invalid UTF-8 inside the id and beside it
  check(Buffer.concat([Buffer.from('{"id":"evt_'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('"}')]));
  check(Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xfe]), Buffer.from('","id":"evt_ok"}')]));
  // every single-byte change of a realistic event
  const event = Buffer.from(JSON.stringify({ id: 'evt_1Mn', object: 'event', data: { object: { id: 'ch_9', amount: 10.5, note: 'h\u00e9' } }, type: 'charge.succeeded' }));
  for (let i = 0; i < event.length; i++) {
    for (const byte of [0x22, 0x5c, 0x2c, 0x7d, 0x20, 0x31, 0x00, 0xc3]) {
      const b = Buffer.from(event);
      b[i] = byte;
      check(b);
    }
  }
  t.same(wrong, [], `${BODIES.length + 2 + event.length * 8} bodies, four paths each`);
  t.equal(jsonId('id')(Buffer.from(BODIES[2]!)), 'evt_second', 'a key given twice: the last, as JSON.parse');
  t.equal(jsonId('id')(Buffer.from('not json')), null, 'not JSON: malformed');
  t.equal(jsonIdIfJson('event_id')(Buffer.from('payload=x')), undefined, 'a form post has no id');
});
