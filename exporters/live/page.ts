/**
 * The live view's HTML shell. The panels are filled in by app.js from the snapshot; the shell
 * carries the verdict banner, the range and run pickers and the agent's links in a corner, so the
 * page reads before the first chart draws.
 */
import type { About } from './model.js';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderPage(about: About, telemetryPath: string): string {
  const p = esc(telemetryPath);
  const status = about.lines.map((l) => `<li>${esc(l)}</li>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Redline — live load test</title>
<link rel="icon" href="/live/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/live/uplot/uPlot.min.css">
<link rel="stylesheet" href="/live/assets/app.css">
<script src="/live/uplot/uPlot.iife.min.js" defer></script>
<script src="/live/assets/app.js" defer></script>
</head>
<body>
<a class="skip" href="#panels">Skip to the charts</a>
<header class="top">
  <h1>Redline <span class="sub">live load test</span></h1>
  <div class="controls">
    <fieldset class="range" aria-label="Time range">
      <legend>Range</legend>
      <label><input type="radio" name="range" value="5m" checked> 5 min</label>
      <label><input type="radio" name="range" value="30m"> 30 min</label>
      <label><input type="radio" name="range" value="all"> whole run</label>
    </fieldset>
    <a class="report" href="/live/report.html" download>Download report</a>
    <label class="run" hidden>Run <select id="run" aria-label="Environment and run"></select></label>
  </div>
  <nav class="corner" aria-label="Agent">
    <details>
      <summary>Agent ${esc(about.version)}</summary>
      <ul>
        <li><a href="${p}">${p}</a> metrics (Prometheus text, OpenMetrics when asked)</li>
        <li><a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a> health and readiness</li>
        <li><a href="/api/v1/live?range=all">/api/v1/live</a> this view's data (JSON)</li>
        <li>SIGHUP reloads the mapping; <code>POST /-/reload</code> too with <code>--web.enable-lifecycle</code></li>
      </ul>
      <ul class="status" id="status">${status}</ul>
    </details>
  </nav>
</header>
<section id="verdict" class="verdict" role="status" aria-live="polite" data-state="ok">
  <span class="verdict-icon" aria-hidden="true">●</span>
  <span class="verdict-text">Waiting for the first second of data…</span>
  <span class="verdict-onset"></span>
</section>
<section id="empty-groups" class="empty-groups" role="status" aria-live="polite" hidden></section>
<main id="panels" tabindex="-1">
  <noscript>The live view needs JavaScript; the metrics are at <a href="${p}">${p}</a>.</noscript>
</main>
<footer class="foot"><span id="updated">not connected</span></footer>
</body>
</html>
`;
}
