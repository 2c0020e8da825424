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

/**
 * Fake probability (percent) of each analysed frame at its real time (linear axis in seconds), joined by
 * straight lines: nothing is drawn between the measured points that was not measured. onSeek(seconds) is
 * called with the time of the frame nearest to a click.
 */
export function timelineChart(timeline, { id = "timeline-chart", signal, onSeek } = {}) {
  const points = timeline.map((frame) => ({ x: Number(frame.time), y: Math.round(Number(frame.fake_probability) * 1000) / 10 }));
  const fakeCount = timeline.filter((frame) => frame.is_fake).length;
  const times = points.map((point) => point.x);
  const first = Math.min(...times);
  const last = Math.max(...times);
  return chartBox({
    id,
    signal,
    points: timeline.length,
    label: `Fake probability for ${timeline.length} analysed frames; ${fakeCount} judged fake.${onSeek ? " Click a point to show that moment in the video." : ""}`,
    build: (c) => ({
      type: "line",
      data: {
        datasets: [
          {
            label: "Fake probability (%)",
            data: points,
            borderColor: c.primary,
            backgroundColor: c.primary,
            pointBackgroundColor: timeline.map((frame) => (frame.is_fake ? c.fake : c.real)),
            pointRadius: timeline.length > 60 ? 2 : 4,
            pointHoverRadius: 6,
            // Straight segments only: a curve would invent values between the samples.
            tension: 0,
            cubicInterpolationMode: "default",
            stepped: false,
          },
          {
            label: "Decision threshold",
            data: [{ x: first, y: 50 }, { x: last, y: 50 }],
            borderColor: c.grid,
            borderDash: [6, 4],
            pointRadius: 0,
            pointHoverRadius: 0,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        // Points at 0% or 100% would be cut in half by the chart area.
        clip: false,
        layout: { padding: { top: 6, right: 6 } },
        // A click anywhere picks the measured frame nearest in time.
        interaction: { mode: "nearest", axis: "x", intersect: false },
        onClick: (_event, elements) => {
          const hit = elements.find((element) => element.datasetIndex === 0);
          if (hit && onSeek) onSeek(points[hit.index].x);
        },
        onHover: (event, elements) => {
          if (onSeek && event.native) event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        scales: {
          y: { min: 0, max: 100, title: { display: true, text: "Fake probability (%)" } },
          x: {
            type: "linear",
            // One frame alone still gets an axis one second wide.
            min: first === last ? Math.max(0, first - 1) : first,
            max: first === last ? first + 1 : last,
            title: { display: true, text: "Time (s)" },
            ticks: { callback: (value) => `${Number(value.toFixed(2))} s` },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            filter: (item) => item.datasetIndex === 0,
            callbacks: { title: (items) => (items.length ? `${items[0].parsed.x.toFixed(1)} s` : "") },
          },
        },
      },
    }),
  });
}
