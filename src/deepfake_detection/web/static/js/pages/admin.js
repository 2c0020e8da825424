// Administrators' page: the calibrations of the models' scores (fit, compare on a reliability chart, switch, roll back).

import { api } from "../api.js";
import { chartBox } from "../charts.js";
import { errorState, formatDateTime, h, loadingState, mount } from "../dom.js";
import { modelPicker } from "../models.js";

const BASE = "/api/admin/calibrations";

/** A score with three decimals ("—" when missing). */
function score(value) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(3);
}

/** "0.210 → 0.180": a metric before and after the calibration. */
function beforeAfter(before, after) {
  return `${score(before)} → ${score(after)}`;
}

/** The refusal shown to a signed-in user who is not an administrator. */
function adminsOnly() {
  return h(
    "div",
    { class: "state state-error", role: "alert", id: "admin-refused" },
    "This page is for administrators only. An operator grants the role with: ",
    h("code", {}, "flask --app deepfake_detection.app grant-admin USERNAME"),
  );
}

/** Per model: the active calibration's id, or raw scores. */
function activeSummary(active) {
  const keys = Object.keys(active || {});
  if (!keys.length) return h("p", { class: "hint" }, "No models known.");
  return h(
    "ul",
    { id: "active-calibrations" },
    keys.map((key) =>
      h(
        "li",
        { dataset: { model: key } },
        h("strong", {}, key),
        ": ",
        active[key] === null ? "raw scores: no calibration" : `calibration #${active[key]} is applied`,
      ),
    ),
  );
}

/** The reliability chart: before and after points (mean score vs fake rate per bin) against the diagonal. */
function reliabilityChart(item, signal) {
  const points = (bins) => bins.map((bin) => ({ x: Number(bin.mean_probability), y: Number(bin.fake_rate) }));
  const before = points(item.reliability ? item.reliability.before : []);
  const after = points(item.reliability ? item.reliability.after : []);
  return chartBox({
    id: "reliability-chart",
    signal,
    height: 320,
    points: before.length + after.length,
    label: `Reliability of ${item.model_key}'s scores before and after calibration #${item.id}: fake rate against mean fake probability per bin; a perfectly calibrated model lies on the diagonal.`,
    build: (c) => ({
      type: "line",
      data: {
        datasets: [
          { label: "Perfectly calibrated", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: c.grid, borderDash: [6, 4], pointRadius: 0, pointHoverRadius: 0 },
          { label: "Before (raw scores)", data: before, borderColor: c.fake, backgroundColor: c.fake, tension: 0, pointRadius: 4 },
          { label: "After (calibrated)", data: after, borderColor: c.primary, backgroundColor: c.primary, tension: 0, pointRadius: 4 },
        ],
      },
      options: {
        maintainAspectRatio: false,
        clip: false,
        scales: {
          x: { type: "linear", min: 0, max: 1, title: { display: true, text: "Mean fake probability in the bin" } },
          y: { min: 0, max: 1, title: { display: true, text: "Fraction actually fake" } },
        },
      },
    }),
  });
}

/** A calibration's figures and its chart. */
function detailView(item, signal) {
  return h(
    "section",
    { class: "card stack", id: "calibration-detail", "aria-labelledby": "calibration-detail-title" },
    h("h2", { id: "calibration-detail-title" }, `Calibration #${item.id} of ${item.model_key}`),
    h(
      "p",
      { class: "hint" },
      `${item.method}, fitted from ${item.source} on ${item.n_real} real and ${item.n_fake} fake examples`,
      item.model_revision ? ` (model revision ${item.model_revision})` : "",
      `. Brier ${beforeAfter(item.brier_before, item.brier_after)}, ECE ${beforeAfter(item.ece_before, item.ece_after)}.`,
    ),
    reliabilityChart(item, signal),
  );
}

