/**
 * What a mapping rule is once read, and what matching a name returns: the contract between the
 * mapping-file reader (file.ts) and the matcher (../mapper.ts).
 */
import type { RE2JS } from 're2js';
import type { SummaryOptions } from '../../../core/summary.js';
import { DEFAULT_NATIVE_OPTIONS, type NativeHistogramOptions } from '../../../core/native.js';
import type { GlobRule } from './glob.js';
import type { Template } from './template.js';

export type StatsdKind = 'counter' | 'gauge' | 'observer';
export type ObserverType = 'histogram' | 'summary';

export interface MapResult {
  /**
   * `too_long`: a regex rule matched but the name is longer than `regexNameMaxLength` and the
   * rule's name or labels need its captures; the sample is dropped and counted.
   */
  action: 'map' | 'drop' | 'too_long';
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
  /** Longest name (UTF-16 units) a regex rule's captures are computed for; 0: no limit. */
  regexNameMaxLength?: number;
}

/**
 * statsd_exporter reads TCP lines of at most 4,096 bytes; captures of a longer name cost up to
 * ~1.5 µs a character (bench/hostile.ts), so past this a regex rule that needs them refuses.
 */
export const DEFAULT_REGEX_NAME_MAX_LENGTH = 4096;

export interface Rule extends GlobRule {
  glob: boolean;
  /** Regex rules: the pattern as a RegExp, for the captures of short names (globs match through the index). */
  regex: RegExp | null;
  /** Regex rules: the pattern for re2js, which decides the match in linear time. */
  linear: RE2JS | null;
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

