/**
 * What a mapping rule is once read, and what matching a name returns: the contract between the
 * mapping-file reader (file.ts) and the matcher (../mapper.ts).
 */
import type { SummaryOptions } from '../../../core/summary.js';
import { DEFAULT_NATIVE_OPTIONS, type NativeHistogramOptions } from '../../../core/native.js';
import type { GlobRule } from './glob.js';
import type { Template } from './template.js';

export type StatsdKind = 'counter' | 'gauge' | 'observer';
export type ObserverType = 'histogram' | 'summary';

export interface MapResult {
  action: 'map' | 'drop';
  /** Final Prometheus name, escaped. `''` (with action `drop`) when a rule's template expanded to nothing. */
  name: string;
  labels: Record<string, string>;
  honorLabels: boolean;
  observerType: ObserverType;
  buckets: readonly number[];
  /** Native buckets kept alongside the classic ones (histogram_options.native_histogram_*). */
  native: NativeHistogramOptions;
  summary: SummaryOptions;
  ttlMs: number;
  scale: number;
  help: string | undefined;
  matched: boolean;
}

/** A mapping file that cannot be loaded: names the file, the line and what is wrong. */
export class MappingConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
    this.name = 'MappingConfigError';
  }
}

export interface MapperOptions {
  defaultObserverType?: ObserverType;
  defaultBuckets?: readonly number[];
}

export interface Rule extends GlobRule {
  glob: boolean;
  /** Regex rules: the pattern (globs match through the index). */
  regex: RegExp | null;
  /** Globs: per segment, null (literal), true (`*`) or the segment's regex with its captures. */
  capturePlan: (null | true | RegExp)[];
  /** Globs whose templates reference no capture skip capturing. */
  needsCaptures: boolean;
  name: Template;
  labels: [string, Template][];
  base: Omit<MapResult, 'name' | 'labels'>;
}

/** The result for names no rule matches. */
export function unmatchedResult(
  observerType: ObserverType,
  buckets: readonly number[],
  summary: SummaryOptions,
  ttlMs: number,
  native: NativeHistogramOptions = DEFAULT_NATIVE_OPTIONS,
): Omit<MapResult, 'name'> {
  return { action: 'map', labels: {}, honorLabels: false, observerType, buckets, native, summary, ttlMs, scale: 1, help: undefined, matched: false };
}

