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
    uncertain: value("--warn"),
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

// Distinct line colours for the per-model lines (the combined line keeps the theme's primary colour).
const MEMBER_COLOURS = ["#7b61ff", "#00a3a3", "#d97706", "#db2777", "#4b5563"];

/** A frame's verdict: its own three-way one when the API gave it, else its is_fake. */
function frameVerdict(frame) {
  return ["fake", "uncertain", "real"].includes(frame.verdict) ? frame.verdict : frame.is_fake ? "fake" : "real";
}

/** A colour with an alpha (hex "#rrggbb" or rgb(); anything else is returned as it is). */
function translucent(colour, alpha) {
  const hex = /^#([0-9a-f]{6})$/i.exec(colour.trim());
  if (hex) {
    const n = Number.parseInt(hex[1], 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  const rgb = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(colour.trim());
  return rgb ? `rgba(${rgb[1]}, ${rgb[2]}, ${rgb[3]}, ${alpha})` : colour;
}

/**
 * Chart.js plugin: the video's segments as coloured spans behind the lines, each from its first to its
 * last measured time (at least a few pixels wide, so a one-frame segment shows).
 */
function segmentSpans(segments, colours) {
  return {
    id: "segmentSpans",
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      for (const segment of segments) {
        const left = scales.x.getPixelForValue(Number(segment.start));
        const right = scales.x.getPixelForValue(Number(segment.end));
        const width = Math.max(right - left, 6);
        ctx.fillStyle = translucent(colours[segment.verdict] || colours.uncertain, 0.16);
        ctx.fillRect(Math.max(chartArea.left, left - (width - (right - left)) / 2), chartArea.top, width, chartArea.bottom - chartArea.top);
      }
      ctx.restore();
    },
  };
}

/** One line per model from each frame's `members` {key: probability} (measured points only). */
function memberLines(timeline, names) {
  const keys = [...new Set(timeline.flatMap((frame) => Object.keys(frame.members || {})))];
  return keys.map((key, index) => ({
    label: names[key] || key,
    data: timeline
      .filter((frame) => frame.members && frame.members[key] !== undefined && frame.members[key] !== null)
      .map((frame) => ({ x: Number(frame.time), y: Math.round(Number(frame.members[key]) * 1000) / 10 })),
    borderColor: MEMBER_COLOURS[index % MEMBER_COLOURS.length],
    backgroundColor: MEMBER_COLOURS[index % MEMBER_COLOURS.length],
    borderWidth: 1.5,
    borderDash: [3, 3],
    pointRadius: 2,
    tension: 0,
    cubicInterpolationMode: "default",
    stepped: false,
  }));
}

/**
 * Fake probability (percent) of each analysed frame at its real time (linear axis in seconds), joined by
 * straight lines: nothing is drawn between the measured points that was not measured. Each point is
 * coloured by its frame's verdict; segments [{start, end, verdict}] are drawn as coloured spans; frames
 * with `members` add one line per model (names: key -> name). onSeek(seconds) is called with the time of
 * the frame nearest to a click.
 */
export function timelineChart(timeline, { id = "timeline-chart", signal, onSeek, segments = [], names = {} } = {}) {
  const points = timeline.map((frame) => ({ x: Number(frame.time), y: Math.round(Number(frame.fake_probability) * 1000) / 10 }));
  const fakeCount = timeline.filter((frame) => frameVerdict(frame) === "fake").length;
  const times = points.map((point) => point.x);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const members = memberLines(timeline, names);
  return chartBox({
    id,
    signal,
    points: timeline.length,
    label: `Fake probability for ${timeline.length} analysed frames; ${fakeCount} judged fake.${members.length ? ` One line per model: ${members.map((m) => m.label).join(", ")}.` : ""}${onSeek ? " Click a point to show that moment in the video." : ""}`,
    build: (c) => ({
      type: "line",
      plugins: segments.length ? [segmentSpans(segments, c)] : [],
      data: {
        datasets: [
          {
            label: members.length ? "Combined fake probability (%)" : "Fake probability (%)",
            data: points,
            borderColor: c.primary,
            backgroundColor: c.primary,
            pointBackgroundColor: timeline.map((frame) => c[frameVerdict(frame)]),
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
          ...members,
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
          legend: { display: members.length > 0, position: "bottom", labels: { filter: (item) => item.datasetIndex !== 1 } },
          tooltip: {
            filter: (item) => item.datasetIndex !== 1,
            callbacks: { title: (items) => (items.length ? `${items[0].parsed.x.toFixed(1)} s` : "") },
          },
        },
      },
    }),
  });
}
