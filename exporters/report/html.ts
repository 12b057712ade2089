/**
 * `redline report --out FILE.html`: one self-contained file — the verdict banner, load against
 * throughput and latency, each group's saturation ratios against the load with the onsets
 * marked, and the knee (throughput and latency against load). The chart library (uPlot) and the
 * data are inlined, so the file opens offline and can be attached to a ticket.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AnalysisSnapshot } from '../../analysis/stage.js';
import type { HistoryData } from '../../analysis/history.js';
import { bucketQuantile, fmtSeconds } from '../../analysis/steps.js';
import { loadText, reportJson, sutReading, verdictText, verdictTitle, type ReportJson } from '../../analysis/summary.js';
import { RESOURCES, resourceDefinition } from '../../analysis/thresholds.js';
import type { Comparison } from './baseline.js';

const require = createRequire(import.meta.url);
let uplotCache: { js: string; css: string } | null = null;

function uplot(): { js: string; css: string } {
  uplotCache ??= {
    js: fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
  return uplotCache;
}

/** Most points drawn per series; longer histories are reduced (max per bucket for ratios and latency). */
export const MAX_POINTS = 1500;

interface ChartData {
  title: string;
  /** Column 0 is x. */
  columns: Array<Array<number | null>>;
  series: Array<{ label: string; scale: string; kind?: 'step' | 'points'; dash?: boolean }>;
  scales: Record<string, { label: string; min?: number; max?: number; unit: 'ratio' | 'rps' | 'seconds' | 'count' }>;
  xKind: 'time' | 'load';
  /** Vertical markers at these x values. */
  marks: Array<{ x: number; label: string }>;
  /** Horizontal lines on a scale (thresholds). */
  hlines: Array<{ y: number; scale: string; label: string }>;
  id: string;
}

type Agg = 'mean' | 'max';

function reduce(t: readonly number[], cols: ReadonlyArray<{ values: ReadonlyArray<number | null>; agg: Agg }>): Array<Array<number | null>> {
  const n = t.length;
  const k = Math.max(1, Math.ceil(n / MAX_POINTS));
  if (k === 1) return [t.slice(), ...cols.map((c) => c.values.slice())];
  const out: Array<Array<number | null>> = [[], ...cols.map(() => [])];
  for (let i = 0; i < n; i += k) {
    out[0]!.push(t[i]!);
    cols.forEach((c, ci) => {
      let s = 0;
      let m = -Infinity;
      let cnt = 0;
      for (let j = i; j < Math.min(n, i + k); j++) {
        const v = c.values[j];
        if (v === null || v === undefined) continue;
        s += v;
        m = Math.max(m, v);
        cnt++;
      }
      out[ci + 1]!.push(cnt === 0 ? null : c.agg === 'max' ? m : s / cnt);
    });
  }
  return out;
}

/** Latency quantiles per row, over a trailing window of a few rows (one row holds few requests). */
function latencyColumns(h: HistoryData, window = 5): Array<Array<number | null>> {
  const qs = [0.5, 0.95, 0.99];
  const out: Array<Array<number | null>> = qs.map(() => []);
  const sums = h.latencyBuckets.map(() => 0);
  for (let i = 0; i < h.t.length; i++) {
    h.latencyBuckets.forEach((b, bi) => {
      sums[bi]! += b[i] ?? 0;
      if (i >= window) sums[bi]! -= b[i - window] ?? 0;
    });
    qs.forEach((q, qi) => out[qi]!.push(bucketQuantile(q, h.latencyBounds, sums.map((v) => Math.max(0, v)))));
  }
  return out;
}

