/**
 * Collects every PromQL expression of the generated dashboards and rules, substitutes Grafana's
 * variables, and checks the syntax with Prometheus' own Lezer grammar. Used by the tests and by
 * the end-to-end test (which also needs the substituted queries to run them).
 */
import { parser } from '@prometheus-io/lezer-promql';
import { ALERT_RULES, inlineRecordingRules, RECORDING_RULES } from './rules.js';

export interface Query {
  /** Where the expression comes from: "<dashboard> / <panel> / <refId>". */
  where: string;
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  kind: 'panel' | 'annotation' | 'variable' | 'rule';
}

interface PanelJson {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string; refId?: string }>;
  panels?: PanelJson[];
}

/** Every expression in one generated dashboard JSON, panels nested in rows included. */
export function dashboardQueries(json: unknown): Query[] {
  const d = json as {
    title: string;
    panels?: PanelJson[];
    annotations?: { list?: Array<{ name?: string; expr?: string }> };
    templating?: { list?: Array<{ name?: string; type?: string; query?: unknown }> };
  };
  const out: Query[] = [];
  const visit = (panels: PanelJson[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (t.expr) {
          out.push({ where: `${d.title} / ${p.title ?? '?'} / ${t.refId ?? '?'}`, dashboard: d.title, panel: p.title ?? '?', refId: t.refId ?? '?', expr: t.expr, kind: 'panel' });
        }
      }
      visit(p.panels);
    }
  };
  visit(d.panels);
  for (const a of d.annotations?.list ?? []) {
    if (a.expr) out.push({ where: `${d.title} / annotation ${a.name}`, dashboard: d.title, panel: `annotation ${a.name}`, refId: 'A', expr: a.expr, kind: 'annotation' });
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query' || typeof v.query !== 'string') continue;
    // label_values(<selector>, label) -> the selector is PromQL
    const m = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(v.query);
    if (m?.[1]) out.push({ where: `${d.title} / variable ${v.name}`, dashboard: d.title, panel: `variable ${v.name}`, refId: 'A', expr: m[1], kind: 'variable' });
  }
  return out;
}

export function ruleQueries(): Query[] {
  return [
    ...RECORDING_RULES.map((r) => ({ where: `rule ${r.record}`, dashboard: 'rules', panel: r.record, refId: 'A', expr: r.expr, kind: 'rule' as const })),
    ...ALERT_RULES.map((r) => ({ where: `alert ${r.alert}`, dashboard: 'rules', panel: r.alert, refId: 'A', expr: r.expr, kind: 'rule' as const })),
    ...ALERT_RULES.map((r) => ({ where: `grafana alert ${r.uid}`, dashboard: 'rules', panel: r.uid, refId: 'A', expr: `(${inlineRecordingRules(r.expr)}) * 0 + 1`, kind: 'rule' as const })),
  ];
}

/**
 * Grafana's variables replaced the way Grafana would: regex variables (`=~"$x"`) by a regex,
 * interval macros by a duration.
 */
export function substitute(expr: string, vars: Record<string, string> = {}, interval = '1m'): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range|\$\{__rate_interval\}/g, interval)
    .replace(/\$\{?([a-zA-Z_]\w*)\}?/g, (all, name: string) => vars[name] ?? (name === 'datasource' ? all : '.*'));
}

/** The position of the first syntax error, or null when the expression parses. */
export function syntaxError(expr: string): { at: number; near: string } | null {
  const tree = parser.parse(expr);
  let at: number | null = null;
  tree.iterate({
    enter: (n) => {
      if (at === null && n.type.isError) at = n.from;
    },
  });
  if (at === null) return null;
  return { at, near: expr.slice(Math.max(0, (at as number) - 20), (at as number) + 20) };
}
