/* Redline live view: draws /api/v1/live and follows /api/v1/live/events (one tick a second).
 * Plain browser script, no build step; uPlot is served by the agent from the package. */
'use strict';
(function () {
  const RANGES = { '5m': 300, '30m': 1800, all: null };
  const state = {
    range: '5m',
    run: null,
    snap: null,
    /** Time axis in seconds (uPlot's unit) and one value array per catalogue series. */
    t: [],
    cols: [],
    charts: [],
    byId: new Map(),
    verdict: null,
    knees: [],
    emptyGroups: [],
    es: null,
    refetching: false,
    pendingRefetch: false,
    ticks: 0,
    lastTickAt: 0,
    updateMs: [],
    firstDrawMs: null,
  };
  // Exposed for the tests, the screenshot script and anyone curious in the console.
  window.__redline = state;

  // ---------------------------------------------------------------- formatting and theme

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  /** Okabe–Ito colours: distinguishable with every common colour-vision deficiency. */
  const palette = () => [css('--c1'), css('--c2'), css('--c3'), css('--c4'), css('--c5'), css('--c6'), css('--c7')];
  const DASHES = [[], [8, 4], [2, 3], [12, 3, 2, 3], [4, 4]];

  function si(v, digits) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(digits) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(digits) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(digits) + 'k';
    return v.toFixed(a < 10 && a !== Math.round(a) ? Math.max(digits, 1) : 0);
  }
  const UNITS = {
    processes: { axis: 'processes', fmt: (v) => v.toFixed(v === Math.round(v) ? 0 : 1) },
    users: { axis: 'users', fmt: (v) => v.toFixed(v === Math.round(v) ? 0 : 1) },
    'req/s': { axis: 'requests / s', fmt: (v) => si(v, 1) + ' req/s' },
    seconds: {
      axis: 'latency',
      fmt: (v) => (v >= 1 ? v.toFixed(2) + ' s' : v >= 0.001 ? (v * 1000).toPrecision(3) + ' ms' : v === 0 ? '0 ms' : (v * 1e6).toPrecision(3) + ' µs'),
    },
    ratio: { axis: '% of limit', fmt: (v) => (v * 100).toFixed(v < 0.1 ? 1 : 0) + ' %' },
    percent: { axis: 'errors, % of requests', fmt: (v) => (v * 100).toFixed(v < 0.01 ? 2 : 1) + ' %' },
    'lines/s': { axis: 'lines / s', fmt: (v) => si(v, 1) + '/s' },
  };
  /** Axis tick labels: the axis title carries the unit, except where the number alone would mislead. */
  function tickLabel(unit, v) {
    if (unit === 'ratio' || unit === 'percent') return Math.round(v * 1000) / 10 + ' %';
    if (unit === 'seconds') return v >= 1 || v === 0 ? v + ' s' : Math.round(v * 1e6) / 1e3 + ' ms';
    return si(v, 1);
  }
  const fmt = (unit, v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : UNITS[unit].fmt(v));
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  const duration = (s) => (s >= 3600 ? Math.floor(s / 3600) + ' h ' : '') + (s >= 60 ? Math.floor((s % 3600) / 60) + ' min ' : '') + Math.floor(s % 60) + ' s';
  const fontPx = () => parseFloat(getComputedStyle(document.documentElement).fontSize) || 14;

  // ---------------------------------------------------------------- data

  async function fetchSnapshot() {
    if (state.refetching) {
      state.pendingRefetch = true;
      return;
    }
    state.refetching = true;
    try {
      const res = await fetch('/api/v1/live?range=' + state.range, { cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const snap = await res.json();
      state.snap = snap;
      state.t = snap.t.map((ms) => ms / 1000);
      state.cols = snap.values;
      state.verdict = snap.verdict;
      state.knees = snap.knees;
      state.emptyGroups = snap.emptyGroups || [];
      build();
    } catch (err) {
      setUpdated('cannot read the agent: ' + err.message);
    } finally {
      state.refetching = false;
      if (state.pendingRefetch) {
        state.pendingRefetch = false;
        void fetchSnapshot();
      }
    }
  }

  function connect() {
    const es = new EventSource('/api/v1/live/events');
    state.es = es;
    es.onmessage = (e) => onTick(JSON.parse(e.data));
    es.onerror = () => setUpdated('disconnected; reconnecting…');
  }

  function onTick(tick) {
    const t0 = performance.now();
    state.ticks++;
    state.lastTickAt = Date.now();
    // Whatever is done with it (drawn, or a fresh snapshot fetched for a new layout), data arrived.
    setUpdated('updated ' + clock(tick.t));
    if (!state.snap || tick.catalogVersion !== state.snap.catalogVersion) {
      // A series appeared (a group, a run, a reason): draw the new layout from a fresh snapshot.
      void fetchSnapshot();
      return;
    }
    const ts = tick.t / 1000;
    if (state.t.length > 0 && ts <= state.t[state.t.length - 1]) return;
    state.t.push(ts);
    for (let i = 0; i < state.cols.length; i++) state.cols[i].push(tick.values[i] ?? null);
    const span = RANGES[state.range];
    let drop = 0;
    if (span !== null) while (drop < state.t.length && state.t[drop] < ts - span) drop++;
    else if (state.t.length > 3600) {
      // The whole run grows past what is worth drawing point by point: let the agent thin it.
      void fetchSnapshot();
      return;
    }
    if (drop > 0) {
      state.t.splice(0, drop);
      for (const c of state.cols) c.splice(0, drop);
    }
    state.verdict = tick.verdict;
    state.knees = tick.knees;
    state.emptyGroups = tick.emptyGroups || [];
    renderVerdict();
    renderEmptyGroups();
    for (const ch of state.charts) ch.dirty = true;
    scheduleDraw();
    state.updateMs.push(performance.now() - t0);
    if (state.updateMs.length > 600) state.updateMs.shift();
  }

  function setUpdated(text) {
    document.getElementById('updated').textContent = text;
  }

  // ---------------------------------------------------------------- verdict

  const RESOURCE_NAMES = {};
  function resourceName(resource) {
    return RESOURCE_NAMES[resource] || resource.replace(/_/g, ' ');
  }

  function renderVerdict() {
    const v = state.verdict;
    const el = document.getElementById('verdict');
    if (!v) return;
    el.dataset.state = v.state;
    const loadAt = (ms) => {
      const i = state.t.findIndex((t) => t * 1000 >= ms);
      const li = state.byId.get('load.injectors');
      if (i < 0 || li === undefined) return '';
      const n = state.cols[li][i];
      return n === null || n === undefined ? '' : ' at ' + n + ' injector process' + (n === 1 ? '' : 'es');
    };
    const part = (s) => s.group + ': ' + resourceName(s.resource) + ' at ' + fmt('ratio', s.ratio);
    let text;
    if (v.state === 'ok') text = state.t.length === 0 ? 'Waiting for data…' : 'OK — nothing saturated';
    else if (v.state === 'sut_saturated') text = 'SUT saturated — ' + part(v.sut);
    else if (v.state === 'injector_saturated') text = 'Injector saturated — results invalid — ' + part(v.injector);
    else text = 'SUT and injector saturated — results invalid — SUT ' + part(v.sut) + '; injector ' + part(v.injector);
    el.querySelector('.verdict-text').textContent = text;
    const first = v.sut && v.injector ? (v.sut.onsetMs <= v.injector.onsetMs ? v.sut : v.injector) : v.sut || v.injector;
    el.querySelector('.verdict-onset').textContent = first
      ? 'since ' + clock(first.onsetMs) + loadAt(first.onsetMs) + ' (' + duration((Date.now() - first.onsetMs) / 1000) + ' ago)'
      : '';
    el.dataset.group = first ? first.group : '';
    el.dataset.resource = first ? first.resource : '';
  }

  /** One line per declared group that matches no process: its charts would stay empty without a word. */
  function renderEmptyGroups() {
    const el = document.getElementById('empty-groups');
    const list = state.emptyGroups;
    const key = list.map((g) => g.group).join('\n');
    if (list.length === 0) {
      el.hidden = true;
      el.replaceChildren();
      el.dataset.groups = '';
      return;
    }
    el.hidden = false;
    if (el.dataset.groups !== key) {
      el.dataset.groups = key;
      el.replaceChildren(
        ...list.map((g) => {
          const p = document.createElement('p');
          p.className = 'empty-group';
          p.dataset.group = g.group;
          const b = document.createElement('b');
          b.textContent = g.group;
          p.append('group ', b, ' matches no process ', document.createElement('span'));
          return p;
        }),
      );
    }
    const now = Date.now();
    for (const p of el.querySelectorAll('p.empty-group')) {
      const g = list.find((x) => x.group === p.dataset.group);
      if (g) p.querySelector('span').textContent = 'for ' + duration(Math.max(0, (now - g.sinceMs) / 1000)) + ' — check its pattern (--sut / --injector NAME=PATTERN, or process_groups in the config)';
    }
  }

  // ---------------------------------------------------------------- layout

  function visibleSeries() {
    const snap = state.snap;
    const runs = snap.runs;
    const sel = document.getElementById('run');
    const picker = sel.closest('.run');
    if (runs.length > 1) {
      picker.hidden = false;
      const keys = runs.map((r) => r.key);
      if (state.run === null || !keys.includes(state.run)) state.run = keys.find((k) => k !== '') ?? keys[0];
      sel.replaceChildren(
        ...runs.map((r) => {
          const o = document.createElement('option');
          o.value = r.key;
          o.textContent = r.key === '' ? '(no env/run label)' : [r.env && 'env ' + r.env, r.run && 'run ' + r.run].filter(Boolean).join(', ');
          o.selected = r.key === state.run;
          return o;
        }),
      );
    } else {
      picker.hidden = true;
      state.run = runs.length === 1 ? runs[0].key : '';
    }
    return snap.series.map((s, i) => ({ ...s, col: i })).filter((s) => s.run === undefined || s.run === state.run);
  }

  const ALL_RUNS = 'Steps, knee, saturation and the verdict are those of every load test on this agent together: the analysis does not split them by env/run.';

  function section(parent, title, note) {
    const s = document.createElement('section');
    s.className = 'panel-group';
    const h = document.createElement('h2');
    h.textContent = title;
    s.append(h);
    for (const n of Array.isArray(note) ? note : [note]) {
      if (!n) continue;
      const p = document.createElement('p');
      p.className = n === ALL_RUNS ? 'note all-runs' : 'note';
      p.textContent = n;
      s.append(p);
    }
    parent.append(s);
    const grid = document.createElement('div');
    grid.className = 'grid';
    s.append(grid);
    return grid;
  }

  function build() {
    for (const ch of state.charts) ch.u?.destroy();
    state.charts = [];
    state.byId = new Map(state.snap.series.map((s, i) => [s.id, i]));
    for (const s of state.snap.series) if (s.resource) RESOURCE_NAMES[s.resource] = s.name;
    const main = document.getElementById('panels');
    main.replaceChildren();
    const vis = visibleSeries();
    const of = (panel) => vis.filter((s) => s.panel === panel);
    const loadCol = state.byId.get('load.injectors');
    const usersCol = vis.find((s) => s.id.startsWith('load.users'))?.col;
    const loadRef = loadCol !== undefined ? { col: loadCol, unit: 'processes', name: 'injector processes' } : usersCol !== undefined ? { col: usersCol, unit: 'users', name: 'active users' } : null;

    const top = section(main, 'Load and results');
    top.classList.add('wide');
    timeChart(top, 'load', 'Load: injector processes and active users', of('load'), { twoAxes: true });
    timeChart(top, 'throughput', 'Throughput: offered vs achieved', of('throughput'));
    timeChart(top, 'latency', 'Latency p50 / p95 / p99', of('latency'));
    timeChart(top, 'errors', 'Error rate', of('errors'), { min: 0 });

    const groups = (panel) => {
      const m = new Map();
      for (const s of of(panel)) {
        if (!m.has(s.group)) m.set(s.group, []);
        m.get(s.group).push(s);
      }
      return m;
    };
    // With several load tests on one agent, say which parts the picker does not split.
    const allRuns = state.snap.runs.length > 1 ? ALL_RUNS : null;
    const sut = groups('saturation');
    if (sut.size === 0) {
      section(main, 'SUT saturation', 'No system-under-test group yet: start the agent with --sut NAME=PATTERN (or process_groups in the config).');
    }
    for (const [group, list] of sut) {
      const grid = section(main, 'SUT saturation: ' + group, ['Each signal as a share of its limit (solid line at 100 %), the verdict threshold dashed, the load in grey.', allRuns]);
      grid.classList.add('small');
      for (const s of list) ratioChart(grid, s, loadRef);
    }

    const kneeGrid = section(main, 'The knee: throughput and latency against the load', allRuns);
    kneeChart(kneeGrid, 'knee.throughput', 'Achieved throughput against the load', 'req/s');
    kneeChart(kneeGrid, 'knee.latency', 'p95 latency against the load', 'seconds');

    const inj = groups('injector');
    if (inj.size === 0) section(main, 'Injector health', 'No injector group yet: start the agent with --injector NAME=PATTERN.');
    for (const [group, list] of inj) {
      const grid = section(main, 'Injector health: ' + group, 'An injector past its threshold no longer sends the load it was asked for: results are invalid from then on.');
      grid.classList.add('small');
      for (const s of list) ratioChart(grid, s, loadRef);
    }

    const intake = section(main, "The agent's intake");
    timeChart(intake, 'intake', 'Statsd lines received, rejected and dropped', of('intake'), { min: 0 });

    renderVerdict();
    renderEmptyGroups();
    observe();
    scheduleDraw();
  }

  // ---------------------------------------------------------------- charts

  function chartBox(parent, id, title, seriesList) {
    const fig = document.createElement('figure');
    fig.className = 'chart';
    fig.dataset.chartId = id;
    fig.tabIndex = 0;
    const cap = document.createElement('figcaption');
    const h = document.createElement('h3');
    h.textContent = title;
    const legend = document.createElement('div');
    legend.className = 'legend';
    cap.append(h, legend);
    const plot = document.createElement('div');
    plot.className = 'plot';
    fig.append(cap, plot);
    parent.append(fig);
    const chips = seriesList.map((s, i) => {
      const chip = document.createElement('span');
      chip.className = 'chip';
      chip.dataset.seriesId = s.id;
      const sw = document.createElement('i');
      sw.className = 'swatch dash' + (i % DASHES.length);
      sw.style.setProperty('--swatch', s.color);
      const name = document.createElement('span');
      name.textContent = s.name + ' ';
      const val = document.createElement('b');
      chip.append(sw, name, val);
      legend.append(chip);
      return { s, val, chip };
    });
    return { fig, plot, chips };
  }

  function baseOpts(plot, height) {
    const ink = css('--ink');
    const grid = css('--grid');
    const font = fontPx();
    return {
      width: Math.max(120, plot.clientWidth),
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      axisFont: Math.round(font * 0.8) + 'px system-ui, sans-serif',
      labelFont: Math.round(font * 0.8) + 'px system-ui, sans-serif',
      ink,
      grid,
    };
  }

  function axis(b, unit, side, label, scale) {
    return {
      scale,
      side,
      stroke: b.ink,
      grid: { stroke: b.grid, width: 1, show: side === 3 },
      ticks: { stroke: b.grid },
      font: b.axisFont,
      labelFont: b.labelFont,
      label,
      labelSize: Math.round(fontPx() * 1.2),
      size: (u, values) => {
        if (!values) return 50;
        const w = Math.max(...values.map((v) => String(v).length));
        return Math.round(fontPx() * 0.55 * w + fontPx() * 1.2);
      },
      values: (u, splits) => splits.map((v) => (v === null ? '' : tickLabel(unit, v))),
    };
  }

  /** Time ticks on the 24-hour clock the verdict line uses: seconds only when ticks are under a minute apart. */
  function timeTicks(u, splits, axisIdx, space, incr) {
    const opts = incr < 60 ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', hour12: false };
    return splits.map((v) => (v === null ? '' : new Date(v * 1000).toLocaleTimeString([], opts)));
  }

  function timeAxis(b) {
    return { stroke: b.ink, grid: { stroke: b.grid, width: 1 }, ticks: { stroke: b.grid }, font: b.axisFont, labelFont: b.labelFont, label: 'time', labelSize: Math.round(fontPx() * 1.2), values: timeTicks, space: Math.round(fontPx() * 4.5) };
  }

  function colorize(list) {
    const pal = palette();
    return list.map((s, i) => ({ ...s, color: pal[i % pal.length], dash: DASHES[i % DASHES.length] }));
  }

  function timeChart(parent, id, title, list, o = {}) {
    list = colorize(list);
    const { fig, plot, chips } = chartBox(parent, id, title, list);
    const units = [...new Set(list.map((s) => s.unit))];
    const height = Math.round(fontPx() * 13);
    const chart = {
      id,
      fig,
      chips,
      list,
      u: null,
      dirty: true,
      visible: false,
      data: () => [state.t, ...list.map((s) => state.cols[s.col])],
      make: () => {
        const b = baseOpts(plot, height);
        const scaleOf = (s) => (o.twoAxes && s.unit !== units[0] ? 'y2' : 'y');
        const axes = [timeAxis(b), axis(b, units[0] || 'processes', 3, UNITS[units[0] || 'processes'].axis, 'y')];
        if (o.twoAxes && units.length > 1) axes.push(axis(b, units[1], 1, UNITS[units[1]].axis, 'y2'));
        return new uPlot(
          {
            width: b.width,
            height,
            legend: b.legend,
            cursor: b.cursor,
            // Room on the right for the last time label when no axis stands there.
            padding: axes.length > 2 ? undefined : [Math.round(fontPx() * 0.6), Math.round(fontPx() * 2.2), 0, 0],
            scales: { x: { time: true }, y: { range: (u, min, max) => [o.min ?? Math.min(0, min), max > 0 ? max * 1.1 : 1] }, y2: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
            axes,
            series: [{}, ...list.map((s) => ({ label: s.name, stroke: s.color, width: 2, dash: s.dash, scale: scaleOf(s), spanGaps: false, paths: s.panel === 'load' ? uPlot.paths.stepped({ align: 1 }) : undefined, points: { show: false } }))],
          },
          chart.data(),
          plot,
        );
      },
    };
    fig.setAttribute('aria-label', title);
    if (list.length === 0) {
      fig.classList.add('empty');
      plot.textContent = 'No data yet.';
    }
    register(chart, plot);
    return chart;
  }

  /** Draws a horizontal line at each value of the y scale (the limit and the threshold). */
  function levels(lines) {
    return {
      hooks: {
        draw: (u) => {
          const ctx = u.ctx;
          ctx.save();
          for (const l of lines) {
            const y = Math.round(u.valToPos(l.value, 'y', true)) + 0.5;
            ctx.strokeStyle = l.color;
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash(l.dash.map((d) => d * devicePixelRatio));
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
          }
          ctx.restore();
        },
      },
    };
  }

  function ratioChart(parent, s, loadRef) {
    const list = colorize([s]);
    const withLoad = loadRef ? [...list, { id: 'load', name: loadRef.name, unit: loadRef.unit, col: loadRef.col, color: css('--load'), dash: [] }] : list;
    const { fig, plot, chips } = chartBox(parent, s.id, s.name, withLoad);
    const height = Math.round(fontPx() * 9);
    const chart = {
      id: s.id,
      fig,
      chips,
      list: withLoad,
      u: null,
      dirty: true,
      visible: false,
      data: () => [state.t, ...withLoad.map((x) => state.cols[x.col])],
      make: () => {
        const b = baseOpts(plot, height);
        const axes = [timeAxis(b), axis(b, 'ratio', 3, '% of limit', 'y')];
        if (loadRef) axes.push(axis(b, loadRef.unit, 1, UNITS[loadRef.unit].axis, 'y2'));
        return new uPlot(
          {
            width: b.width,
            height,
            legend: b.legend,
            cursor: b.cursor,
            scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1.1, max * 1.05)] }, y2: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
            axes,
            plugins: [levels([{ value: s.limit ?? 1, color: css('--limit'), dash: [] }, { value: s.threshold ?? 0.9, color: css('--threshold'), dash: [6, 4] }])],
            series: [
              {},
              { label: s.name, stroke: list[0].color, width: 2, fill: css('--fill'), points: { show: false } },
              ...(loadRef ? [{ label: loadRef.name, stroke: css('--load'), width: 1.5, scale: 'y2', paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } }] : []),
            ],
          },
          chart.data(),
          plot,
        );
      },
    };
    fig.setAttribute('aria-label', s.group + ' ' + s.name);
    register(chart, plot);
  }

  function kneeChart(parent, id, title, unit) {
    const list = colorize([{ id, name: unit === 'req/s' ? 'achieved' : 'p95', unit }]);
    const { fig, plot, chips } = chartBox(parent, id, title, list);
    const height = Math.round(fontPx() * 13);
    const knee = () => state.knees.find((k) => k.run === state.run) ?? state.knees[0] ?? { steps: [], kneeIndex: null };
    const chart = {
      id,
      fig,
      chips,
      list,
      u: null,
      dirty: true,
      visible: false,
      knee,
      data: () => {
        const k = knee();
        return [k.steps.map((s) => s.load), k.steps.map((s) => (unit === 'req/s' ? s.throughput : s.p95Seconds))];
      },
      make: () => {
        const b = baseOpts(plot, height);
        const k = knee();
        const loadUnit = k.steps[0]?.loadUnit ?? 'processes';
        const mark = {
          hooks: {
            draw: (u) => {
              const kk = knee();
              if (kk.kneeIndex === null) return;
              const x = Math.round(u.valToPos(kk.steps[kk.kneeIndex].load, 'x', true)) + 0.5;
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = css('--limit');
              ctx.fillStyle = css('--limit');
              ctx.lineWidth = 2 * devicePixelRatio;
              ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.font = Math.round(fontPx() * 0.8 * devicePixelRatio) + 'px system-ui, sans-serif';
              // At the foot of the line (the knee's own point is high: throughput flat, latency up),
              // right of it, or left when there is no room past it.
              const w = ctx.measureText('knee').width;
              const pad = 4 * devicePixelRatio;
              const tx = x + pad + w > u.bbox.left + u.bbox.width ? x - pad - w : x + pad;
              ctx.fillText('knee', tx, u.bbox.top + u.bbox.height - pad);
              ctx.restore();
            },
          },
        };
        return new uPlot(
          {
            width: b.width,
            height,
            legend: b.legend,
            cursor: b.cursor,
            scales: { x: { time: false, range: (u, min, max) => [0, (max || 1) * 1.1] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
            axes: [
              { ...timeAxis(b), label: 'load: ' + UNITS[loadUnit].axis, values: (u, sp) => sp.map((v) => fmt(loadUnit, v)) },
              axis(b, unit, 3, UNITS[unit].axis, 'y'),
            ],
            plugins: [mark],
            series: [{}, { label: list[0].name, stroke: list[0].color, width: 2, points: { show: true, size: fontPx() * 0.7, fill: list[0].color } }],
          },
          chart.data(),
          plot,
        );
      },
    };
    fig.setAttribute('aria-label', title);
    register(chart, plot);
  }

  // ---------------------------------------------------------------- drawing only what is seen

  let observer = null;
  function observe() {
    observer?.disconnect();
    observer = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const ch = state.charts.find((c) => c.fig === e.target);
          if (!ch) continue;
          ch.visible = e.isIntersecting;
        }
        scheduleDraw();
      },
      { rootMargin: '200px' },
    );
    for (const ch of state.charts) observer.observe(ch.fig);
  }

  function register(chart, plot) {
    chart.plot = plot;
    state.charts.push(chart);
  }

  let drawQueued = false;
  function scheduleDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      draw();
    });
  }

  /** Charts out of view are drawn too, but at most every `OFFSCREEN_EVERY` ticks and in idle time. */
  const OFFSCREEN_EVERY = 10;
  let offscreenQueued = false;
  function drawOffscreen() {
    offscreenQueued = false;
    const deadline = performance.now() + 8;
    for (const ch of state.charts) {
      if (ch.visible || !ch.dirty || ch.list.length === 0) continue;
      if (ch.u !== null && state.ticks - (ch.drawnAt ?? 0) < OFFSCREEN_EVERY) continue;
      drawOne(ch);
      if (performance.now() > deadline) {
        queueOffscreen();
        return;
      }
    }
  }
  function queueOffscreen() {
    if (offscreenQueued) return;
    offscreenQueued = true;
    (window.requestIdleCallback || ((f) => setTimeout(f, 50)))(drawOffscreen, { timeout: 2000 });
  }

  function drawOne(ch) {
    ch.dirty = false;
    ch.drawnAt = state.ticks;
    const data = ch.data();
    if (ch.u === null) ch.u = ch.make();
    else ch.u.setData(data);
    ch.fig.dataset.points = String(data[0].length);
    updateChips(ch, data);
  }

  function draw() {
    queueOffscreen();
    for (const ch of state.charts) {
      if (!ch.visible || !ch.dirty) continue;
      if (ch.list.length === 0) {
        ch.dirty = false;
        continue;
      }
      drawOne(ch);
    }
    // When every chart in view first stood drawn (the benchmark's "page loaded"), in ms since navigation.
    if (state.firstDrawMs === null && state.charts.some((c) => c.visible) && state.charts.every((c) => !c.visible || c.list.length === 0 || c.u !== null)) {
      state.firstDrawMs = performance.now();
    }
  }

  function lastValue(arr) {
    for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null && arr[i] !== undefined) return arr[i];
    return null;
  }

  function updateChips(ch, data) {
    ch.chips.forEach((c, i) => {
      const v = lastValue(data[i + 1] || []);
      c.val.textContent = fmt(c.s.unit, v);
      c.chip.dataset.value = v === null ? '' : String(v);
    });
    ch.fig.setAttribute('aria-label', ch.fig.querySelector('h3').textContent + ': ' + ch.chips.map((c) => c.s.name + ' ' + c.val.textContent).join(', '));
  }

  // ---------------------------------------------------------------- controls

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const ch of state.charts) if (ch.u) ch.u.setSize({ width: Math.max(120, ch.plot.clientWidth), height: ch.u.height });
    }, 100);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => state.snap && build());
  document.querySelectorAll('input[name=range]').forEach((r) =>
    r.addEventListener('change', () => {
      state.range = r.value;
      void fetchSnapshot();
    }),
  );
  document.getElementById('run').addEventListener('change', (e) => {
    state.run = e.target.value;
    build();
  });
  // Ages in the verdict line move even between ticks.
  setInterval(() => {
    renderVerdict();
    renderEmptyGroups();
  }, 1000);

  void fetchSnapshot().then(connect);
})();
