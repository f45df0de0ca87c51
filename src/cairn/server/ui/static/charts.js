// Every chart of the dashboard, drawn with Apache ECharts.
//
// Metric charts are honest: the server sends an envelope of each series (per bucket its first,
// last, min and max point, so a single spike among a million points survives), and the page
// asks for no more points than it can draw: about two per pixel of the chart's width. Zooming
// fetches the visible window again, at full resolution once it holds few enough points.
// NaN and ±inf are never dropped: they leave a gap in the line and get a marker on the edge
// of the chart (▲ inf at the top, ▼ -inf and ◆ NaN at the bottom).
// A metric logged once (scikit-learn's training_score, a final test accuracy) has no line to
// draw: one run's is shown as its value, written large; several runs' as a bar each, labelled
// with its value. A lone point among other runs' lines gets a marker big enough to see.
// Every value shown to people (tooltips, axis labels, notes) is written by display.js, which
// answers as cairn.core.display does, so a tooltip and the table beside it read the same.
"use strict";

(function () {
  const display = window.cairnDisplay;
  const PALETTE = ["#2f6fdf", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#e67700", "#5c940d",
    "#a61e4d", "#1864ab", "#862e9c", "#d9480f", "#087f5b", "#364fc7", "#5f3dc4", "#c92a2a", "#2b8a3e",
    "#495057", "#f08c00", "#0c8599"];
  const POINTS_PER_PIXEL = 2;
  const MAX_POINTS = 20000;
  const ZOOM_DEBOUNCE_MS = 250;

  // ECharts arrives on its own (async); data requests do not wait for it.
  const echartsReady = new Promise((resolve) => {
    if (window.echarts) return resolve(window.echarts);
    const tag = document.querySelector("script[data-echarts]");
    tag.addEventListener("load", () => resolve(window.echarts));
  });

  const dark = () => window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const settings = readSettings();

  function readSettings() {
    const params = new URLSearchParams(location.search);
    return {
      smoothing: Math.min(0.99, Math.max(0, parseFloat(params.get("smooth") || "0") || 0)),
      xAxis: ["step", "time", "relative"].includes(params.get("x")) ? params.get("x") : "step",
      log: params.get("log") === "1",
    };
  }
  function writeSettings() {
    // Chart settings live in the URL too, so a shared link shows the same charts.
    const params = new URLSearchParams(location.search);
    settings.smoothing > 0 ? params.set("smooth", String(settings.smoothing)) : params.delete("smooth");
    settings.xAxis !== "step" ? params.set("x", settings.xAxis) : params.delete("x");
    settings.log ? params.set("log", "1") : params.delete("log");
    const query = params.toString();
    history.replaceState(history.state, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }

  function parseValue(v) {
    if (typeof v === "number") return v;
    if (v === "NaN") return NaN;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    return Number(v);
  }

  // A param whose float is NaN or infinite keeps its type on the wire as {"float": "NaN"}.
  function paramFromWire(v) {
    const wrapped = v !== null && typeof v === "object" && Object.keys(v).length === 1 && "float" in v;
    return wrapped && ["NaN", "Infinity", "-Infinity"].includes(v.float) ? parseValue(v.float) : v;
  }

  async function fetchHistory(runId, key, maxPoints, window) {
    const params = new URLSearchParams({ key, max_points: String(maxPoints) });
    if (window) { params.set("step_min", String(window[0])); params.set("step_max", String(window[1])); }
    const response = await fetch(`/api/v1/runs/${encodeURIComponent(runId)}/metrics/history?${params}`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    }
    const data = await response.json();
    return {
      steps: data.steps,
      timestamps: data.timestamps,
      values: data.values.map(parseValue),
      total: data.total,
      downsampled: data.downsampled,
    };
  }

  // TensorBoard's debiased exponential moving average; non-finite points pass through unsmoothed.
  function smooth(values, weight) {
    if (weight <= 0) return values;
    let last = 0, count = 0;
    return values.map((v) => {
      if (!Number.isFinite(v)) return v;
      last = last * weight + (1 - weight) * v;
      count += 1;
      return last / (1 - Math.pow(weight, count));
    });
  }

  function xOf(series, i) {
    if (settings.xAxis === "time") return series.timestamps[i];
    if (settings.xAxis === "relative") return (series.timestamps[i] - series.start) / 1000;
    return series.steps[i];
  }

  class MetricChart {
    constructor(figure) {
      this.figure = figure;
      this.key = figure.dataset.key;
      this.runs = JSON.parse(figure.dataset.runs);
      this.canvas = figure.querySelector(".chart-canvas");
      this.note = figure.querySelector(".chart-note");
      this.overview = [];   // per run: the whole series, as an envelope
      this.detail = null;   // per run: the zoomed window, or null
      this.window = null;   // [stepMin, stepMax] of the detail
      this.chart = null;    // made once ECharts has loaded
    }

    maxPoints() {
      const width = this.canvas.clientWidth || 600;
      return Math.max(100, Math.min(MAX_POINTS, Math.round(width * POINTS_PER_PIXEL)));
    }

    async load() {
      try {
        this.overview = await Promise.all(this.runs.map((run) => this.fetch(run, null)));
      } catch (error) {
        this.note.textContent = `Could not load ${this.key}: ${error.message}`;
        this.figure.dataset.state = "error";
        return;
      }
      this.shape = this.shapeOf();
      this.figure.dataset.shape = this.shape;
      if (this.shape === "value") {
        this.showValue();
        this.figure.dataset.state = "drawn";
        return;
      }
      await echartsReady;
      this.chart = echarts.init(this.canvas, dark() ? "dark" : null, { renderer: "canvas" });
      this.chart.on("datazoom", () => this.onZoom());
      new ResizeObserver(() => this.chart.resize()).observe(this.canvas);
      this.draw();
      this.figure.dataset.state = "drawn";
    }

    // "value" when the only run has one point, "bars" when no run has more than one, else
    // "line". The whole series is fetched (never a window) before this is asked, so a total of
    // 1 is the metric's one point, not one point of a zoomed view.
    shapeOf() {
      if (this.overview.some((s) => s.total > 1)) return "line";
      return this.runs.length === 1 ? "value" : "bars";
    }

    // One run, one point: the value as the tables write it, no axes to read it from.
    showValue() {
      const s = this.overview[0];
      const value = document.createElement("div");
      value.className = "chart-value";
      value.textContent = display.number(s.values[0]);
      this.canvas.hidden = true;
      this.canvas.after(value);
      this.note.textContent = `the only point, logged at step ${s.steps[0]}`;
      this.figure.dataset.downsampled = "false";
    }

    async fetch(run, window) {
      const history = await fetchHistory(run.id, this.key, this.maxPoints(), window);
      history.run = run;
      history.start = history.timestamps.length ? history.timestamps[0] : 0;
      return history;
    }

    // The points to draw for run i: the overview, with the zoomed window replaced by its detail.
    merged(i) {
      const whole = this.overview[i];
      const part = this.detail && this.detail[i];
      if (!part) return whole;
      const [lo, hi] = this.window;
      const out = { steps: [], timestamps: [], values: [], start: whole.start, run: whole.run };
      const push = (s, k) => { out.steps.push(s.steps[k]); out.timestamps.push(s.timestamps[k]); out.values.push(s.values[k]); };
      let k = 0;
      for (; k < whole.steps.length && whole.steps[k] < lo; k++) push(whole, k);
      for (let j = 0; j < part.steps.length; j++) push(part, j);
      for (; k < whole.steps.length; k++) if (whole.steps[k] > hi) push(whole, k);
      return out;
    }

    draw() {
      if (this.shape === "bars") return this.drawBars();
      const series = [];
      const marks = [];
      let hidden = 0;
      this.overview.forEach((_, i) => {
        const data = this.merged(i);
        const color = PALETTE[i % PALETTE.length];
        const name = data.run.name;
        const smoothed = smooth(data.values, settings.smoothing);
        // Each point is [x, y drawn or null for a gap, the value the tooltip shows]: a gap's
        // tooltip still says what is there (NaN, or a value ≤ 0 on the log scale).
        const line = [], raw = [];
        data.values.forEach((v, k) => {
          const x = xOf(data, k);
          const y = smoothed[k];
          const drawable = Number.isFinite(v) && !(settings.log && v <= 0);
          if (Number.isFinite(v) && settings.log && v <= 0) hidden += 1;
          line.push([x, drawable ? y : null, y]);
          raw.push([x, drawable ? v : null, v]);
          if (!Number.isFinite(v)) {
            const kind = Number.isNaN(v) ? "NaN" : v > 0 ? "+inf" : "-inf";
            marks.push({ value: [x, kind === "+inf" ? 0.97 : 0.03], kind, metric: v, step: data.steps[k], run: name, color });
          }
        });
        if (settings.smoothing > 0) {
          series.push({ type: "line", name: name + " (raw)", data: raw, showSymbol: false, connectNulls: false,
            lineStyle: { width: 1, opacity: 0.25, color }, itemStyle: { color }, silent: true, z: 1, large: true });
        }
        // A run's lone point among the others' lines is a marker, with no line to lead the eye to it.
        series.push({ type: "line", name, data: line, showSymbol: line.length < 60, symbolSize: line.length === 1 ? 10 : 4, connectNulls: false,
          lineStyle: { width: 1.5, color }, itemStyle: { color }, z: 2, sampling: undefined, large: line.length > 5000 });
      });
      if (marks.length) {
        series.push({
          type: "scatter", name: "NaN / ±inf", yAxisIndex: 1, z: 3,
          data: marks.map((m) => ({ value: m.value, kind: m.kind, metric: m.metric, step: m.step, run: m.run, itemStyle: { color: m.color } })),
          symbol: (_, params) => (params.data.kind === "NaN" ? "diamond" : "triangle"),
          symbolRotate: (_, params) => (params.data.kind === "-inf" ? 180 : 0),
          symbolSize: 9,
          itemStyle: { borderWidth: 2 },
          tooltip: { trigger: "item", formatter: (p) => html`${p.data.run}: ${display.number(p.data.metric)} at step ${p.data.step}` },
        });
      }
      const timeAxis = settings.xAxis === "time";
      const several = this.runs.length > 1;
      const option = {
        animation: false,
        useUTC: true,  // the dashboard's times are in UTC (core/display.py says why)
        backgroundColor: "transparent",
        color: PALETTE,
        legend: several ? { type: "scroll", top: 0, data: this.runs.map((r) => r.name), textStyle: { fontSize: 11 } } : { show: false },
        grid: { left: 56, right: 16, top: several ? 30 : 16, bottom: 56 },
        tooltip: { trigger: "axis", axisPointer: { type: "line" }, formatter: axisTooltip },
        xAxis: {
          type: timeAxis ? "time" : "value", scale: true, minInterval: settings.xAxis === "step" ? 1 : 0,
          name: settings.xAxis === "relative" ? "seconds" : settings.xAxis, nameLocation: "end", nameGap: 4,
          // Time ticks are ECharts' own compact labels (in UTC); steps and seconds as numbers.
          axisLabel: timeAxis ? { hideOverlap: true } : { hideOverlap: true, formatter: xTick },
        },
        yAxis: [
          { type: settings.log ? "log" : "value", scale: true, axisLabel: { formatter: display.number } },
          { type: "value", min: 0, max: 1, show: false },
        ],
        dataZoom: [
          { type: "inside", xAxisIndex: 0, filterMode: "none" },
          { type: "slider", xAxisIndex: 0, filterMode: "none", height: 18, bottom: 6 },
        ],
        series,
      };
      const zoom = this.chart.getOption() && this.chart.getOption().dataZoom;
      this.chart.setOption(option, { notMerge: true });
      if (zoom && zoom[0]) this.chart.dispatchAction({ type: "dataZoom", start: zoom[0].start, end: zoom[0].end, silent: true });
      this.describe(marks, hidden);
    }

    // Several runs, one point each at most: a bar per run, in its colour, labelled with its value.
    // Bars start at zero (a bar's length is its value), so the log scale, smoothing and the x
    // axis do not apply; NaN and ±inf have no length and are a label on an empty bar.
    drawBars() {
      const logged = this.overview.map((s, i) => ({ s, i })).filter(({ s }) => s.values.length);
      const data = logged.map(({ s, i }) => {
        const v = s.values[0];
        return { value: Number.isFinite(v) ? v : 0, metric: v, step: s.steps[0], run: s.run.name,
          itemStyle: { color: PALETTE[i % PALETTE.length] } };
      });
      this.chart.setOption({
        animation: false,
        backgroundColor: "transparent",
        grid: { left: 8, right: 64, top: 12, bottom: 8, containLabel: true },
        // Run names reach the page through this tooltip's innerHTML; the axis labels are canvas text.
        tooltip: { trigger: "item", formatter: (p) => html`${p.data.run}: ${display.number(p.data.metric)} at step ${p.data.step}` },
        xAxis: { type: "value", axisLabel: { formatter: display.number, hideOverlap: true } },
        yAxis: { type: "category", inverse: true, data: logged.map(({ s }) => s.run.name),
          axisLabel: { width: 140, overflow: "truncate" } },
        series: [{ type: "bar", name: this.key, data, barMaxWidth: 22,
          label: { show: true, position: "right", formatter: (p) => display.number(p.data.metric) } }],
      }, { notMerge: true });
      const missing = this.runs.length - logged.length;
      this.note.textContent = `one point per run, its value on each bar` +
        (missing ? ` · ${display.plural(missing, "run")} did not log it` : "");
      this.figure.dataset.downsampled = "false";
    }

    describe(marks, hidden) {
      const shown = this.overview.map((s, i) => (this.detail ? this.detail[i] : s));
      const where = this.window ? `steps ${this.window[0]}–${this.window[1]}: ` : "";
      const reduced = shown.filter((s) => s.downsampled);
      let parts;
      if (this.runs.length === 1) {
        const s = shown[0];
        parts = [where + (s.downsampled
          ? `envelope of ${display.plural(s.total, "point")} (min and max of each bucket kept)`
          : `all ${display.plural(s.total, "point")}`)];
      } else if (!reduced.length) {
        parts = [where + `all points of every run (${shown.map((s) => s.total).reduce((a, b) => a + b, 0)})`];
      } else {
        parts = [where + `envelope (min and max of each bucket kept) for ${reduced.length} of ${shown.length} runs; all points for the others`];
      }
      const nonFinite = marks.length ? ` · ${marks.length} NaN/±inf marked` : "";
      const logNote = hidden ? ` · ${hidden} values ≤ 0 not drawn on the log scale` : "";
      this.note.textContent = parts.join(" · ") + nonFinite + logNote;
      this.figure.dataset.downsampled = String(this.overview.some((s, i) => (this.detail ? this.detail[i] : s).downsampled));
    }

    onZoom() {
      clearTimeout(this.zoomTimer);
      this.zoomTimer = setTimeout(() => this.refetchWindow(), ZOOM_DEBOUNCE_MS);
    }

    // The visible x range, as the steps of the loaded points just outside it.
    visibleSteps() {
      const axis = this.chart.getModel().getComponent("xAxis", 0).axis;
      const [lo, hi] = axis.scale.getExtent();
      let stepMin = Infinity, stepMax = -Infinity, all = true;
      for (const s of this.overview) {
        for (let k = 0; k < s.steps.length; k++) {
          const x = xOf(s, k);
          if (x < lo || x > hi) { all = false; continue; }
          stepMin = Math.min(stepMin, s.steps[Math.max(0, k - 1)]);
          stepMax = Math.max(stepMax, s.steps[Math.min(s.steps.length - 1, k + 1)]);
        }
      }
      if (all || !Number.isFinite(stepMin)) return null;
      return [stepMin, stepMax];
    }

    async refetchWindow() {
      const window = this.visibleSteps();
      if (!window) {
        if (this.detail) { this.detail = null; this.window = null; this.draw(); }
        return;
      }
      const token = (this.zoomToken = (this.zoomToken || 0) + 1);
      this.figure.dataset.state = "zooming";
      const detail = await Promise.all(this.runs.map((run) => this.fetch(run, window)));
      if (token !== this.zoomToken) return;  // a newer zoom won
      detail.forEach((d, i) => { d.start = this.overview[i].start; });
      this.detail = detail;
      this.window = window;
      this.draw();
      this.figure.dataset.state = "drawn";
      this.figure.dataset.window = window.join("-");
    }
  }

  // ECharts writes a formatter's result into the tooltip with innerHTML. Every formatter builds
  // its HTML with this tag, which escapes each interpolated value: names, keys and labels are
  // the user's data, and a run named "<img onerror=…>" must show as those characters. Only the
  // template's literal text (a <br>) is markup.
  function html(strings, ...values) {
    return strings.reduce((out, text, i) => out + escapeHtml(values[i - 1]) + text);
  }
  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // The x value of a metric chart as the run page writes it: a step as the integer it is, a time
  // in UTC, time since the run's first point as a duration.
  function xText(x) {
    if (settings.xAxis === "time") return display.timestamp(x);
    if (settings.xAxis === "relative") return display.duration(Math.round(x * 1000));
    return Number.isInteger(x) ? String(x) : display.number(x);
  }
  // An x tick: as xText, but seconds stay numbers on the axis named "seconds".
  function xTick(x) {
    return settings.xAxis === "relative" ? display.number(x) : xText(x);
  }

  // The axis tooltip of a metric chart: the x value, then each line's value at it. ECharts' own
  // would write the values its way; the series' markers are ECharts' markup, the rest is escaped.
  function axisTooltip(items) {
    const lines = items.filter((p) => p.seriesType === "line");
    if (!lines.length) return "";
    return html`${xText(lines[0].axisValue)}` + lines.map((p) =>
      "<br>" + p.marker + html`${p.seriesName} <strong>${display.number(p.value[2])}</strong>`).join("");
  }

  // -- metric charts: drawn when they scroll into view ------------------------------------------
  const charts = [];
  function setUpMetricCharts(root) {
    const figures = root.querySelectorAll(".metric-chart:not([data-state])");
    if (!figures.length) return;
    const observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        observer.unobserve(entry.target);
        entry.target.dataset.state = "loading";
        const chart = new MetricChart(entry.target);
        entry.target.cairnChart = chart;
        charts.push(chart);
        chart.load();
      }
    }, { rootMargin: "200px" });
    figures.forEach((figure) => observer.observe(figure));
  }

  function setUpControls() {
    const smoothing = document.getElementById("smoothing");
    if (!smoothing || smoothing.dataset.ready) return;
    smoothing.dataset.ready = "1";
    const output = document.getElementById("smoothing-value");
    const xAxis = document.getElementById("x-axis");
    const log = document.getElementById("log-scale");
    smoothing.value = String(settings.smoothing);
    output.textContent = String(settings.smoothing);
    xAxis.value = settings.xAxis;
    log.checked = settings.log;
    const redraw = () => { writeSettings(); charts.forEach((c) => c.chart && c.draw()); };
    smoothing.addEventListener("input", () => { settings.smoothing = parseFloat(smoothing.value); output.textContent = smoothing.value; redraw(); });
    xAxis.addEventListener("change", () => {
      settings.xAxis = xAxis.value;
      charts.forEach((c) => { c.detail = null; c.window = null; if (c.chart) c.chart.dispatchAction({ type: "dataZoom", start: 0, end: 100, silent: true }); });
      redraw();
    });
    log.addEventListener("change", () => { settings.log = log.checked; redraw(); });
  }

  // -- compare: parallel coordinates and scatter ------------------------------------------------
  function setUpCompare() {
    const source = document.getElementById("compare-data");
    const parallelBox = document.getElementById("parallel-chart");
    if (!source || !parallelBox) return;
    // Integer params stay BigInt, as Python's ints; non-finite values come in the wire format.
    const runs = display.parseJson(source.textContent).map((r) => ({
      ...r,
      params: Object.fromEntries(Object.entries(r.params).map(([k, v]) => [k, paramFromWire(v)])),
      metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, parseValue(v)])),
    }));
    const theme = dark() ? "dark" : null;
    const parallel = echarts.init(parallelBox, theme);
    const scatter = echarts.init(document.getElementById("scatter-chart"), theme);
    // A column of numbers is a value axis; any other is a category axis whose names are the
    // values as the diff table above writes them.
    const axisFor = (name, values) => {
      const numeric = values.every((v) => v == null || typeof v === "number" || typeof v === "bigint");
      if (numeric) return { name, type: "value", scale: true, axisLabel: { formatter: display.number } };
      const categories = [...new Set(values.filter((v) => v != null).map(display.value))];
      return { name, type: "category", data: categories };
    };
    const plotted = (axis, v) => (v == null ? null : axis.type === "category" ? display.value(v) : Number(v));
    function drawParallel() {
      const keys = [...document.querySelectorAll("#parallel-axes input:checked")].map((box) => box.value);
      const metric = document.getElementById("parallel-metric").value;
      const columns = keys.map((k) => ({ label: k, get: (r) => r.params[k] }))
        .concat([{ label: metric, get: (r) => r.metrics[metric] }]);
      const axes = columns.map((c) => axisFor(c.label, runs.map(c.get)));
      const parallelAxis = axes.map((axis, i) => ({ dim: i, ...axis, nameTextStyle: { fontSize: 11 } }));
      parallel.setOption({
        animation: false, backgroundColor: "transparent",
        parallel: { left: 40, right: 60, top: 40, bottom: 24 },
        parallelAxis,
        tooltip: { trigger: "item", formatter: (p) => html`${p.name}` },
        series: [{ type: "parallel", lineStyle: { width: 2, opacity: 0.85 },
          data: runs.map((r, i) => ({ name: r.name, value: columns.map((c, k) => plotted(axes[k], c.get(r))), lineStyle: { color: PALETTE[i % PALETTE.length] } })) }],
      }, { notMerge: true });
    }
    function drawScatter() {
      const x = document.getElementById("scatter-x").value;
      const y = document.getElementById("scatter-y").value;
      const xs = runs.map((r) => r.params[x]);
      const xAxis = axisFor(x, xs);
      scatter.setOption({
        animation: false, backgroundColor: "transparent",
        grid: { left: 60, right: 20, top: 36, bottom: 50 },
        tooltip: { trigger: "item", formatter: (p) => html`${p.data.name}<br>${x} = ${display.value(p.data.param)}<br>${y} = ${display.value(p.data.metric)}` },
        xAxis: { ...xAxis, nameLocation: "middle", nameGap: 28 },
        yAxis: { type: "value", scale: true, name: y, axisLabel: { formatter: display.number } },
        series: [{ type: "scatter", symbolSize: 12,
          data: runs.map((r, i) => ({ name: r.name, param: r.params[x], metric: r.metrics[y],
            value: [plotted(xAxis, r.params[x]), plotted({}, r.metrics[y])], itemStyle: { color: PALETTE[i % PALETTE.length] } })) }],
      }, { notMerge: true });
    }
    document.querySelectorAll("#parallel-axes input, #parallel-metric").forEach((el) => el.addEventListener("change", drawParallel));
    document.querySelectorAll("#scatter-x, #scatter-y").forEach((el) => el.addEventListener("change", drawScatter));
    drawParallel();
    drawScatter();
    parallelBox.dataset.state = "drawn";
    [parallel, scatter].forEach((c) => new ResizeObserver(() => c.resize()).observe(c.getDom()));
  }

  function setUpLegend() {
    document.querySelectorAll(".swatch[data-index]").forEach((swatch) => {
      swatch.style.background = PALETTE[Number(swatch.dataset.index) % PALETTE.length];
    });
  }

  // -- confusion matrix heatmap -------------------------------------------------------------------
  function setUpConfusionMatrix() {
    const box = document.querySelector(".confusion-matrix");
    if (!box || box.dataset.state) return;
    const data = JSON.parse(box.dataset.matrix);
    const n = data.labels.length;
    box.style.height = Math.min(720, 120 + n * 36) + "px";
    const cells = [];
    let max = 0;
    data.counts.forEach((row, i) => row.forEach((count, j) => { cells.push([j, i, count]); max = Math.max(max, count); }));
    const chart = echarts.init(box, dark() ? "dark" : null);
    chart.setOption({
      animation: false, backgroundColor: "transparent",
      // A count is an integer, which String writes as Python's str() does (display.number would round it).
      tooltip: { formatter: (p) => html`true ${data.labels[p.value[1]]}, predicted ${data.labels[p.value[0]]}: ${p.value[2]}` },
      grid: { left: 80, right: 30, top: 20, bottom: 70 },
      xAxis: { type: "category", data: data.labels, name: "predicted", nameLocation: "middle", nameGap: 30 },
      yAxis: { type: "category", data: data.labels, inverse: true, name: "true", nameLocation: "middle", nameGap: 50 },
      visualMap: { min: 0, max: Math.max(1, max), calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120 },
      series: [{ type: "heatmap", data: cells, label: { show: n <= 20 } }],
    });
    box.dataset.state = "drawn";
  }


  function onLoad(root) {
    setUpControls();
    setUpMetricCharts(root);
    setUpLegend();
    echartsReady.then(() => { setUpCompare(); setUpConfusionMatrix(); });
  }
  if (window.htmx) htmx.onLoad(onLoad);
  else document.addEventListener("DOMContentLoaded", () => onLoad(document));
  window.cairnCharts = charts;  // for the browser tests: they read what a chart drew
})();
