/**
 * The live view's own verdict, from the saturation ratios it reads each second, used while the
 * agent has no analysis stage to ask. A resource counts as saturated once its ratio has stayed at
 * or above its threshold for `holdSeconds` (the onset is the first of those seconds), and stops
 * once it has stayed below 90 % of the threshold for `clearSeconds`: a ratio hovering at the
 * threshold does not make the banner flap.
 */
import type { Role, Saturated, Verdict } from './model.js';

interface ResourceState {
  group: string;
  role: Role;
  resource: string;
  above: number;
  below: number;
  /** First second of the current run above the threshold. */
  firstAboveMs: number;
  saturated: boolean;
  onsetMs: number;
  ratio: number;
}

export interface VerdictOptions {
  holdSeconds: number;
  clearSeconds: number;
}

export const DEFAULT_VERDICT_OPTIONS: VerdictOptions = { holdSeconds: 5, clearSeconds: 30 };

export class VerdictTracker {
  private readonly states = new Map<string, ResourceState>();

  constructor(private readonly opts: VerdictOptions = DEFAULT_VERDICT_OPTIONS) {}

  /** Feeds one second's reading of one resource. */
  observe(key: string, group: string, role: Role, resource: string, ratio: number, threshold: number, nowMs: number): void {
    let s = this.states.get(key);
    if (s === undefined) {
      s = { group, role, resource, above: 0, below: 0, firstAboveMs: 0, saturated: false, onsetMs: 0, ratio: 0 };
      this.states.set(key, s);
    }
    s.ratio = ratio;
    if (ratio >= threshold) {
      if (s.above === 0) s.firstAboveMs = nowMs;
      s.above++;
      s.below = 0;
      if (!s.saturated && s.above >= this.opts.holdSeconds) {
        s.saturated = true;
        s.onsetMs = s.firstAboveMs;
      }
    } else {
      s.above = 0;
      if (ratio < threshold * 0.9) s.below++;
      if (s.saturated && s.below >= this.opts.clearSeconds) s.saturated = false;
    }
  }

  verdict(): Verdict {
    let sut: Saturated | null = null;
    let injector: Saturated | null = null;
    for (const s of this.states.values()) {
      if (!s.saturated) continue;
      const v: Saturated = { group: s.group, resource: s.resource, onsetMs: s.onsetMs, ratio: s.ratio };
      if (s.role === 'sut') {
        if (sut === null || v.onsetMs < sut.onsetMs) sut = v;
      } else if (s.role === 'injector') {
        if (injector === null || v.onsetMs < injector.onsetMs) injector = v;
      }
    }
    const state = sut && injector ? 'both' : sut ? 'sut_saturated' : injector ? 'injector_saturated' : 'ok';
    return { state, sut, injector, source: 'live' };
  }
}