/** The "scored, skipped, metrics" answer of a fit (upload or feedback). */
function fitResult(data) {
  const item = data.calibration;
  const skipped = data.skipped_files || [];
  return h(
    "div",
    { class: "state stack", role: "status", id: "fit-result" },
    h(
      "p",
      {},
      `Calibration #${item.id} fitted for ${item.model_key}`,
      data.scored !== undefined ? `: ${data.scored} images scored, ${data.skipped} skipped` : "",
      `. Brier ${beforeAfter(item.brier_before, item.brier_after)}, ECE ${beforeAfter(item.ece_before, item.ece_after)}. It is not applied until you activate it.`,
    ),
    skipped.length ? h("ul", { id: "skipped-files" }, skipped.map((file) => h("li", {}, `${file.filename} (${file.label}): ${file.reason}`))) : null,
  );
}

export function renderAdminCalibrations(main, { signal }) {
  const summary = h("div", { id: "active-summary" }, loadingState());
  const tableArea = h("div", { id: "calibration-table-area" });
  const detailArea = h("div", { id: "calibration-detail-area" });
  const actionStatus = h("div", { "aria-live": "polite", id: "action-status" });

  const feedbackPicker = modelPicker({ id: "feedback-model", use: "calibration" });
  const feedbackResult = h("div", { id: "feedback-result" });
  const feedbackButton = h("button", { type: "submit", class: "button", id: "fit-feedback" }, "Fit from feedback");
  const feedbackForm = h(
    "form",
    { class: "form stack", id: "feedback-form" },
    feedbackPicker.element,
    h("div", { class: "row" }, feedbackButton),
    feedbackResult,
  );

  const uploadPicker = modelPicker({ id: "upload-model", use: "calibration" });
  const realInput = h("input", { type: "file", id: "upload-real", name: "real", multiple: true, accept: "image/*" });
  const fakeInput = h("input", { type: "file", id: "upload-fake", name: "fake", multiple: true, accept: "image/*" });
  const uploadResult = h("div", { id: "upload-result" });
  const uploadButton = h("button", { type: "submit", class: "button", id: "fit-upload" }, "Fit from these images");
  const uploadForm = h(
    "form",
    { class: "form stack", id: "upload-form" },
    uploadPicker.element,
    h("div", { class: "field" }, h("label", { for: "upload-real" }, "Images known to be real"), realInput),
    h("div", { class: "field" }, h("label", { for: "upload-fake" }, "Images known to be fake"), fakeInput),
    h("p", { class: "hint" }, "At least 20 images of each class. The images are scored and discarded; only the fitted calibration is kept."),
    h("div", { class: "row" }, uploadButton),
    uploadResult,
  );

  const page = h(
    "div",
    { class: "stack" },
    h(
      "div",
      { class: "page-header" },
      h("div", {}, h("h1", {}, "Calibrations"), h("p", { class: "subtitle" }, "Make each model's fake probabilities mean what they say: fit, compare, switch on, roll back.")),
    ),
    actionStatus,
    h("section", { class: "card", "aria-labelledby": "active-title" }, h("h2", { id: "active-title" }, "Applied now"), summary),
    h("section", { class: "card", "aria-labelledby": "list-title" }, h("h2", { id: "list-title" }, "Stored calibrations"), tableArea),
    detailArea,
    h(
      "div",
      { class: "grid-2", id: "fit-forms" },
      h("section", { class: "card", "aria-labelledby": "feedback-title" }, h("h2", { id: "feedback-title" }, "Fit from user feedback"), feedbackForm),
      h("section", { class: "card", "aria-labelledby": "upload-title" }, h("h2", { id: "upload-title" }, "Fit from labelled images"), uploadForm),
    ),
  );
  mount(main, page);

  const showError = (area, error) => mount(area, errorState(error.message));

  async function openDetail(id) {
    mount(detailArea, loadingState("Loading the calibration…"));
    try {
      const data = await api(`${BASE}/${id}`, { signal });
      mount(detailArea, detailView(data.calibration, signal));
    } catch (error) {
      if (error.name !== "AbortError") showError(detailArea, error);
    }
  }

  async function act(path, body, message) {
    try {
      await api(path, { method: "POST", body, signal });
      mount(actionStatus, h("p", { class: "hint", role: "status" }, message));
      await refresh();
    } catch (error) {
      if (error.name !== "AbortError") showError(actionStatus, error);
    }
  }

  function row(item) {
    const actions = item.active
      ? h("button", { type: "button", class: "button button-ghost button-small", "aria-label": `Switch off calibration ${item.id}`, onclick: () => act(`${BASE}/deactivate`, { model: item.model_key }, `${item.model_key} is back to raw scores.`) }, "Switch off")
      : h("button", { type: "button", class: "button button-small", "aria-label": `Activate calibration ${item.id}`, onclick: () => act(`${BASE}/${item.id}/activate`, undefined, `Calibration #${item.id} is now applied to ${item.model_key}.`) }, "Activate");
    return h(
      "tr",
      { dataset: { id: item.id, active: String(item.active) } },
      h("td", {}, String(item.id)),
      h("td", {}, item.model_key),
      h("td", { class: "hide-narrow" }, item.method),
      h("td", { class: "hide-narrow" }, item.source),
      h("td", {}, `${item.n_real} / ${item.n_fake}`),
      h("td", { class: "metric-brier" }, beforeAfter(item.brier_before, item.brier_after)),
      h("td", { class: "metric-ece" }, beforeAfter(item.ece_before, item.ece_after)),
      h("td", { class: "hide-narrow" }, `${item.created_by || "—"}, ${formatDateTime(item.created_at)}`),
      h("td", { class: "active-cell" }, item.active ? h("span", { class: "badge badge-real" }, "Active") : "—"),
      h(
        "td",
        {},
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "button button-ghost button-small", "aria-label": `Show calibration ${item.id}`, onclick: () => openDetail(item.id) }, "Show"),
          actions,
        ),
      ),
    );
  }

  function table(items) {
    if (!items.length) return h("p", { class: "hint", id: "no-calibrations" }, "No calibrations yet: fit one below.");
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "calibration-table" },
        h("caption", { class: "visually-hidden" }, "Stored calibrations, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["ID", "Model"].map((text) => h("th", { scope: "col" }, text)),
            ["Method", "Source"].map((text) => h("th", { scope: "col", class: "hide-narrow" }, text)),
            ["Real / fake", "Brier before → after", "ECE before → after"].map((text) => h("th", { scope: "col" }, text)),
            h("th", { scope: "col", class: "hide-narrow" }, "Created"),
            h("th", { scope: "col" }, "Active"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        h("tbody", {}, items.map(row)),
      ),
    );
  }

  async function refresh() {
    try {
      const data = await api(BASE, { signal });
      mount(summary, activeSummary(data.active));
      mount(tableArea, table(data.calibrations || []));
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 403) mount(main, adminsOnly());
      else showError(summary, error);
    }
  }

  async function submitFit(event, { button, resultArea, call }) {
    event.preventDefault();
    button.disabled = true;
    mount(resultArea, loadingState("Scoring and fitting…"));
    try {
      const data = await call();
      mount(resultArea, fitResult(data));
      await refresh();
      await openDetail(data.calibration.id);
    } catch (error) {
      if (error.name !== "AbortError") mount(resultArea, h("div", { class: "state state-error", role: "alert", id: "fit-refused" }, error.message));
    } finally {
      button.disabled = false;
    }
  }

  feedbackForm.addEventListener("submit", (event) =>
    submitFit(event, {
      button: feedbackButton,
      resultArea: feedbackResult,
      call: () => api(`${BASE}/feedback`, { method: "POST", body: { model: feedbackPicker.value() }, signal }),
    }),
  );
  uploadForm.addEventListener("submit", (event) =>
    submitFit(event, {
      button: uploadButton,
      resultArea: uploadResult,
      call: () => {
        const form = new FormData();
        form.append("model", uploadPicker.value());
        for (const file of realInput.files) form.append("real", file);
        for (const file of fakeInput.files) form.append("fake", file);
        return api(`${BASE}/upload`, { method: "POST", form, signal });
      },
    }),
  );

  refresh();
}
