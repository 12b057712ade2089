/**
 * Renders every generated artefact (dashboards JSON, Prometheus rules and their promtool tests,
 * Grafana-managed alert rules) as a map of repository-relative path -> file content, so that
 * `npm run dashboards` writes them and a test can check the committed copies are not stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { agentDashboard } from './agent.js';
import { renderDashboard } from './common.js';
import { compareDashboard } from './compare.js';
import { overviewDashboard } from './overview.js';
import { processDashboard } from './process.js';
import { grafanaAlerting, prometheusRules, promtoolTests, RULES_HEADER } from './rules.js';

/** Folder (Grafana folder title, from the file tree) and file name of each dashboard. */
export const DASHBOARDS: Array<{ folder: string; file: string; build: () => dashboard.DashboardBuilder }> = [
  { folder: 'Load testing', file: 'redline-loadtest.json', build: overviewDashboard },
  { folder: 'Load testing', file: 'redline-process.json', build: processDashboard },
  { folder: 'Load testing', file: 'redline-compare.json', build: compareDashboard },
  { folder: 'Redline', file: 'redline-agent.json', build: agentDashboard },
];

export const DASHBOARD_DIR = 'grafana/dashboards';
export const RULES_FILE = 'provisioning/prometheus/rules/redline.rules.yml';
export const RULES_TEST_FILE = 'provisioning/prometheus/tests/redline.rules.test.yml';
export const GRAFANA_ALERTING_FILE = 'provisioning/grafana/alerting/redline-rules.yaml';

export function yaml(doc: object): string {
  // JSON round trip drops the SDK's marker functions, which YAML serialisers refuse.
  return RULES_HEADER + stringify(JSON.parse(JSON.stringify(doc)), { lineWidth: 0 });
}

export function renderAll(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of DASHBOARDS) out.set(`${DASHBOARD_DIR}/${d.folder}/${d.file}`, renderDashboard(d.build()));
  out.set(RULES_FILE, yaml(prometheusRules()));
  out.set(RULES_TEST_FILE, yaml(promtoolTests(path.posix.relative(path.posix.dirname(RULES_TEST_FILE), RULES_FILE))));
  out.set(GRAFANA_ALERTING_FILE, yaml(grafanaAlerting()));
  return out;
}

/** Writes every artefact under `root`; returns the paths whose content changed. */
export function writeAll(root: string): string[] {
  const changed: string[] = [];
  for (const [rel, content] of renderAll()) {
    const file = path.join(root, rel);
    let old: string | null = null;
    try {
      old = fs.readFileSync(file, 'utf8');
    } catch {
      old = null;
    }
    if (old === content) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    changed.push(rel);
  }
  return changed;
}
