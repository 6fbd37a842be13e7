// The chart's values.schema.json describes hookgate.config with the gateway's own config schema
// (src/config/schema.ts), so a typo inside the config fails `helm install` instead of a pod
// crash-looping. This test keeps the two in step. After a change to the config schema:
//   npx tsc -p . ; HOOKGATE_UPDATE_CHART_SCHEMA=1 node dist/test/packaging/chart-schema.test.js
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema } from '../../src/config/schema.js';
import { chartDir } from '../helpers/helm.js';

type Json = { [k: string]: unknown };

/** The gateway's config schema, as the chart accepts it in hookgate.config. */
export function chartConfigSchema(schema: unknown): Json {
  const copy = JSON.parse(JSON.stringify(schema)) as Json; // plain JSON: drops TypeBox's symbols
  const strip = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(strip); return; }
    if (!node || typeof node !== 'object') return;
    // Values are partial: the gateway fills in its defaults, so nothing is required here ...
    delete (node as Json).required;
    Object.values(node).forEach(strip);
  };
  strip(copy);
  const props = copy.properties as Record<string, Json>;
  // ... but a route still needs these three.
  const route = (props.routes as Json).items as Json;
  route.required = ['path', 'provider', 'secrets'];
  // The chart's defaults carry no routes yet (NOTES.txt warns); the gateway demands at least one.
  delete (props.routes as Json).minItems;
  // The chart writes these two from hookgate.port / hookgate.adminPort (and fails if set).
  for (const key of ['listen', 'admin']) props[key] = { type: 'string', description: 'set by the chart from hookgate.port / hookgate.adminPort; leave unset' };
  return { description: "hookgate's YAML (generated from src/config/schema.ts; see test/packaging/chart-schema.test.ts)", ...copy };
}

const file = join(chartDir, 'values.schema.json');

t.test('values.schema.json describes hookgate.config exactly as the gateway\'s config schema does', async (t) => {
  const values = JSON.parse(readFileSync(file, 'utf8'));
  const expected = chartConfigSchema(ConfigSchema);
  if (process.env.HOOKGATE_UPDATE_CHART_SCHEMA) {
    values.properties.hookgate.properties.config = expected;
    writeFileSync(file, JSON.stringify(values, null, 2) + '\n');
    t.comment('values.schema.json updated');
  }
  t.same(values.properties.hookgate.properties.config, expected,
    'out of step: run `HOOKGATE_UPDATE_CHART_SCHEMA=1 node dist/test/packaging/chart-schema.test.js`');
  t.equal(values.properties.hookgate.properties.config.additionalProperties, false, 'unknown config keys are rejected');
});

t.test('every object of the chart\'s own values rejects unknown keys', async (t) => {
  const values = JSON.parse(readFileSync(file, 'utf8'));
  // Objects that pass through to Kubernetes as they are (label maps, affinity, probes of the app, …)
  // are the only open ones; everything the chart itself reads is closed.
  const open = new Set(['global', 'podAnnotations', 'podLabels', 'nodeSelector', 'affinity', 'appArmorProfile', 'seLinuxOptions',
    'windowsOptions', 'annotations', 'labels', 'startupProbe', 'readinessProbe', 'livenessProbe', 'dataVolume', 'requests', 'limits', 'values', 'env']);
  const walk = (node: Json, path: string): void => {
    if (node.type === 'object' && node.properties) t.equal(node.additionalProperties, false, `${path} is closed`);
    for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Json>)) {
      if (path === '.hookgate' && key === 'config') continue; // checked above
      if (child.type === 'object' && !child.properties && !open.has(key)) t.fail(`${path}.${key} is an open object`);
      walk(child, `${path}.${key}`);
    }
  };
  walk(values, '');
});
