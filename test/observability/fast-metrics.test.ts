// The plain-number metrics against prom-client's own: the same operations give the same exposition
// (series, values, HELP and TYPE lines), label order inside the braces aside.
import t from 'tap';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram } from '../../src/observability/fast-metrics.js';

/** the exposition with each series' labels sorted, lines sorted within each metric */
function normal(text: string): string {
  return text
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .map((l) => l.replace(/\{([^}]*)\}/, (_m, inner: string) => `{${inner.split(/,(?=[a-z_]+=")/).sort().join(',')}}`))
        .sort()
        .join('\n'),
    )
    .join('\n\n');
}

const BUCKETS = [0.001, 0.01, 0.1, 1];

function both() {
  const a = new Registry();
  const b = new Registry();
  return {
    a, b,
    prom: {
      requests: new Counter({ name: 'x_requests_total', help: 'Requests.', labelNames: ['route', 'outcome'] as const, registers: [a] }),
      hits: new Counter({ name: 'x_hits_total', help: 'Hits.', registers: [a] }),
      dur: new Histogram({ name: 'x_duration_seconds', help: 'Durations.', labelNames: ['op'] as const, buckets: BUCKETS, registers: [a] }),
      plain: new Histogram({ name: 'x_plain_seconds', help: 'No labels.', buckets: BUCKETS, registers: [a] }),
      gauge: new Gauge({ name: 'x_in_flight', help: 'In flight.', registers: [a] }),
    },
    fast: {
      requests: new FastCounter({ name: 'x_requests_total', help: 'Requests.', labelNames: ['route', 'outcome'], registers: [b] }),
      hits: new FastCounter({ name: 'x_hits_total', help: 'Hits.', registers: [b] }),
      dur: new FastHistogram({ name: 'x_duration_seconds', help: 'Durations.', labelNames: ['op'], buckets: BUCKETS, registers: [b] }),
      plain: new FastHistogram({ name: 'x_plain_seconds', help: 'No labels.', buckets: BUCKETS, registers: [b] }),
      gauge: new FastGauge({ name: 'x_in_flight', help: 'In flight.', registers: [b] }),
    },
  };
}

t.test('before anything is counted: the series without labels at zero, no labelled series', async (t) => {
  const { a, b } = both();
  t.equal(normal(await b.metrics()), normal(await a.metrics()));
});

t.test('the same operations, the same exposition', async (t) => {
  const { a, b, prom, fast } = both();
  const values = [0, 0.0005, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.99, 1, 1.5, 30];
  for (const [i, v] of values.entries()) {
    const op = i % 2 ? 'claim' : 'complete';
    prom.dur.observe({ op }, v);
    fast.dur.cell(op).observe(v);
    prom.plain.observe(v);
    fast.plain.observe(v);
    prom.requests.inc({ route: '/a', outcome: i % 3 ? 'forwarded' : 'duplicate' });
    fast.requests.cell('/a', i % 3 ? 'forwarded' : 'duplicate').inc();
  }
  prom.requests.inc({ route: '/b', outcome: 'malformed' }, 5);
  fast.requests.inc({ route: '/b', outcome: 'malformed' }, 5);
  prom.hits.inc();
  fast.hits.inc();
  prom.gauge.inc();
  prom.gauge.inc();
  prom.gauge.dec();
  fast.gauge.inc();
  fast.gauge.inc();
  fast.gauge.dec();
  const x = normal(await a.metrics());
  t.equal(normal(await b.metrics()), x);
  t.match(x, /x_duration_seconds_bucket\{le="0.001",op="complete"\} 2/, 'the comparison is of real series (0 and 0.001 in the complete cell)');

  a.resetMetrics();
  b.resetMetrics();
  t.match(await b.metrics(), /x_requests_total\{route="\/a",outcome="forwarded"\} 0/, 'a reset zeroes the cells, which call sites keep');
  t.match(await b.metrics(), /x_duration_seconds_count\{op="claim"\} 0/);
});

t.test('label values must be strings; unknown label names and non-finite values are refused', async (t) => {
  const c = new FastCounter({ name: 'y_total', help: 'y', labelNames: ['a', 'b'] });
  t.throws(() => c.cell('x'), /label b needs a string value/);
  t.throws(() => c.inc({ a: 'x', c: 'z' }), /no label named c/);
  const h = new FastHistogram({ name: 'y_seconds', help: 'y', buckets: [1] });
  t.throws(() => h.observe(NaN), /finite/);
  t.equal(c.cell('x', 'y'), c.cell('x', 'y'), 'one cell per label values');
  t.not(c.cell('x', 'y'), c.cell('x', 'z'));
});
