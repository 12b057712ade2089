/**
 * The recorded ramp behind the docs' screenshots, made the same way every time (fixed clock, no
 * randomness): the real store, analysis stage and live view, fed three minutes of a login ramp, six
 * injector processes added one every 30 s against an api whose main thread saturates at the fifth.
 * The one source of docs/img/report.png (the report's HTML of this run) and docs/img/live-*.png
 * (the live view of it), and of the tests that fail when they are stale.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Store } from '../core/store.js';
import { Analysis } from '../analysis/stage.js';
import { LiveView } from '../exporters/live/live.js';
import { ASSETS_DIR } from '../exporters/live/server.js';
import { renderPage } from '../exporters/live/page.js';
import type { About } from '../exporters/live/model.js';
import { renderHtml } from '../exporters/report/html.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** docs/img, from the sources (scripts/) or the build (dist/scripts/). */
export const DOCS_IMG = path.join([path.resolve(here, '..'), path.resolve(here, '..', '..')].find((p) => fs.existsSync(path.join(p, 'package.json')))!, 'docs', 'img');

/** The fixture's clock at its last tick (the screenshot freezes the page's clock there). */
export const FIXTURE_END_MS = Date.UTC(2026, 0, 15, 10, 3, 0);
const START_MS = FIXTURE_END_MS - 180_000;

export const FIXTURE_ABOUT: About = {
  version: 'example',
  telemetryPath: '/metrics',
  lines: ['statsd udp 127.0.0.1:9125', 'host collector every 1000 ms, groups: api (sut), locust (injector)', '412 statsd series (cap 100000)'],
};

export interface RampFixture {
  live: LiveView;
  analysis: Analysis;
}

export function rampFixture(): RampFixture {
  let now = START_MS;
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
  const users = g('loadtest_active_users', ['scenario']);
  const offered = g('loadtest_offered_rate', ['scenario']);
  g('redline_host_cpus', []).set([], 4);
  const requests = store.counter('loadtest_requests_total', 'fixture', ['scenario']);
  const errors = store.counter('loadtest_errors_total', 'fixture', ['scenario']);
  const latency = store.histogram('loadtest_request_duration_seconds', 'fixture', ['scenario'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  const analysis = new Analysis(store, { intervalMs: 1000 });
  let lines = 0;
  let malformed = 0;
  const live = new LiveView({
    store,
    analysis,
    now: () => now,
    // The knee of every tick: a cadence that follows the machine's speed would not be reproducible.
    kneeEveryTicks: 1,
    about: () => FIXTURE_ABOUT,
    intake: () => ({ lines, rejected: new Map([['malformed_line', malformed]]), dropped: new Map() }),
  });
  live.start();
  count.set(['api', 'sut'], 1);
  for (let step = 1; step <= 6; step++) {
    for (let s = 0; s < 30; s++) {
      // Each injector process runs 5 users offering 30 logins/s; the api's main thread hashes each for 6.5 ms.
      const wobble = ((s * 7) % 5) / 100;
      const load = 30 * step;
      const busy = Math.min(1, load * 0.0065 + wobble);
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
      users.set(['login'], 5 * step);
      offered.set(['login'], load);
      requests.inc(['login'], served);
      errors.inc(['login'], load > 170 ? 2 : 0);
      const l = load > 150 ? 0.3 + 0.1 * (step - 5) : 0.008 + busy * 0.02;
      for (let i = 0; i < 40; i++) latency.observe(['login'], l * (0.5 + i / 40));
      lines += 60 + 6 * step;
      if (s % 10 === 3) malformed++;
      now += 1000;
      analysis.tick(now);
    }
  }
  live.stop();
  return { live, analysis };
}

/**
 * What the screenshots are made from: the page, its script, styles and chart library, and the
 * snapshot it draws. A change to any of them makes the screenshots stale.
 */
export function liveFixtureHash(f: RampFixture = rampFixture()): string {
  const require = createRequire(import.meta.url);
  const uplot = require.resolve('uplot/dist/uPlot.iife.min.js');
  const h = crypto.createHash('sha256');
  h.update(renderPage(FIXTURE_ABOUT, '/metrics'));
  for (const f of ['app.js', 'app.css']) h.update(fs.readFileSync(path.join(ASSETS_DIR, f)));
  h.update(fs.readFileSync(uplot));
  h.update(fs.readFileSync(path.join(path.dirname(uplot), 'uPlot.min.css')));
  h.update(f.live.snapshotJson('5m', 300));
  return h.digest('hex');
}

/** The self-contained HTML `redline report --out` writes for the ramp: what docs/img/report.png shows. */
export function reportFixtureHtml(f: RampFixture = rampFixture()): string {
  return renderHtml(f.analysis.snapshot(), { title: 'Redline report: login ramp (example)', source: 'agent http://127.0.0.1:9102' });
}

/** What the report screenshot is made from: its HTML (the chart library and styles are inlined). */
export function reportFixtureHash(html: string = reportFixtureHtml()): string {
  return crypto.createHash('sha256').update(html).digest('hex');
}
