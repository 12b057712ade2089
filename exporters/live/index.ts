/**
 * The live view: `startLiveView` builds the engine (one sample of the store a second, bounded
 * history, one event stream message for every viewer) and the express app that serves it.
 */
import type http from 'node:http';
import type { Store } from '../../core/store.js';
import { LiveView } from './live.js';
import { createLiveApp } from './server.js';
import { renderHtml } from '../report/html.js';
import type { About } from './model.js';
import type { IntakeCounters } from './sampler.js';
import type { AnalysisFeed } from './from-analysis.js';

export { LiveView, MAX_POINTS } from './live.js';
export type { LiveOptions } from './live.js';
export { createLiveApp, RANGES } from './server.js';
export { Sampler, histogramQuantile } from './sampler.js';
export type { IntakeCounters } from './sampler.js';
export type { AnalysisFeed } from './from-analysis.js';
export type { About, EmptyGroup, Knee, KneeStep, LiveSnapshot, LiveTick, PanelKind, RunInfo, Saturated, SeriesInfo, Unit, Verdict, VerdictState } from './model.js';

export interface LiveViewHandle {
  view: LiveView;
  /** The request listener for every path the agent's own server does not answer. */
  app: http.RequestListener;
  start(): void;
  stop(): void;
}

export interface StartLiveViewOptions {
  store: Store;
  analysis: AnalysisFeed;
  intake?: () => IntakeCounters;
  /** Declared process groups that match no process (the host collector's `emptyGroups()`). */
  emptyGroups?: () => readonly string[];
  about: () => About;
  telemetryPath: string;
}

export function startLiveView(opts: StartLiveViewOptions): LiveViewHandle {
  const view = new LiveView({
    store: opts.store,
    about: opts.about,
    analysis: opts.analysis,
    ...(opts.intake ? { intake: opts.intake } : {}),
    ...(opts.emptyGroups ? { emptyGroups: opts.emptyGroups } : {}),
  });
  const app = createLiveApp({
    live: view,
    telemetryPath: opts.telemetryPath,
    // The same renderer and the same snapshot as `redline report --agent URL --out FILE.html`.
    report: (origin) => renderHtml(opts.analysis.snapshot(), { source: `agent ${origin}` }),
  });
  return { view, app, start: () => view.start(), stop: () => view.stop() };
}
