// Dashboard: stat cards, detections-over-time and fake/real charts, and the most recent detections.

import { api } from "../api.js";
import { chartBox } from "../charts.js";
import { capitalise, emptyState, errorState, formatDateTime, formatPercent, h, loadingState, mount } from "../dom.js";
import { fakePercent, fakeWords, verdictBadge, verdictKind } from "../verdict.js";

function statCard({ id, label, value, tone = "", note = null }) {
  return h(
    "div",
    { class: `card stat ${tone}` },
    h("div", { class: "stat-label", id: `${id}-label` }, label),
    h("div", { class: "stat-value", id, "aria-labelledby": `${id}-label` }, value),
    note ? h("div", { class: "hint" }, note) : null,
  );
}

/** "2 images · 1 video · 3 camera" from stats.by_type. */
function byTypeNote(byType) {
  if (!byType) return null;
  const parts = [
    [byType.image, "image", "images"],
    [byType.video, "video", "videos"],
    [byType.camera, "camera frame", "camera frames"],
  ].filter(([count]) => count);
  return parts.map(([count, one, many]) => `${count} ${count === 1 ? one : many}`).join(" · ") || null;
}

/**
 * The accuracy card says what it measures: the share of the verdicts you rated that you marked correct
 * (GET /api/stats, accuracy_basis "feedback"). Without ratings the API's accuracy is the mean confidence,
 * which is not an accuracy, so the card says that nothing was measured yet.
 */
function accuracyCard(stats) {
  if (stats.accuracy_basis === "feedback") {
    const rated = stats.feedback_count;
    return statCard({
      id: "stat-accuracy",
      label: "Rated correct",
      value: formatPercent(stats.accuracy),
      note: `Of the ${rated} verdict${rated === 1 ? "" : "s"} you marked correct or wrong; unrated verdicts are not counted.`,
    });
  }
  return statCard({
    id: "stat-accuracy",
    label: "Rated correct",
    value: "—",
    note: "Not measured: you have not rated a verdict yet. Mark verdicts correct or wrong in your history.",
  });
}

/** Uncertain results as their own category (they are also counted as fake or real, by is_fake). */
function uncertainCard(stats) {
  if (stats.uncertain_count === undefined || stats.uncertain_count === null) return null;
  return statCard({ id: "stat-uncertain", label: "Uncertain", value: String(stats.uncertain_count), tone: "stat-uncertain", note: "Also counted as fake or real above" });
}

function statCards(stats) {
  return h(
    "div",
    { class: "stat-grid" },
    statCard({ id: "stat-total", label: "Total detections", value: String(stats.total_detections ?? 0), note: byTypeNote(stats.by_type) }),
    statCard({ id: "stat-fake", label: "Fake", value: String(stats.fake_count ?? 0), tone: "stat-fake" }),
    statCard({ id: "stat-real", label: "Real", value: String(stats.real_count ?? 0), tone: "stat-real" }),
    uncertainCard(stats),
    accuracyCard(stats),
    statCard({
      id: "stat-avg-confidence",
      label: "Avg. confidence",
      value: formatPercent(stats.average_confidence),
      note: "How sure the verdicts were of themselves, on average: not an accuracy",
    }),
  );
}

/** "2026-11-24" → "Nov 24" in the reader's locale (the date is a calendar day, not a moment). */
function shortDate(isoDay) {
  const [year, month, day] = isoDay.split("-").map(Number);
  return new Date(year, month - 1, day).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function dailyChart(daily, signal) {
  const total = daily.reduce((sum, day) => sum + day.fake + day.real, 0);
  if (!total) return emptyState(daily.length ? `No detections in the last ${daily.length} days.` : "No detections yet.");
  return chartBox({
    id: "daily-chart",
    signal,
    points: daily.length,
    label: `Detections per day over ${daily.length} days: ${total} in total.`,
    build: (c) => ({
      type: "bar",
      data: {
        labels: daily.map((day) => shortDate(day.date)),
        datasets: [
          { label: "Fake", data: daily.map((day) => day.fake), backgroundColor: c.fake, borderRadius: 4 },
          { label: "Real", data: daily.map((day) => day.real), backgroundColor: c.real, borderRadius: 4 },
        ],
      },
      options: {
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    }),
  });
}

function splitChart(stats, signal) {
  const fake = stats.fake_count ?? 0;
  const real = stats.real_count ?? 0;
  if (!fake && !real) return emptyState("Nothing to compare yet.");
  return chartBox({
    id: "split-chart",
    signal,
    label: `${fake} fake and ${real} real detections.`,
    build: (c) => ({
      type: "doughnut",
      data: {
        labels: ["Fake", "Real"],
        datasets: [{ data: [fake, real], backgroundColor: [c.fake, c.real], borderColor: c.surface, borderWidth: 2 }],
      },
      options: { maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } },
    }),
  });
}

function recentList(items) {
  if (!items.length) return emptyState("No detections yet.", h("p", {}, "Start with an ", h("a", { href: "#/image" }, "image"), ", a ", h("a", { href: "#/video" }, "video"), " or the ", h("a", { href: "#/camera" }, "camera"), "."));
  return h(
    "ul",
    { class: "list-plain", id: "recent-list" },
    items.map((item) =>
      h(
        "li",
        {},
        h(
          "span",
          {},
          h("a", { href: `#/history/${item.id}` }, `${capitalise(item.detection_type)}${item.filename ? `: ${item.filename}` : ""}`),
          h("br"),
          h("span", { class: "hint" }, formatDateTime(item.detection_time)),
        ),
        h("span", { class: "row" }, verdictBadge(verdictKind(item)), h("span", { class: "hint" }, fakeWords(fakePercent(item)))),
      ),
    ),
  );
}

export async function renderDashboard(main, { signal }) {
  const body = h("div", {}, loadingState("Loading your statistics…"));
  mount(
    main,
    h(
      "div",
      { class: "page-header" },
      h("div", {}, h("h1", {}, "Dashboard"), h("p", { class: "subtitle" }, "Your detections at a glance.")),
      h("div", { class: "row" }, h("a", { class: "button", href: "#/image" }, "Check an image"), h("a", { class: "button button-ghost", href: "#/video" }, "Check a video")),
    ),
    body,
  );
  let stats;
  let recent;
  try {
    [stats, recent] = await Promise.all([api("/api/stats", { signal }), api("/api/history?page=1&per_page=5", { signal })]);
  } catch (error) {
    if (error.name === "AbortError") return;
    mount(body, errorState(`Could not load the dashboard: ${error.message}`));
    return;
  }
  if (signal.aborted) return;
  mount(
    body,
    statCards(stats),
    h(
      "div",
      { class: "grid-3" },
      h("section", { class: "card", "aria-labelledby": "daily-title" }, h("h2", { id: "daily-title" }, "Detections over time"), dailyChart(stats.daily || [], signal)),
      h("section", { class: "card", "aria-labelledby": "split-title" }, h("h2", { id: "split-title" }, "Fake vs real"), splitChart(stats, signal)),
    ),
    h(
      "section",
      { class: "card", style: { marginTop: "1rem" }, "aria-labelledby": "recent-title" },
      h("div", { class: "section-head" }, h("h2", { id: "recent-title" }, "Recent detections"), h("a", { href: "#/history" }, "See all history")),
      recentList(recent.history || []),
    ),
  );
}
