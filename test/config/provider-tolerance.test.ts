// A route without `tolerance` takes the window its provider's SDK allows where the preset names one
// (Box: 10 minutes, box-node-sdk's validateMessage maxAge), else 5m; a route's own tolerance wins either
// way. Deliveries signed with box-node-sdk's computeWebhookSignature, sent through a running gateway.
import t from 'tap';
import { request } from 'undici';
import { computeWebhookSignature } from 'box-node-sdk/lib/internal/utilsNode';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

const PRIMARY = 'box_primary_key_tolerance';
const BODY = '{"type":"webhook_event","trigger":"FILE.UPLOADED","source":{"id":"1","type":"file"}}';

/** A Box delivery whose timestamp is `ageMs` old, as Box writes it (RFC 3339, whole seconds). */
async function boxDelivery(ageMs: number): Promise<Record<string, string>> {
  const ts = new Date(Math.floor((Date.now() - ageMs) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const headers: Record<string, string> = { 'content-type': 'application/json', 'box-delivery-id': `dlv_${ageMs}`, 'box-delivery-timestamp': ts, 'box-signature-version': '1', 'box-signature-algorithm': 'HmacSHA256' };
  headers['box-signature-primary'] = (await computeWebhookSignature(BODY, headers, PRIMARY))!;
  return headers;
}

t.test("box: a route without tolerance holds deliveries to Box's 10 minutes; a route's own tolerance wins", async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const routes = [
    { path: '/box', provider: 'box', secrets: ['env:BOX'] },
    { path: '/box-5m', provider: 'box', secrets: ['env:BOX'], tolerance: '5m' },
    { path: '/box-15m', provider: 'box', secrets: ['env:BOX'], tolerance: '15m' },
  ];
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes }, { BOX: PRIMARY }));
  t.teardown(() => gw.close());
  const send = async (path: string, ageMin: number) => {
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: await boxDelivery(ageMin * 60_000), body: BODY });
    await res.body.dump();
    return `${res.statusCode} ${res.headers['hookgate-outcome']}`;
  };
  t.match(await send('/box', 9), /^200 /, '9 minutes old: inside the default window');
  t.equal(await send('/box', 11), '401 timestamp_out_of_tolerance', '11 minutes old: outside it');
  t.equal(await send('/box-5m', 9), '401 timestamp_out_of_tolerance', 'tolerance: 5m on the route wins over the 10 minutes');
  t.match(await send('/box-15m', 11), /^200 /, 'tolerance: 15m on the route wins too');
});

t.test('a provider without a window of its own keeps the default 5m', async (t) => {
  const config = testConfig({ upstream: { url: 'http://127.0.0.1:9' }, routes: [{ path: '/s', provider: 'stripe', secrets: ['whsec_x'] }, { path: '/b', provider: 'box', secrets: ['x'] }, { path: '/c', provider: 'cloudinary', secrets: ['x'] }, { path: '/e', provider: 'elevenlabs', secrets: ['x'] }] });
  t.same(config.routes.map((r) => r.options.toleranceMs / 60_000), [5, 10, 120, 30], 'stripe 5m, box 10m, cloudinary 2h, elevenlabs 30m');
});
