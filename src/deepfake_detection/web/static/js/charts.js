// Chart.js (vendored UMD build, global `Chart`) with theme-aware colours; charts redraw on theme change.

import { h } from "./dom.js";

const live = new Set();

function palette() {
  const css = getComputedStyle(document.documentElement);
  const value = (name) => css.getPropertyValue(name).trim();
  return {
    text: value("--muted"),
    grid: value("--border"),
    fake: value("--fake"),
    real: value("--real"),
    primary: value("--primary"),
    surface: value("--surface"),
  };
}

function applyDefaults(colors) {
  window.Chart.defaults.color = colors.text;
  window.Chart.defaults.borderColor = colors.grid;
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.animation = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 250 };
}

/**
 * Draw a chart in a labelled box. build(colors) returns a Chart.js config, so the chart can be rebuilt
 * with new colours when the theme changes. signal (AbortSignal) destroys it when the page is left.
 */
export function chartBox({ id, label, build, signal, height = 260, points }) {
  const canvas = h("canvas", { role: "img", "aria-label": label });
  const box = h("div", { class: "chart-box", id, style: { height: `${height}px` }, "data-points": points }, canvas);
  if (!window.Chart) {
    box.replaceChildren(h("p", { class: "hint" }, "Charts are unavailable (the chart library did not load)."));
    return box;
  }
  const entry = { canvas, build, chart: null };
  const draw = () => {
    if (entry.chart) entry.chart.destroy();
    const colors = palette();
    applyDefaults(colors);
    entry.chart = new window.Chart(canvas, build(colors));
  };
  entry.draw = draw;
  // Chart.js needs the canvas in the document to measure it: draw on the next frame.
  requestAnimationFrame(() => {
    if (signal && signal.aborted) return;
    if (canvas.isConnected) draw();
  });
  live.add(entry);
  if (signal) {
    signal.addEventListener("abort", () => {
      if (entry.chart) entry.chart.destroy();
      live.delete(entry);
    }, { once: true });
  }
  return box;
}

/** Redraw every live chart with the current theme's colours. */
export function redrawCharts() {
  for (const entry of live) {
    if (entry.canvas.isConnected) entry.draw();
  }
}

/** A line chart of fake probability (percent) per analysed frame, with the 50% decision line. */
export function timelineChart(timeline, { id = "timeline-chart", signal } = {}) {
  const labels = timeline.map((frame) => `${Number(frame.time).toFixed(1)}s`);
  const values = timeline.map((frame) => Math.round(Number(frame.fake_probability) * 1000) / 10);
  const fakeCount = timeline.filter((frame) => frame.is_fake).length;
  return chartBox({
    id,
    signal,
    points: timeline.length,
    label: `Fake probability for ${timeline.length} analysed frames; ${fakeCount} judged fake.`,
    build: (c) => ({
      type: "line",
      data: {
        labels,
        datasets: [
          {
            label: "Fake probability (%)",
            data: values,
            borderColor: c.primary,
            backgroundColor: c.primary,
            pointBackgroundColor: timeline.map((frame) => (frame.is_fake ? c.fake : c.real)),
            pointRadius: timeline.length > 60 ? 0 : 4,
            tension: 0.25,
          },
          {
            label: "Decision threshold",
            data: values.map(() => 50),
            borderColor: c.grid,
            borderDash: [6, 4],
            pointRadius: 0,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        // Points at 0% or 100% would be cut in half by the chart area.
        clip: false,
        layout: { padding: { top: 6 } },
        scales: {
          y: { min: 0, max: 100, title: { display: true, text: "Fake probability (%)" } },
          x: { title: { display: true, text: "Time" } },
        },
        plugins: { legend: { display: false } },
      },
    }),
  });
}
