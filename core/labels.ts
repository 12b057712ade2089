/**
 * Label helpers shared by every source and sink: escaping for the exposition formats and the
 * statsd_exporter-compatible name escaping.
 */

/** Escapes a label value for Prometheus text and OpenMetrics: backslash, double quote, newline. */
export function escapeLabelValue(value: string): string {
  // Fast path: most values need no escaping, and a regex test is cheaper than three replaces.
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text (backslash and newline, as the text format requires). */
export function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Serialises a label set once, in the given key order, as `{a="x",b="y"}` (or `` when empty).
 * Callers sort the names first when the order is not already fixed.
 */
export function serialiseLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += `${names[i]}="${escapeLabelValue(values[i] ?? '')}"`;
  }
  return out + '}';
}

const VALID_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const VALID_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidMetricName(name: string): boolean {
  return VALID_METRIC_NAME.test(name);
}

export function isValidLabelName(name: string): boolean {
  return VALID_LABEL_NAME.test(name) && !name.startsWith('__');
}

/**
 * Escapes a statsd name the way statsd_exporter's `EscapeMetricName` does: every character
 * outside `[A-Za-z0-9_]` becomes `_`, a leading digit gets a `_` prefix, and a run of dashes
 * becomes a single `_` (so `a--b` and `a---b` both become `a_b`).
 */
export function escapeMetricName(name: string): string {
  if (name.length === 0) return name;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name;
  let out = '';
  const first = name.charCodeAt(0);
  if (first >= 48 && first <= 57) out = '_';
  let prevDash = false;
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95) {
      out += ch;
      prevDash = false;
    } else if (c === 45 && prevDash) {
      // Go's loop keeps the previous rune as '-' while it skips, so the whole run is one '_'.
      continue;
    } else {
      out += '_';
      prevDash = c === 45;
    }
  }
  return out;
}