export function charts(s: AnalysisSnapshot): ChartData[] {
  const h = s.history;
  const kind = s.steps[0]?.loadKind ?? 'injector_processes';
  const load = kind === 'active_users' ? h.activeUsers : h.injectorProcesses;
  const loadLabel = kind === 'active_users' ? 'active users' : 'injector processes';
  const achieved = h.requestsRps.map((r, i) => (r === null ? null : Math.max(0, r - (h.errorsRps[i] ?? 0))));
  const [p50, p95, p99] = latencyColumns(h);
  const marks = s.verdict.crossings.map((c) => ({ x: c.onset, label: `${c.group} ${resourceDefinition(c.resource).title}` }));
  const out: ChartData[] = [];
  out.push({
    id: 'load-throughput',
    title: 'Load and throughput',
    xKind: 'time',
    columns: reduce(h.t, [
      { values: load, agg: 'max' },
      { values: h.offeredRps, agg: 'mean' },
      { values: achieved, agg: 'mean' },
    ]),
    series: [
      { label: loadLabel, scale: 'load', kind: 'step' },
      { label: 'offered requests/s', scale: 'rps', dash: true },
      { label: 'achieved requests/s', scale: 'rps' },
    ],
    scales: { load: { label: loadLabel, min: 0, unit: 'count' }, rps: { label: 'requests/s', min: 0, unit: 'rps' } },
    marks,
    hlines: [],
  });
  out.push({
    id: 'load-latency',
    title: 'Load and latency',
    xKind: 'time',
    columns: reduce(h.t, [
      { values: load, agg: 'max' },
      { values: p50!, agg: 'max' },
      { values: p95!, agg: 'max' },
      { values: p99!, agg: 'max' },
    ]),
    series: [
      { label: loadLabel, scale: 'load', kind: 'step' },
      { label: 'latency p50', scale: 's' },
      { label: 'latency p95', scale: 's' },
      { label: 'latency p99', scale: 's' },
    ],
    scales: { load: { label: loadLabel, min: 0, unit: 'count' }, s: { label: 'latency', min: 0, unit: 'seconds' } },
    marks,
    hlines: [],
  });
  // One chart per group: every resource's ratio, the load, the thresholds and the onsets.
  const groups = new Map<string, typeof h.ratios>();
  for (const r of h.ratios) {
    const k = `${r.role}\u0000${r.group}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const ordered = [...groups.entries()].sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
  for (const [, rs] of ordered) {
    const g = rs[0]!;
    const thresholds = [...new Set(rs.map((r) => resourceDefinition(r.resource).saturatedAt[r.role]))];
    out.push({
      id: `ratio-${g.role}-${g.group}`,
      title: `${g.role === 'sut' ? 'SUT' : 'Injector'} ${g.group}: saturation against load`,
      xKind: 'time',
      columns: reduce(h.t, [{ values: load, agg: 'max' }, ...rs.map((r) => ({ values: r.values, agg: 'max' as const }))]),
      series: [{ label: loadLabel, scale: 'load', kind: 'step' }, ...rs.map((r) => ({ label: resourceDefinition(r.resource).title, scale: 'ratio' }))],
      scales: { load: { label: loadLabel, min: 0, unit: 'count' }, ratio: { label: 'saturation (1 = at its limit)', min: 0, max: 1, unit: 'ratio' } },
      marks: s.verdict.crossings.filter((c) => c.group === g.group && c.role === g.role).map((c) => ({ x: c.onset, label: `onset: ${resourceDefinition(c.resource).title}` })),
      hlines: thresholds.map((y) => ({ y, scale: 'ratio', label: `saturated at ${y}` })),
    });
  }
  // The knee: per step, throughput and latency against the load.
  out.push({
    id: 'knee',
    title: 'The knee: throughput and latency p95 against load (one point per step)',
    xKind: 'load',
    columns: [s.steps.map((x) => x.load), s.steps.map((x) => x.achievedRps), s.steps.map((x) => x.latencyP95Seconds)],
    series: [
      { label: 'achieved requests/s', scale: 'rps', kind: 'points' },
      { label: 'latency p95', scale: 's', kind: 'points' },
    ],
    scales: { rps: { label: 'requests/s', min: 0, unit: 'rps' }, s: { label: 'latency p95', min: 0, unit: 'seconds' } },
    marks: s.knee.load !== null ? [{ x: s.knee.load, label: `knee: step ${s.knee.step}` }] : [],
    hlines: [],
  });
  return out;
}

const pct = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(0)}%`);
const esc = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** JSON safe inside a <script> element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

export interface HtmlOptions {
  title?: string;
  source: string;
  baseline?: Comparison | null;
}

export function renderHtml(s: AnalysisSnapshot, opts: HtmlOptions): string {
  const { js, css } = uplot();
  const json: ReportJson = reportJson(s);
  const limit = json.verdict.limit;
  const banner = verdictTitle(s.verdict);
  const text = verdictText(s.verdict, s.knee, s.steps);
  const span = s.history.t.length ? `${new Date(s.history.t[0]! * 1000).toISOString()} – ${new Date(s.history.t[s.history.t.length - 1]! * 1000).toISOString()}` : 'no data';
  const rows = s.steps
    .map((st) => {
      const sat = st.saturation.filter((x) => x.saturated).map((x) => `${esc(x.group)} ${esc(resourceDefinition(x.resource).title)}`).join(', ');
      return `<tr${s.knee.step === st.step ? ' class="knee"' : ''}><td>${st.step}</td><td>${esc(loadText(st))}</td><td>${st.offeredRps === null ? '–' : st.offeredRps.toFixed(1)}</td><td>${st.achievedRps.toFixed(1)}</td><td>${fmtSeconds(st.latencyP50Seconds)}</td><td>${fmtSeconds(st.latencyP95Seconds)}</td><td>${fmtSeconds(st.latencyP99Seconds)}</td><td>${(st.errorRatio * 100).toFixed(1)}%</td><td>${pct(st.hostCpu)}</td><td>${pct(sutReading(st, RESOURCES.cpu_thread.resource, 'mean'))}</td><td>${pct(sutReading(st, RESOURCES.accept_queue.resource, 'peak'))}</td><td>${sat || '–'}</td></tr>`;
    })
    .join('\n');
  const cmp = opts.baseline ? baselineHtml(opts.baseline) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="redline report">
<title>${esc(opts.title ?? 'Redline report')} — ${esc(banner)}</title>
<style>${css}
:root{--fg:#1b1b1b;--bg:#fff;--muted:#5f6368;--grid:#e3e3e3;--ok:#1a7f37;--bad:#b3261e;--warn:#8a5300}
@media (prefers-color-scheme: dark){:root{--fg:#e8e8e8;--bg:#17181a;--muted:#a0a4a8;--grid:#34363a;--ok:#56d364;--bad:#ff7b72;--warn:#e3b341}}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:1rem 1.25rem 3rem}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}
.banner{border-left:.5rem solid var(--ok);padding:.6rem 1rem;margin:1rem 0;background:color-mix(in srgb,var(--ok) 10%,transparent)}
.banner.sut{border-color:var(--bad);background:color-mix(in srgb,var(--bad) 10%,transparent)}
.banner.injector,.banner.both{border-color:var(--warn);background:color-mix(in srgb,var(--warn) 12%,transparent)}
.banner strong{font-size:1.15rem;display:block}
.muted{color:var(--muted)}table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{padding:.2rem .6rem;text-align:right;border-bottom:1px solid var(--grid)}th{font-weight:600}
td:nth-child(2),td:last-child,th:last-child{text-align:left}tr.knee td{font-weight:700}
#steps td:not(:last-child){white-space:nowrap}
.chart{margin:.5rem 0 1.2rem}.chart h3{font-size:.95rem;margin:.3rem 0}
.u-legend{font-size:12px}.u-legend .u-marker{border-radius:2px}
</style></head>
<body>
<h1>${esc(opts.title ?? 'Redline report')}</h1>
<div class="muted">${esc(opts.source)} · ${esc(span)}</div>
<div id="verdict" class="banner ${limit === 'none' ? 'ok' : limit}" role="status"><strong>${esc(banner)}</strong>${esc(text)}</div>
${cmp}
<h2>Steps</h2>
<table id="steps"><thead><tr><th>step</th><th>load</th><th>offered/s</th><th>achieved/s</th><th>p50</th><th>p95</th><th>p99</th><th>errors</th><th>host CPU</th><th>SUT CPU</th><th>accept queue</th><th>saturated</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="10">no ramp steps seen</td></tr>'}
</tbody></table>
<div id="charts"></div>
<script id="report-json" type="application/json">${scriptJson(json)}</script>
<script>${js}</script>
<script>
(function(){
var CHARTS=${scriptJson(charts(s))};
var PALETTE=['#0072B2','#E69F00','#009E73','#CC79A7','#56B4E9','#D55E00','#F0E442','#000000'];
var css=getComputedStyle(document.documentElement);
var FG=css.getPropertyValue('--fg').trim()||'#1b1b1b',GRID=css.getPropertyValue('--grid').trim()||'#e3e3e3',BAD=css.getPropertyValue('--bad').trim()||'#b3261e';
function fmt(unit,v){if(v==null)return'–';if(unit==='ratio')return (v*100).toFixed(0)+'%';if(unit==='seconds')return v<1?(v*1000).toFixed(v<0.01?1:0)+' ms':v.toFixed(2)+' s';if(unit==='rps')return v.toFixed(v<10?1:0)+'/s';return String(Math.round(v*10)/10);}
var root=document.getElementById('charts');
CHARTS.forEach(function(c){
  var box=document.createElement('section');box.className='chart';box.id='chart-'+c.id;
  var h=document.createElement('h3');h.textContent=c.title;box.appendChild(h);root.appendChild(box);
  var scaleKeys=Object.keys(c.scales);
  var scales={x:c.xKind==='time'?{time:true}:{time:false}};
  scaleKeys.forEach(function(k){var s=c.scales[k];scales[k]={auto:true,range:function(u,min,max){var lo=s.min!=null?s.min:min,hi=s.max!=null?s.max:(max>lo?max*1.05:lo+1);return [lo,hi];}};});
  var axes=[{stroke:FG,grid:{stroke:GRID},label:c.xKind==='time'?'time':(c.series[0]&&c.xKind==='load'?'load':''),values:c.xKind==='time'?undefined:function(u,vals){return vals.map(function(v){return String(v);});}}];
  scaleKeys.forEach(function(k,i){var s=c.scales[k];axes.push({scale:k,side:i===0?3:1,stroke:FG,grid:{show:i===0,stroke:GRID},label:s.label,size:60,values:function(u,vals){return vals.map(function(v){return fmt(s.unit,v);});}});});
  var series=[{label:c.xKind==='time'?'time':'load'}];
  c.series.forEach(function(s,i){var col=PALETTE[i%PALETTE.length];var o={label:s.label,scale:s.scale,stroke:col,width:s.kind==='step'?1.5:2,value:function(u,v){return fmt(c.scales[s.scale].unit,v);}};
    if(s.kind==='step'){o.paths=uPlot.paths.stepped({align:1});o.fill=col+'22';}
    if(s.kind==='points'){o.paths=uPlot.paths.linear();o.points={show:true,size:9,fill:col};}
    if(s.dash)o.dash=[6,4];series.push(o);});
  var marks=c.marks,hl=c.hlines;
  var opts={width:Math.min(1160,root.clientWidth||1160),height:260,scales:scales,axes:axes,series:series,legend:{live:true},
    hooks:{draw:[function(u){var ctx=u.ctx;ctx.save();
      hl.forEach(function(l){var y=u.valToPos(l.y,l.scale,true);ctx.strokeStyle=BAD;ctx.setLineDash([3,3]);ctx.lineWidth=1;ctx.beginPath();ctx.moveTo(u.bbox.left,y);ctx.lineTo(u.bbox.left+u.bbox.width,y);ctx.stroke();});
      marks.forEach(function(m,mi){var x=u.valToPos(m.x,'x',true);if(x<u.bbox.left||x>u.bbox.left+u.bbox.width)return;ctx.strokeStyle=BAD;ctx.setLineDash([]);ctx.lineWidth=2;ctx.beginPath();ctx.moveTo(x,u.bbox.top);ctx.lineTo(x,u.bbox.top+u.bbox.height);ctx.stroke();ctx.fillStyle=BAD;ctx.font=(12*devicePixelRatio)+'px system-ui,sans-serif';ctx.fillText(m.label,x+4*devicePixelRatio,u.bbox.top+(14+14*mi)*devicePixelRatio);});
      ctx.restore();}]}};
  new uPlot(opts,c.columns,box);
  box.setAttribute('data-drawn','1');
});
document.body.setAttribute('data-charts',String(CHARTS.length));
})();
</script>
</body></html>
`;
}

function baselineHtml(c: Comparison): string {
  const row = (label: string, a: string, b: string, d: string): string => `<tr><td>${esc(label)}</td><td>${esc(a)}</td><td>${esc(b)}</td><td>${esc(d)}</td></tr>`;
  return `<h2>Against the baseline</h2>
<table id="baseline"><thead><tr><th>what</th><th>this run</th><th>baseline</th><th>delta</th></tr></thead><tbody>
${c.rows.map((r) => row(r.what, r.current, r.baseline, r.delta)).join('\n')}
</tbody></table>`;
}
