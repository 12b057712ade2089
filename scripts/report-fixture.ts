/**
 * A recorded ramp, made the same way every time (fixed clock, no randomness), run through the real
 * store and analysis stage: the source of the README's report screenshot and of the test that
 * fails when that screenshot is stale.
 */
import { Store } from '../core/store.js';
import { Analysis, type AnalysisSnapshot } from '../analysis/stage.js';
import { renderHtml } from '../exporters/report/html.js';

export function fixtureSnapshot(): AnalysisSnapshot {
  let now = Date.UTC(2026, 0, 15, 10, 0, 0);
  const store = new Store({ maxSeries: 1000, setIntervalMs: 10_000, now: () => now });
  const g = (name: string, labels: string[]): ReturnType<Store['gauge']> => store.gauge(name, 'fixture', labels);
  const count = g('redline_process_count', ['group', 'role']);
  const inj = g('redline_injector_processes', ['group']);
  const thread = g('redline_process_busiest_thread_cpu_ratio', ['group', 'role']);
  const cores = g('redline_process_cpu_cores', ['group', 'role']);
  const fds = g('redline_process_fd_ratio', ['group', 'role']);
  const qlen = g('redline_listen_queue_length', ['group', 'port', 'role']);
  const qlim = g('redline_listen_queue_limit', ['group', 'port', 'role']);
  const elu = g('redline_nodejs_eventloop_utilization', ['group', 'pid', 'role', 'service']);
  const lag = g('redline_nodejs_eventloop_lag_seconds', ['group', 'pid', 'quantile', 'role', 'service']);
  const offered = g('loadtest_offered_rate', ['scenario']);
  g('redline_host_cpus', []).set([], 4);
  const requests = store.counter('loadtest_requests_total', 'fixture', ['scenario']);
  const errors = store.counter('loadtest_errors_total', 'fixture', ['scenario']);
  const latency = store.histogram('loadtest_request_duration_seconds', 'fixture', ['scenario'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  const analysis = new Analysis(store, { intervalMs: 1000 });
  count.set(['api', 'sut'], 1);
  for (let step = 1; step <= 6; step++) {
    for (let s = 0; s < 30; s++) {
      // Each injector process offers 30 logins/s; the api's main thread hashes each for 6.5 ms.
      const wobble = ((s * 7) % 5) / 100;
      const load = 30 * step;
      const busy = Math.min(1, (load * 0.0065) + wobble);
      const served = Math.min(load, 150 + 3 * wobble * 100);
      count.set(['locust', 'injector'], step);
      inj.set(['locust'], step);
      thread.set(['api', 'sut'], busy);
      cores.set(['api', 'sut'], busy + 0.1);
      thread.set(['locust', 'injector'], 0.12 + 0.04 * step + wobble);
      cores.set(['locust', 'injector'], 0.15 * step);
      fds.set(['api', 'sut'], 0.02 + 0.01 * step);
      fds.set(['locust', 'injector'], 0.01 * step);
      qlen.set(['api', '8080', 'sut'], load > 150 ? Math.min(511, (load - 150) * 4) : 0);
      qlim.set(['api', '8080', 'sut'], 511);
      elu.set(['api', '41', 'sut', 'api'], Math.min(1, busy * 1.02));
      lag.set(['api', '41', '0.99', 'sut', 'api'], load > 150 ? 0.12 + 0.02 * (step - 5) : 0.004 + busy * 0.02);
      offered.set(['login'], load);
      requests.inc(['login'], served);
      errors.inc(['login'], load > 170 ? 2 : 0);
      const l = load > 150 ? 0.3 + 0.1 * (step - 5) : 0.008 + busy * 0.02;
      for (let i = 0; i < 40; i++) latency.observe(['login'], l * (0.5 + i / 40));
      now += 1000;
      analysis.tick();
    }
  }
  return analysis.snapshot();
}

export function fixtureHtml(): string {
  return renderHtml(fixtureSnapshot(), { title: 'Redline report: login ramp (example)', source: 'agent http://127.0.0.1:9102' });
}
