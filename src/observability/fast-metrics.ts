// The metrics every delivery touches (requests, durations, the secret that matched, deliveries in
// flight), counted in plain numbers and handed to prom-client's registry only when /metrics is read:
// prom-client hashes a label object at every inc and observe (its cost: docs/benchmarks.md); here a
// call site keeps its cell, or finds it by label values through nested Maps, and adds to a number.
// The registry takes any object with a name and a get() in its metric shape, so the exposition is
// prom-client's own formatting, unchanged.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Options {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: Registry[];
}

/** Cells by label values: one nested Map a label, in labelNames order. */
abstract class Family<C extends { labels: Labels }> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregator = 'sum' as const;
  /** every cell, in order of first use */
  protected cells: C[] = [];
  private root = new Map<string, unknown>();
  private only: C | undefined;

  constructor(o: Options) {
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames ?? [];
    for (const r of o.registers ?? []) r.registerMetric(this as never);
  }

  /** Every cell; a family without labels shows its one series from the start, at zero (as prom-client does). */
  protected series(): C[] {
    if (this.labelNames.length === 0) this.cell();
    return this.cells;
  }

  protected abstract make(labels: Labels): C;

  private add(labels: Labels): C {
    const c = this.make(labels);
    this.cells.push(c);
    return c;
  }

  /** The cell of these label values (in labelNames order), made on first use. */
  cell(a?: string, b?: string, c?: string, d?: string): C {
    const n = this.labelNames.length;
    if (n === 0) return (this.only ??= this.add({}));
    let map = this.root;
    for (let i = 0; i < n; i++) {
      const v = i === 0 ? a : i === 1 ? b : i === 2 ? c : d;
      if (typeof v !== 'string') throw new TypeError(`${this.name}: label ${this.labelNames[i]} needs a string value, got ${String(v)}`);
      const next = map.get(v);
      if (i === n - 1) {
        if (next !== undefined) return next as C;
        const labels: Labels = {};
        for (let j = 0; j < n; j++) labels[this.labelNames[j]!] = j === 0 ? a! : j === 1 ? b! : j === 2 ? c! : d!;
        const made = this.add(labels);
        map.set(v, made);
        return made;
      }
      if (next === undefined) map.set(v, (map = new Map()));
      else map = next as Map<string, unknown>;
    }
    throw new Error('unreachable');
  }

  /** The cell of a labels object (prom-client's call shape), for the paths that are not hot. */
  protected of(labels: Labels | undefined): C {
    if (labels === undefined) return this.cell();
    for (const k of Object.keys(labels)) if (!this.labelNames.includes(k)) throw new TypeError(`${this.name}: no label named ${k}`);
    const v = this.labelNames.map((l) => labels[l]);
    return this.cell(v[0], v[1], v[2], v[3]);
  }

  /** Back to zero. The cells stay (call sites hold theirs), and so do their series, at zero. */
  reset(): void {
    for (const c of this.cells) this.zero(c);
  }

  protected abstract zero(c: C): void;
}

export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(v = 1): void {
    this.value += v;
  }
}

/** A number a series: counters and gauges. */
abstract class ValueFamily<C extends CounterCell> extends Family<C> {
  abstract readonly type: 'counter' | 'gauge';
  protected zero(c: C): void {
    c.value = 0;
  }
  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.series().map((c) => ({ labels: c.labels, value: c.value })) };
  }
}

export class FastCounter extends ValueFamily<CounterCell> {
  readonly type = 'counter' as const;
  protected make(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }
  inc(labels?: Labels | number, v = 1): void {
    if (typeof labels === 'number') this.cell().inc(labels);
    else this.of(labels).inc(v);
  }
}

export class GaugeCell extends CounterCell {
  dec(v = 1): void {
    this.value -= v;
  }
}

export class FastGauge extends ValueFamily<GaugeCell> {
  readonly type = 'gauge' as const;
  protected make(labels: Labels): GaugeCell {
    return new GaugeCell(labels);
  }
  inc(v = 1): void {
    this.cell().inc(v);
  }
  dec(v = 1): void {
    this.cell().dec(v);
  }
}

export class HistogramCell {
  /** observations per bucket (not cumulative); the last is above every bound */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labels: Labels, private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    if (!Number.isFinite(v)) throw new TypeError(`a histogram observes finite numbers, got ${String(v)}`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class FastHistogram extends Family<HistogramCell> {
  readonly type = 'histogram' as const;
  private readonly bounds: Float64Array;

  constructor(o: Options & { buckets: readonly number[] }) {
    super(o);
    this.bounds = Float64Array.from([...o.buckets].sort((x, y) => x - y));
  }

  protected make(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }

  protected zero(c: HistogramCell): void {
    c.counts.fill(0);
    c.sum = c.count = 0;
  }

  observe(labels: Labels | number, v?: number): void {
    if (typeof labels === 'number') this.cell().observe(labels);
    else this.of(labels).observe(v!);
  }

  async get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const c of this.series()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le: this.bounds[i]! }, value: acc });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...c.labels, le: '+Inf' }, value: c.count });
      values.push({ metricName: `${this.name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: c.labels, value: c.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
