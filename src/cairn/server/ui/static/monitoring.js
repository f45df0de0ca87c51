// The monitoring tab's charts (server/ui/monitoring.py): drift per feature and window as a
// heatmap, one feature's reference and current histograms overlaid, serving per window.
//
// Everything drawn comes from the page's data attributes or from the histogram route's JSON;
// nothing is evaluated. Tooltips are HTML (ECharts writes them with innerHTML), so each is built
// with the html tag below, which escapes every interpolated value: a feature named
// "<img onerror=…>" shows as those characters. Axis labels are drawn on the canvas as text.
"use strict";

(function () {
  const display = window.cairnDisplay;
  const REFERENCE = "#868e96";
  const CURRENT = "#2f6fdf";
  const DRIFTED = "#c92a2a";

  const echartsReady = new Promise((resolve) => {
    if (window.echarts) return resolve(window.echarts);
    const tag = document.querySelector("script[data-echarts]");
    tag.addEventListener("load", () => resolve(window.echarts));
  });
  const dark = () => window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;

  function html(strings, ...values) {
    return strings.reduce((out, text, i) => out + escapeHtml(values[i - 1]) + text);
  }
  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  const num = (v) => (v === null || v === undefined ? "—" : display.number(v));
  // A window's start as its label: the day, and the hour when windows are shorter than a day.
  function windowLabel(w, severalVersions) {
    const text = display.timestamp(w.start).replace(/:00(\.000)?( UTC)?$/, "");
    const hourly = w.end - w.start < 86400000;
    const shown = hourly ? text : text.slice(0, 10);
    return severalVersions ? `${shown} v${w.version}` : shown;
  }

  const state = { heatmap: null, histogram: null, serving: null, drawn: null };
  window.cairnMonitoring = state; // for the browser tests: what each chart drew

  // -- the heatmap ------------------------------------------------------------------------------
  function drawHeatmap(box) {
    const data = JSON.parse(box.dataset.heatmap);
    const n = data.features.length;
    box.style.height = Math.min(900, Math.max(220, 90 + n * 32)) + "px";
    const labels = data.windows.map((w) => windowLabel(w, data.several_versions));
    const measured = [];
    const empty = [];
    for (const c of data.cells) {
      if (c.score === null) empty.push({ value: [c.x, c.y, 0], cell: c });
      else measured.push({ value: [c.x, c.y, c.score], cell: c, label: { show: c.drifted } });
    }
    const chart = echarts.init(box, dark() ? "dark" : null);
    chart.setOption({
      animation: false, backgroundColor: "transparent",
      tooltip: {
        formatter: (p) => {
          const c = p.data.cell;
          const w = data.windows[c.x];
          const head = html`<strong>${data.features[c.y]}</strong><br>${display.timestamp(w.start)} → ${display.timestamp(w.end)} · v${w.version} · ${w.rows} rows`;
          if (c.no_data) return head + "<br>no value logged in this window";
          if (c.score === null) return head + html`<br>${c.method}: ${num(c.value)}`;
          return head + html`<br>${c.method} ${num(c.value)} (threshold ${num(c.threshold)})` +
            (c.drifted ? "<br><strong>drifted</strong>" : "<br>not drifted") +
            (c.missing_rate ? html`<br>missing ${num(c.missing_rate * 100)} %` : "");
        },
      },
      grid: { left: 150, right: 90, top: 10, bottom: 70 },
      xAxis: { type: "category", data: labels, splitArea: { show: true }, axisLabel: { rotate: labels.length > 8 ? 40 : 0 } },
      yAxis: { type: "category", data: data.features, inverse: true,
        axisLabel: { width: 135, overflow: "truncate" } },
      visualMap: {
        min: 0, max: data.max_score, seriesIndex: 0, calculable: true, orient: "vertical", right: 0, top: "middle",
        itemHeight: 120, text: ["far", "same"], inRange: { color: ["#e7f5ff", "#74c0fc", "#ffd43b", "#f76707", DRIFTED] },
      },
      series: [
        { name: "drift", type: "heatmap", data: measured,
          label: { formatter: "✕", color: "#fff", fontWeight: "bold" },
          emphasis: { itemStyle: { borderColor: "#000", borderWidth: 1 } } },
        { name: "no data", type: "heatmap", data: empty, itemStyle: { color: dark() ? "#343a40" : "#e9ecef" },
          label: { show: true, formatter: "–", color: "#868e96" } },
      ],
    });
    chart.on("click", (p) => {
      const c = p.data && p.data.cell;
      if (!c) return;
      const w = data.windows[c.x];
      choose(data.features[c.y], w.start, w.version);
    });
    box.dataset.state = "drawn";
    box.dataset.drifted = JSON.stringify(
      data.cells.filter((c) => c.drifted).map((c) => [data.features[c.y], data.windows[c.x].start]));
    state.heatmap = { chart, data };
  }

  // -- the histograms ---------------------------------------------------------------------------
  let histogramChart = null;
  let asked = 0;

  function choose(feature, start, version) {
    const featureSelect = document.getElementById("histogram-feature");
    const windowSelect = document.getElementById("histogram-window");
    if (!featureSelect) return;
    featureSelect.value = feature;
    const option = [...windowSelect.options].find((o) => o.value === String(start) && o.dataset.version === String(version));
    if (option) option.selected = true;
    loadHistogram();
  }

  async function loadHistogram() {
    const controls = document.getElementById("histogram-controls");
    const box = document.getElementById("histogram-chart");
    const note = document.getElementById("histogram-note");
    const featureSelect = document.getElementById("histogram-feature");
    const windowSelect = document.getElementById("histogram-window");
    const option = windowSelect.selectedOptions[0];
    if (!option) return;
    const params = new URLSearchParams({
      monitor: controls.dataset.monitor, feature: featureSelect.value, start: option.value, version: option.dataset.version,
    });
    const mine = ++asked;
    box.dataset.state = "loading";
    let answer;
    try {
      const response = await fetch(controls.dataset.url + "?" + params.toString(), { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      answer = await response.json();
    } catch (error) {
      if (mine !== asked) return;
      note.textContent = `Could not load the distributions: ${error.message}`;
      box.dataset.state = "failed";
      return;
    }
    if (mine !== asked) return; // a newer choice is on its way
    await echartsReady;
    drawHistogram(box, note, featureSelect.value, answer);
  }

  function binLabels(h) {
    if (h.labels) return h.labels.map(String);
    const edges = h.edges || [];
    // Three significant digits: enough to tell bins apart, short enough to read under a bar.
    const short = (x) => display.number(Number(Number(x).toPrecision(3)));
    return edges.slice(0, -1).map((low, i) => `${short(low)} – ${short(edges[i + 1])}`);
  }

  function drawHistogram(box, note, feature, answer) {
    box.dataset.feature = feature;
    if (answer.no_data || !answer.histogram || !(answer.histogram.reference || []).length) {
      if (histogramChart) histogramChart.clear();
      note.textContent = `No data: ${answer.reason || "nothing to draw"}.`;
      box.dataset.state = "empty";
      state.drawn = { feature, answer };
      return;
    }
    const h = answer.histogram;
    const labels = binLabels(h);
    const percent = (shares) => shares.map((s) => (s === null ? 0 : s * 100));
    if (!histogramChart) histogramChart = echarts.init(box, dark() ? "dark" : null);
    histogramChart.setOption({
      animation: false, backgroundColor: "transparent",
      legend: { top: 0, data: ["reference", "current"] },
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" },
        formatter: (items) => html`${feature}: ${items[0].axisValue}` + items.map((p) =>
          "<br>" + p.marker + html`${p.seriesName} <strong>${num(p.value)} %</strong>`).join(""),
      },
      grid: { left: 50, right: 20, top: 30, bottom: 60 },
      xAxis: { type: "category", data: labels, axisLabel: { rotate: labels.length > 8 ? 35 : 0, width: 120, overflow: "truncate" } },
      yAxis: { type: "value", name: "% of rows" },
      // Overlaid: the current bars sit on the reference's (barGap -100%), half see-through.
      series: [
        { name: "reference", type: "bar", data: percent(h.reference), itemStyle: { color: REFERENCE, opacity: 0.55 }, barCategoryGap: "5%" },
        { name: "current", type: "bar", data: percent(h.current), barGap: "-100%",
          itemStyle: { color: answer.drifted ? DRIFTED : CURRENT, opacity: 0.55 } },
      ],
    }, true);
    const verdict = answer.drifted ? "drifted" : "not drifted";
    let text = `${feature}, window from ${display.timestamp(answer.start)} (v${answer.version}, ${answer.rows} rows): ` +
      `${answer.method} ${num(answer.value)} against a threshold of ${num(answer.threshold)}, ${verdict}.`;
    if (answer.out_of_range_rate) text += ` ${num(answer.out_of_range_rate * 100)} % outside the reference's range.`;
    if (answer.new_categories && answer.new_categories.length) text += ` New categories: ${answer.new_categories.join(", ")}.`;
    note.textContent = text; // text, never HTML
    box.dataset.state = "drawn";
    box.dataset.drifted = String(answer.drifted);
    state.drawn = { feature, answer };
  }

  // -- serving ----------------------------------------------------------------------------------
  function drawServing(box) {
    const rows = JSON.parse(box.dataset.serving);
    const labels = rows.map((r) => display.timestamp(r.start).slice(0, 16));
    const chart = echarts.init(box, dark() ? "dark" : null);
    chart.setOption({
      animation: false, backgroundColor: "transparent",
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        formatter: (items) => html`${items[0].axisValue}` + items.map((p) =>
          "<br>" + p.marker + html`${p.seriesName} <strong>${num(p.value)}</strong>`).join(""),
      },
      grid: { left: 60, right: 60, top: 30, bottom: 40 },
      xAxis: { type: "category", data: labels },
      yAxis: [{ type: "value", name: "predictions" }, { type: "value", name: "ms" }],
      series: [
        { name: "predictions", type: "bar", data: rows.map((r) => r.predictions), itemStyle: { color: "#a5d8ff" } },
        { name: "latency p50 (ms)", type: "line", yAxisIndex: 1, data: rows.map((r) => r.p50) },
        { name: "latency p95 (ms)", type: "line", yAxisIndex: 1, data: rows.map((r) => r.p95) },
      ],
    });
    box.dataset.state = "drawn";
    state.serving = chart;
  }

  // -- performance --------------------------------------------------------------------------
  function drawPerformance(box) {
    const data = JSON.parse(box.dataset.performance);
    const labels = data.windows.map((w) => windowLabel(w, false));
    const chart = echarts.init(box, dark() ? "dark" : null);
    chart.setOption({
      animation: false, backgroundColor: "transparent",
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        formatter: (items) => html`${items[0].axisValue}` + items.map((p) =>
          "<br>" + p.marker + html`${p.seriesName} <strong>${num(p.value)}</strong>`).join(""),
      },
      grid: { left: 60, right: 30, top: 30, bottom: 40 },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", scale: true },
      series: data.measures.map((m) => ({
        name: m, type: "line", data: data.windows.map((w) => w[m]), connectNulls: false,
        // The monitor's threshold for the measure, as a dashed line.
        markLine: m in data.thresholds ? { symbol: "none", lineStyle: { type: "dashed" }, label: { formatter: `${m} threshold` },
          data: [{ yAxis: data.thresholds[m] }] } : undefined,
      })),
    });
    box.dataset.state = "drawn";
  }

  function onLoad() {
    const heatmap = document.getElementById("drift-heatmap");
    const serving = document.getElementById("serving-chart");
    const controls = document.getElementById("histogram-controls");
    if (controls) {
      document.getElementById("histogram-feature").addEventListener("change", loadHistogram);
      document.getElementById("histogram-window").addEventListener("change", loadHistogram);
      loadHistogram();
    }
    echartsReady.then(() => {
      if (heatmap) drawHeatmap(heatmap);
      if (serving) drawServing(serving);
      const performance = document.getElementById("performance-chart");
      if (performance) drawPerformance(performance);
    });
    window.addEventListener("resize", () => {
      for (const chart of [state.heatmap && state.heatmap.chart, histogramChart, state.serving]) if (chart) chart.resize();
    });
  }
  document.addEventListener("DOMContentLoaded", onLoad);
})();
