/**
 * The four tag styles statsd_exporter reads, into labels:
 *
 *   DogStatsD  name:1|c|#k:v,k2:v2      (a bare `k` becomes k="true", as Telegraf reads it)
 *   InfluxDB   name,k=v,k2=v2:1|c
 *   Librato    name#k=v,k2=v2:1|c
 *   SignalFx   name[k=v,k2=v2]:1|c
 *
 * Name-embedded styles are looked for in statsd_exporter's order: SignalFx brackets first (a
 * lone `[` or `]`, or `]` before `[`, is counted as a tag error and leaves the name as it is),
 * then whichever of Librato's `#` and InfluxDB's `,` comes first. They may not be mixed with
 * DogStatsD tags on one line. As statsd_exporter: a DogStatsD tag may start with its own `#`
 * (`|#a:1,#b:2`, the Datadog PHP client writes them so); a tag with an empty key or value is
 * skipped and counted; keys are escaped like metric names. Runs on cache misses only.
 */
import { escapeMetricName, isValidLabelName } from '../../core/labels.js';

export interface TagStyles {
  dogstatsd: boolean;
  influx: boolean;
  librato: boolean;
  signalfx: boolean;
}

export class TagParser {
  /** Tags that could not become labels (no key, or an invalid label name). */
  errors = 0;

  constructor(private readonly styles: TagStyles) {}

  /**
   * Splits name-embedded tags from `raw` into `labels`. Returns the bare name, or null when
   * the line mixes a name-embedded style with DogStatsD tags (`mixed_tagging_styles`).
   */
  nameTags(raw: string, labels: Map<string, string>, hasDogTags: boolean): string | null {
    const o = this.styles;
    let name = raw;
    let found = false;
    if (o.signalfx) {
      const open = name.indexOf('[');
      const close = name.indexOf(']');
      if (open !== -1 && close > open) {
        found = true;
        this.kvList(name.slice(open + 1, close), '=', labels);
        name = name.slice(0, open) + name.slice(close + 1);
      } else if (open !== -1 || close !== -1) {
        // Malformed brackets (statsd_exporter panics on `]` before `[`): the name stays as sent.
        this.errors++;
        return name;
      }
    }
    if (!found && (o.librato || o.influx)) {
      const i = firstOf(name, o.librato, o.influx);
      if (i !== -1) {
        found = true;
        this.kvList(name.slice(i + 1), '=', labels);
        name = name.slice(0, i);
      }
    }
    if (found && hasDogTags && o.dogstatsd) return null;
    return name;
  }

  /** DogStatsD tags `k:v,k2:v2` (the text after `|#`); does nothing when the style is off. */
  dogTags(list: string, labels: Map<string, string>): void {
    if (!this.styles.dogstatsd) return;
    for (const part of list.split(',')) {
      if (part === '') continue;
      const tag = part.charCodeAt(0) === 35 /* # */ ? part.slice(1) : part;
      const i = tag.indexOf(':');
      if (i === 0 || i === tag.length - 1 || tag === '') {
        this.errors++;
        continue;
      }
      if (i === -1) this.set(tag, 'true', labels);
      else this.set(tag.slice(0, i), tag.slice(i + 1), labels);
    }
  }

  private kvList(list: string, sep: string, labels: Map<string, string>): void {
    for (const part of list.split(',')) {
      if (part === '') continue;
      const i = part.indexOf(sep);
      if (i <= 0 || i === part.length - 1) {
        this.errors++;
        continue;
      }
      this.set(part.slice(0, i), part.slice(i + 1), labels);
    }
  }

  private set(key: string, value: string, labels: Map<string, string>): void {
    const k = escapeMetricName(key);
    if (!isValidLabelName(k)) {
      this.errors++;
      return;
    }
    labels.set(k, value);
  }
}

/** Index of the first Librato `#` or InfluxDB `,` (each only when its style is on), or -1. */
function firstOf(name: string, librato: boolean, influx: boolean): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c === 35 && librato) || (c === 44 && influx)) return i;
  }
  return -1;
}
