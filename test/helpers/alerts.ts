/**
 * The shipped alerts as a real Prometheus evaluates them: the one check the saturation e2e tests
 * make of each kind they drive — the right alert firing for the right group and verdict within
 * 30 s of onset, on Prometheus' own timestamps, and no alert of the other verdict meanwhile.
 */
import os from 'node:os';
import { expect } from 'vitest';
import { ALERT_RULES } from '../../dashboards/rules.js';
import type { Proc } from './process.js';
import type { PrometheusServer } from './prometheus.js';
import { waitFor } from './wait.js';

export interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

const forSeconds = new Map(ALERT_RULES.map((r) => [r.alert, Number(/^(\d+)s$/.exec(r.for)![1])]));
const activeAt = (a: Alert): number => Date.parse(a.activeAt) / 1000;

export const alertsOf = async (prom: PrometheusServer): Promise<Alert[]> => (await prom.get<{ alerts: Alert[] }>('/api/v1/alerts')).alerts;

/** The onset a driven process printed (`ready <epoch ms>`), in epoch seconds. */
export const onsetOf = (p: Proc): number => Number(/ready (\d+)/.exec(p.stdout())![1]) / 1000;

/**
 * Waits (bounded) for `alertname` firing for `group`, then checks its labels, the 30 s bound from
 * `onset` (its activeAt plus its `for:`), and that no alert of the other verdict started since.
 */
export async function expectAlertFiring(
  prom: PrometheusServer,
  want: { onset: number; alertname: string; group: string; role: 'sut' | 'injector'; env: string },
): Promise<void> {
  const { onset, alertname, group, role, env } = want;
  const other = role === 'sut' ? 'injector' : 'sut';
  let seen: Alert | undefined;
  const strays: Alert[] = [];
  await waitFor(
    async () => {
      const now = await alertsOf(prom);
      strays.push(...now.filter((a) => a.labels['verdict'] === other && activeAt(a) >= onset));
      seen = now.find((a) => a.labels['alertname'] === alertname && a.labels['group'] === group && a.state === 'firing');
      return seen;
    },
    { timeoutMs: 120_000, intervalMs: 1000, what: `${alertname} firing for ${group}` },
  );
  const firedAfter = activeAt(seen!) + forSeconds.get(alertname)! - onset;
  process.stdout.write(`${alertname} ${group}: fired ${firedAfter.toFixed(1)} s after onset (load ${os.loadavg()[0]!.toFixed(2)})\n`);
  expect(seen!.labels).toMatchObject({ verdict: role, group, role, env });
  expect(firedAfter).toBeLessThanOrEqual(30);
  expect(strays.map((a) => a.labels)).toEqual([]);
}
