/**
 * Static checks of the generated Grafana dashboards, rule files, provisioning and compose stack:
 * not stale, every PromQL expression parses, promtool accepts the rules, their unit tests and
 * the Prometheus config, and every path the compose file mounts exists.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DATASOURCE_UID, GENERATED_MARKER } from '../dashboards/common.js';
import { DASHBOARD_DIR, DASHBOARDS, GRAFANA_ALERTING_FILE, renderAll, RULES_FILE, RULES_TEST_FILE } from '../dashboards/generate.js';
import { OVERVIEW_UID } from '../dashboards/overview.js';
import { dashboardQueries, ruleQueries, substitute, syntaxError } from '../dashboards/promql.js';
import { ALERT_RULES, EVAL_INTERVAL, FIRE_WITHIN_SECONDS, prometheusRules } from '../dashboards/rules.js';
import { ROOT } from './helpers/agent.js';

const PROMTOOL = process.env['PROMTOOL'] ?? '/usr/bin/promtool';
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const dashboards = DASHBOARDS.map((d) => {
  const rel = `${DASHBOARD_DIR}/${d.folder}/${d.file}`;
  return { rel, json: JSON.parse(read(rel)) as Record<string, unknown> };
});

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr?: string }>;
  fieldConfig?: { defaults?: { unit?: string }; overrides?: unknown[] };
  panels?: Panel[];
  repeat?: string;
}
const allPanels = (json: Record<string, unknown>): Panel[] => {
  const out: Panel[] = [];
  const visit = (ps: Panel[] | undefined): void => {
    for (const p of ps ?? []) {
      out.push(p);
      visit(p.panels);
    }
  };
  visit(json['panels'] as Panel[]);
  return out;
};

describe('generated files', () => {
  it('are up to date with dashboards/*.ts (run `npm run dashboards` when this fails)', () => {
    const stale: string[] = [];
    for (const [rel, content] of renderAll()) {
      let onDisk: string | null = null;
      try {
        onDisk = read(rel);
      } catch {
        onDisk = null;
      }
      if (onDisk !== content) stale.push(rel);
    }
    expect(stale).toEqual([]);
  });

  it('carry the generated marker', () => {
    for (const d of dashboards) expect(d.json['__generated'], d.rel).toBe(GENERATED_MARKER);
    for (const rel of [RULES_FILE, RULES_TEST_FILE, GRAFANA_ALERTING_FILE]) expect(read(rel).split('\n')[0]).toMatch(/generated .* do not edit/);
  });
});

describe('dashboards', () => {
  it.each(dashboards.map((d) => [d.rel, d.json] as const))('%s has datasource, env and run variables, a crosshair, a uid and units everywhere', (_rel, json) => {
    const vars = (json['templating'] as { list: Array<{ name: string; type: string; multi?: boolean }> }).list;
    expect(vars.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    expect(vars.find((v) => v.name === 'env')?.multi).toBe(true);
    expect(vars.find((v) => v.name === 'run')?.multi).toBe(true);
    expect(json['graphTooltip']).toBe(1); // shared crosshair
    expect(json['uid']).toMatch(/^redline-[a-z]+$/);
    const panels = allPanels(json).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(3);
    for (const p of panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      if (p.type === 'timeseries' || p.type === 'stat') expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy();
    }
  });

  it('uids and titles are unique', () => {
    const uids = dashboards.map((d) => d.json['uid']);
    const titles = dashboards.map((d) => d.json['title']);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('the overview has the verdict, the load, every SUT saturation signal, injector health and the knee', () => {
    const overview = dashboards.find((d) => d.json['uid'] === OVERVIEW_UID)!.json;
    const exprs = allPanels(overview).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).join('\n');
    for (const metric of [
      'ALERTS{',
      'redline_verdict_state{',
      'redline_saturated{role="sut"',
      'redline_saturated{role="injector"',
      'redline_saturation_ratio{',
      'redline_verdict_onset_timestamp_seconds{',
      'redline_process_busiest_thread_cpu_demand_ratio{role="sut"',
      'redline_process_busiest_process_cpu_demand_ratio{role="injector"',
      'redline_nodejs_eventloop_delay_seconds{quantile="0.99"',
      'redline_nodejs_eventloop_stalled_seconds',
      'redline_nodejs_eventloop_blocked_ratio',
      'redline_injector_processes',
      'loadtest_active_users',
      'loadtest_offered_rate',
      'loadtest_requests_total',
      'loadtest_errors_total',
      'loadtest_request_duration_seconds_bucket',
      'redline_process_cpu_seconds_total',
      'redline_host_cpus',
      'redline_process_busiest_thread_cpu_ratio',
      'redline_nodejs_eventloop_lag_seconds',
      'redline_nodejs_eventloop_utilization',
      'redline_process_fd_ratio',
      'redline_process_threads',
      'redline_process_memory_maps',
      'redline_process_context_switches_total',
      'redline_listen_queue_length',
      'redline_listen_queue_limit',
      'redline_host_tcp_listen_overflows_total',
      'redline_process_busiest_process_cpu_ratio{role="injector"',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
    expect(allPanels(overview).filter((p) => p.type === 'xychart').length).toBeGreaterThanOrEqual(2);
    // The verdict panels read the analysis stage's verdict, not a count of alerts.
    const verdictPanels = allPanels(overview).filter((p) => /^(Verdict now|SUT saturated|Injector saturated)/.test(p.title));
    expect(verdictPanels.map((p) => p.title)).toEqual(['Verdict now', 'SUT saturated', 'Injector saturated — results invalid']);
    for (const p of verdictPanels) {
      const expr = p.targets!.map((t) => t.expr).join(' ');
      expect(expr, p.title).toMatch(/redline_(verdict_state|saturated)\{/);
      expect(expr, p.title).not.toContain('ALERTS');
    }
    const annotations = (overview['annotations'] as { list: Array<{ expr?: string }> }).list.map((a) => a.expr);
    expect(annotations.some((e) => e?.startsWith('ALERTS{'))).toBe(true);
    expect(annotations.some((e) => e?.includes('redline_injector_processes'))).toBe(true);
  });

  it('staging vs production repeats per environment, horizontally and as rows', () => {
    const compare = dashboards.find((d) => d.json['uid'] === 'redline-compare')!.json;
    const panels = allPanels(compare);
    expect(panels.some((p) => p.type === 'row' && p.repeat === 'env')).toBe(true);
    expect(panels.filter((p) => p.type !== 'row' && p.repeat === 'env').length).toBeGreaterThan(3);
  });
});

describe('PromQL', () => {
  const queries = [...dashboards.flatMap((d) => dashboardQueries(d.json)), ...ruleQueries()];

  it('the syntax check catches a broken expression', () => {
    expect(syntaxError('sum(rate(http_requests_total[1m])')).not.toBeNull();
    expect(syntaxError('sum by (env) (rate(http_requests_total{env=~".*"}[1m]))')).toBeNull();
  });

  it('collects every query', () => {
    expect(queries.filter((q) => q.kind === 'panel').length).toBeGreaterThan(60);
    expect(queries.filter((q) => q.kind === 'rule').length).toBe(1 + 2 * ALERT_RULES.length);
  });

  it('every expression parses after substituting Grafana variables', () => {
    const bad = queries
      .map((q) => ({ q, err: syntaxError(substitute(q.expr, { env: 'staging|production', run: '.*', group: 'api' })) }))
      .filter((x) => x.err !== null)
      .map((x) => `${x.q.where}: near ${JSON.stringify(x.err!.near)} in ${x.q.expr}`);
    expect(bad).toEqual([]);
  });
});

describe('promtool', () => {
  const promtool = (...args: string[]) => spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  const promtoolAsync = (...args: string[]): Promise<{ status: number; out: string }> =>
    new Promise((resolve) => {
      execFile(PROMTOOL, args, { encoding: 'utf8', timeout: 170_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
    });

  it('check rules', () => {
    const r = promtool('check', 'rules', RULES_FILE);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${1 + ALERT_RULES.length} rules found`);
  });

  it('every alert has a case that fires within 30 s of its onset, a quiet case and a noisy case at its threshold; holds are short', () => {
    for (const a of ALERT_RULES) {
      const firing = a.cases.filter((c) => c.firing.length > 0);
      expect(firing.length, a.alert).toBeGreaterThan(0);
      for (const c of firing) {
        expect(c.onset, `${a.alert}: ${c.name}`).toBeGreaterThan(20);
        expect(c.within ?? FIRE_WITHIN_SECONDS, `${a.alert}: ${c.name}`).toBeLessThanOrEqual(30);
      }
      expect(a.cases.some((c) => c.firing.length === 0), a.alert).toBe(true);
      expect(a.cases.some((c) => c.noisy), a.alert).toBe(true);
      expect(Number(/^(\d+)s$/.exec(a.for)?.[1]), a.alert).toBeLessThanOrEqual(10);
      // A host-wide condition is never the SUT's by default: static verdicts only on role-selected inputs.
      if (a.verdict === 'sut') expect(a.expr, a.alert).not.toMatch(/redline_host_/);
    }
    expect(Number(/^(\d+)s$/.exec(EVAL_INTERVAL)?.[1])).toBeLessThanOrEqual(2);
  });

  it('test rules: every case passes', () => {
    const r = promtool('test', 'rules', RULES_TEST_FILE);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  }, 180_000);

  it('test rules fails when a threshold drifts, and when the rules read noisy instants instead of windows (the tests can fail)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-rules-'));
    try {
      const variant = (name: string, rules: string): string => {
        fs.mkdirSync(path.join(dir, name, 'rules'), { recursive: true });
        fs.mkdirSync(path.join(dir, name, 'tests'), { recursive: true });
        fs.writeFileSync(path.join(dir, name, 'rules', 'redline.rules.yml'), rules);
        fs.writeFileSync(path.join(dir, name, 'tests', 'redline.rules.test.yml'), read(RULES_TEST_FILE));
        return path.join(dir, name, 'tests', 'redline.rules.test.yml');
      };
      const original = read(RULES_FILE);
      const drifted = original.replace('>= 0.8', '>= 0.95');
      // What the rules were before: the instant value of each noisy input, and no keep_firing_for.
      const instants = original.replace(/quantile_over_time\(0\.5, ([^[]+)\[\d+s\]\)/g, '$1').replace(/^\s+keep_firing_for: .*\n/gm, '');
      expect(drifted).not.toBe(original);
      expect(instants).not.toContain('quantile_over_time');
      const [d, i] = await Promise.all([promtoolAsync('test', 'rules', variant('drifted', drifted)), promtoolAsync('test', 'rules', variant('instants', instants))]);
      expect(d.status).not.toBe(0);
      expect(d.out).toContain('FAILED');
      expect(i.status).not.toBe(0);
      // Noisy inputs read as instants flap (the injector that dips below 0.8 core now and then, a
      // loop busy ~96% with dips): firing at fewer evaluations than the windowed rules.
      expect(i.out).toContain('alertname=\\"RedlineInjectorSaturated\\", alertstate=\\"firing\\"');
      expect(i.out).toContain('alertname=\\"RedlineEventLoopSaturated\\", alertstate=\\"firing\\"');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('check config of the Prometheus the compose stack runs', () => {
    const r = promtool('check', 'config', 'provisioning/prometheus/prometheus.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const cfg = parseYaml(read('provisioning/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{ job_name: string; scrape_interval: string; honor_labels?: boolean; static_configs: Array<{ labels?: Record<string, string> }> }>;
    };
    const job = cfg.scrape_configs.find((j) => j.job_name === 'redline')!;
    const seconds = Number(/^(\d+)s$/.exec(job.scrape_interval)?.[1]);
    // Every second or two: the rules' windows need ~10-20 samples to fire within 30 s.
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(2);
    const global = (parseYaml(read('provisioning/prometheus/prometheus.yml')) as { global: { evaluation_interval: string } }).global;
    expect(Number(/^(\d+)s$/.exec(global.evaluation_interval)?.[1])).toBeLessThanOrEqual(2);
    expect(job.honor_labels).toBe(true);
    for (const sc of job.static_configs) expect(sc.labels?.['env']).toBeTruthy();
  });
});

describe('Grafana provisioning', () => {
  it('the datasource has the fixed uid the alert rules use', () => {
    const ds = parseYaml(read('provisioning/grafana/datasources/redline.yaml')) as { datasources: Array<{ uid: string; type: string }> };
    expect(ds.datasources[0]).toMatchObject({ uid: DATASOURCE_UID, type: 'prometheus' });
    const alerting = parseYaml(read(GRAFANA_ALERTING_FILE)) as {
      groups: Array<{ folder: string; rules: Array<{ uid: string; data: Array<{ datasourceUid: string }>; labels: Record<string, string> }> }>;
    };
    const rules = alerting.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.labels['redline_alert']).sort()).toEqual(ALERT_RULES.map((a) => a.alert).sort());
    for (const r of rules) {
      expect(r.uid.length).toBeLessThanOrEqual(40);
      expect(r.uid).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(r.data[0]!.datasourceUid).toBe(DATASOURCE_UID);
    }
  });

  it('the dashboards provider takes folders from the file tree', () => {
    const p = parseYaml(read('provisioning/grafana/dashboards/redline.yaml')) as { providers: Array<{ options: { path: string; foldersFromFilesStructure: boolean }; folder?: string }> };
    expect(p.providers[0]!.options.foldersFromFilesStructure).toBe(true);
    expect(p.providers[0]!.folder).toBeUndefined();
  });

  it('the Prometheus rules and the Grafana rules come from the same list', () => {
    const prom = parseYaml(read(RULES_FILE)) as { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> };
    expect(prom).toEqual(JSON.parse(JSON.stringify(prometheusRules())));
  });
});

describe('docker compose', () => {
  const compose = parseYaml(read('docker-compose.yml')) as {
    services: Record<string, { image?: string; build?: unknown; volumes?: string[]; ports?: string[]; pid?: string; network_mode?: string; environment?: Record<string, string>; command?: string[] }>;
  };

  it('every image is pinned to an exact version', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toMatch(/:[vV]?\d+\.\d+\.\d+$/);
    }
    for (const line of read('Dockerfile').split('\n').filter((l) => l.startsWith('FROM '))) {
      expect(line).toMatch(/^FROM [^:\s]+:\d+\.\d+\.\d+[-\w]*( AS \w+)?$/);
    }
  });

  it('every path it mounts exists', () => {
    const missing: string[] = [];
    let binds = 0;
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (!src.startsWith('.') && !src.startsWith('/')) continue; // named volume
        binds++;
        if (!fs.existsSync(path.resolve(ROOT, src))) missing.push(`${name}: ${src}`);
      }
    }
    expect(binds).toBeGreaterThanOrEqual(5);
    expect(missing).toEqual([]);
  });

  it('every path the Dockerfile copies from the build context exists', () => {
    const sources = read('Dockerfile')
      .split('\n')
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.slice(5).trim().split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThanOrEqual(5);
    expect(sources.filter((src) => !fs.existsSync(path.join(ROOT, src)))).toEqual([]);
  });

  it('the agent shares the host pid and network namespaces; Grafana opens on the overview', () => {
    const agent = compose.services['agent']!;
    expect(agent.pid).toBe('host');
    expect(agent.network_mode).toBe('host');
    expect(agent.build).toBeTruthy();
    const home = compose.services['grafana']!.environment!['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH']!;
    const mount = compose.services['grafana']!.volumes!.find((v) => v.endsWith(':/var/lib/grafana/dashboards:ro'))!;
    const local = path.join(ROOT, mount.split(':')[0]!, path.relative('/var/lib/grafana/dashboards', home));
    expect((JSON.parse(fs.readFileSync(local, 'utf8')) as { uid: string }).uid).toBe(OVERVIEW_UID);
  });

  it('the agent configuration it mounts is valid', () => {
    const r = spawnSync(process.execPath, ['bin/redline.js', '--config', 'provisioning/redline/redline.yaml', '--check-config'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

// promtool must be there: the tests above are not allowed to pass vacuously.
it('promtool is installed', () => {
  expect(execFileSync(PROMTOOL, ['--version'], { encoding: 'utf8' })).toMatch(/promtool, version/);
});
