/**
 * The agent's own process and Node runtime metrics (so "is the observer itself healthy?" has an
 * answer), sampled when a sink reads the store. The statsd families live next to the ingest, in
 * collector/statsd/metrics.ts.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Store, OwnMetric } from '../core/store.js';

/**
 * The agent process and its Node runtime, from prom-client's default metrics (`process_*`,
 * `nodejs_*`, named exactly as prom-client names them, so every Node dashboard reads them) on a
 * registry of the agent's own, copied into the store before each read by an asynchronous sink
 * (prom-client's collection API is asynchronous). Plus `redline_build_info`.
 */
export function registerProcessMetrics(store: Store, version: string): () => void {
  const info = store.gauge('redline_build_info', 'Always 1; labels carry the Redline and Node.js versions.', ['version', 'nodejs']);
  info.set([version, process.versions.node], 1);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const mirror = new RuntimeMirror(store);
  let stopped = false;
  store.onRefresh(async () => {
    if (stopped) return;
    mirror.copy(await registry.getMetricsAsJSON());
  });
  return () => {
    stopped = true;
    registry.clear();
  };
}

type PromMetric = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/** Copies prom-client's JSON view into own families of the store, one family per metric. */
class RuntimeMirror {
  private readonly families = new Map<string, OwnMetric>();

  constructor(private readonly store: Store) {}

  copy(metrics: readonly PromMetric[]): void {
    for (const m of metrics) {
      try {
        // prom-client's typings call this an enum; at run time it is the type's name.
        const type = String(m.type);
        if (type === 'histogram') this.histogram(m);
        else if (type === 'counter' || type === 'gauge') this.scalar(m);
      } catch {
        // A name another part of the agent owns with another type: that metric is left out.
      }
    }
  }

  private metric(m: PromMetric, labelNames: string[], make: (names: string[]) => OwnMetric): OwnMetric {
    const key = `${m.name}{${labelNames.join(',')}}`;
    let fam = this.families.get(key);
    if (fam === undefined) {
      fam = make(labelNames);
      this.families.set(key, fam);
    }
    return fam;
  }

  private scalar(m: PromMetric): void {
    const names = [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))].sort();
    const fam = this.metric(m, names, (n) => (String(m.type) === 'counter' ? this.store.counter(m.name, m.help, n) : this.store.gauge(m.name, m.help, n)));
    // Label sets come and go (active handles by type): each copy is the whole truth.
    fam.reset();
    for (const v of m.values) fam.set(names.map((n) => String(v.labels[n] ?? '')), v.value);
  }

  private histogram(m: PromMetric): void {
    const names = [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))].filter((n) => n !== 'le').sort();
    const bounds = [...new Set(m.values.filter((v) => v.labels.le !== undefined && v.labels.le !== '+Inf').map((v) => Number(v.labels.le)))].sort((a, b) => a - b);
    const fam = this.metric(m, names, (n) => this.store.histogram(m.name, m.help, n, bounds));
    fam.reset();
    const groups = new Map<string, { values: string[]; cum: Map<number, number>; sum: number; count: number }>();
    for (const v of m.values) {
      const values = names.map((n) => String(v.labels[n] ?? ''));
      const key = values.join('\u0000');
      let g = groups.get(key);
      if (g === undefined) {
        g = { values, cum: new Map(), sum: 0, count: 0 };
        groups.set(key, g);
      }
      const metricName = (v as { metricName?: string }).metricName ?? '';
      if (metricName.endsWith('_bucket') && v.labels.le !== '+Inf') g.cum.set(Number(v.labels.le), v.value);
      else if (metricName.endsWith('_sum')) g.sum = v.value;
      else if (metricName.endsWith('_count')) g.count = v.value;
    }
    for (const g of groups.values()) {
      const s = fam.series(g.values);
      const fb = s.family.bounds!;
      let prev = 0;
      for (let i = 0; i < fb.length; i++) {
        const c = g.cum.get(fb[i]!) ?? prev;
        s.buckets![i] = c - prev;
        prev = c;
      }
      s.sum = g.sum;
      s.count = g.count;
    }
  }
}
