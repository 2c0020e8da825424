// History: filtered, paginated table of detections, and a detail view with media, faces, timeline,
// feedback and delete.

import { api, fetchMediaUrl } from "../api.js";
import { timelineChart } from "../charts.js";
import { capitalise, emptyState, errorState, flash, formatDateTime, h, loadingState, mount } from "../dom.js";
import { limitsLine } from "../detector-limits.js";
import { imageWithFaces } from "../faces.js";
import { frameList, videoPlayer } from "../player.js";
import { navigate } from "../router.js";
import { fakePercent, fakeWords, verdictBadge, verdictEvidence, verdictHeadline, verdictKind } from "../verdict.js";
import { memberNames, timelineHint, videoScore, videoSegments } from "./video.js";

const PER_PAGE = 10;

/** The API's feedback: true (marked correct), false (marked wrong) or null (none yet). */
function feedbackValue(feedback) {
  return typeof feedback === "boolean" ? feedback : null;
}

function feedbackText(feedback) {
  const value = feedbackValue(feedback);
  return value === null ? "—" : value ? "Correct" : "Wrong";
}

/** Ask before deleting, in an accessible modal dialog; resolves true when confirmed. */
function confirmDelete(item) {
  return new Promise((resolve) => {
    const cancel = h("button", { type: "button", class: "button button-ghost", value: "cancel" }, "Cancel");
    const confirm = h("button", { type: "button", class: "button button-danger", value: "delete", id: "confirm-delete" }, "Delete");
    const dialog = h(
      "dialog",
      { "aria-labelledby": "delete-title", "aria-describedby": "delete-text" },
      h("h2", { id: "delete-title" }, "Delete this detection?"),
      h("p", { id: "delete-text" }, `The ${item.detection_type} result${item.filename ? ` for "${item.filename}"` : ""} and its stored media will be removed. This cannot be undone.`),
      h("div", { class: "row" }, confirm, cancel),
    );
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => close(false));
    confirm.addEventListener("click", () => close(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Confirm, delete, then go to `after` and say what happened there. */
async function deleteItem(item, after) {
  if (!(await confirmDelete(item))) return;
  try {
    await api(`/api/history/${item.id}`, { method: "DELETE" });
  } catch (error) {
    flash(`Could not delete: ${error.message}`, { error: true });
    return;
  }
  navigate(after);
  flash(`Deleted the ${item.detection_type} detection.`);
}

function filterSelect({ id, label, value, options, onChange }) {
  const select = h("select", { id, name: id }, options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)));
  select.addEventListener("change", () => onChange(select.value));
  return h("div", { class: "field" }, h("label", { for: id }, label), select);
}

function listPath({ type, verdict, page }) {
  const query = new URLSearchParams();
  if (type) query.set("type", type);
  if (verdict) query.set("verdict", verdict);
  if (page > 1) query.set("page", String(page));
  const text = query.toString();
  return `/history${text ? `?${text}` : ""}`;
}

export async function renderHistoryList(main, { query, signal }) {
  const state = {
    type: query.get("type") || "",
    verdict: query.get("verdict") || "",
    page: Math.max(1, Number.parseInt(query.get("page") || "1", 10) || 1),
  };
  const body = h("div", { id: "history-body" }, loadingState("Loading history…"));
  mount(
    main,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "History"), h("p", { class: "subtitle" }, "Every detection you ran, newest first."))),
    h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "filters", role: "search", "aria-label": "Filter history" },
        filterSelect({
          id: "filter-type",
          label: "Type",
          value: state.type,
          options: [["", "All types"], ["image", "Image"], ["video", "Video"], ["camera", "Camera"]],
          onChange: (type) => navigate(listPath({ ...state, type, page: 1 })),
        }),
        filterSelect({
          id: "filter-verdict",
          label: "Verdict",
          value: state.verdict,
          options: [["", "All verdicts"], ["fake", "Likely fake"], ["uncertain", "Uncertain"], ["real", "Likely real"]],
          onChange: (verdict) => navigate(listPath({ ...state, verdict, page: 1 })),
        }),
      ),
      body,
    ),
  );

  const params = new URLSearchParams({ page: String(state.page), per_page: String(PER_PAGE) });
  if (state.type) params.set("type", state.type);
  if (state.verdict) params.set("verdict", state.verdict);
  let data;
  try {
    data = await api(`/api/history?${params}`, { signal });
  } catch (error) {
    if (error.name === "AbortError") return;
    mount(body, errorState(`Could not load the history: ${error.message}`));
    return;
  }
  if (signal.aborted) return;
  const items = data.history || [];
  const pages = Math.max(1, data.pages || 1);
  // An API whose items carry no three-way verdict cannot filter uncertain ones either: do not offer it.
  if (items.length && !items.some((item) => "verdict" in item) && state.verdict !== "uncertain") {
    main.querySelector('#filter-verdict option[value="uncertain"]')?.remove();
  }
  if (!items.length && state.page > 1) {
    navigate(listPath({ ...state, page: Math.min(state.page - 1, pages) }));
    return;
  }
  if (!items.length) {
    const filtered = state.type || state.verdict;
    mount(body, emptyState(filtered ? "No detections match these filters." : "No detections yet.", filtered ? null : h("p", {}, "Try an ", h("a", { href: "#/image" }, "image"), ", a ", h("a", { href: "#/video" }, "video"), " or the ", h("a", { href: "#/camera" }, "camera"), ".")));
    return;
  }
  const rows = items.map((item) => {
    const deleteButton = h("button", { type: "button", class: "button button-ghost button-small", "aria-label": `Delete ${item.detection_type} detection ${item.id}` }, "Delete");
    deleteButton.addEventListener("click", () => deleteItem(item, listPath(state)));
    return h(
      "tr",
      { "data-id": item.id, "data-type": item.detection_type },
      h("td", {}, formatDateTime(item.detection_time)),
      h("td", {}, capitalise(item.detection_type)),
      h("td", { class: "hide-narrow" }, item.filename || "—"),
      h("td", {}, verdictBadge(verdictKind(item))),
      h("td", { class: "hide-narrow" }, fakeWords(fakePercent(item))),
      h("td", { class: "hide-narrow" }, item.model_version || "—"),
      h("td", { class: "hide-narrow" }, feedbackText(item.feedback)),
      h("td", {}, h("div", { class: "actions" }, h("a", { class: "button button-ghost button-small", href: `#/history/${item.id}`, "aria-label": `View ${item.detection_type} detection ${item.id}` }, "View"), deleteButton)),
    );
  });
  const prev = h("button", { type: "button", class: "button button-ghost button-small", disabled: state.page <= 1, id: "page-prev" }, "Previous");
  const next = h("button", { type: "button", class: "button button-ghost button-small", disabled: state.page >= pages, id: "page-next" }, "Next");
  prev.addEventListener("click", () => navigate(listPath({ ...state, page: state.page - 1 })));
  next.addEventListener("click", () => navigate(listPath({ ...state, page: state.page + 1 })));
  const total = data.total ?? data.count ?? items.length;
  mount(
    body,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "history-table" },
        h("caption", { class: "visually-hidden" }, `Detections, page ${state.page} of ${pages}`),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "When"),
            h("th", { scope: "col" }, "Type"),
            h("th", { scope: "col", class: "hide-narrow" }, "File"),
            h("th", { scope: "col" }, "Verdict"),
            h("th", { scope: "col", class: "hide-narrow" }, "Fake score"),
            h("th", { scope: "col", class: "hide-narrow" }, "Model"),
            h("th", { scope: "col", class: "hide-narrow" }, "Feedback"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
    h("nav", { class: "pagination", "aria-label": "Pages" }, h("span", { class: "hint", id: "history-total" }, `${total} detection${total === 1 ? "" : "s"} · page ${state.page} of ${pages}`), prev, next),
  );
}

function feedbackButtons(item, onChange) {
  const current = feedbackValue(item.feedback);
  const status = h("p", { class: "hint", "aria-live": "polite" }, current === null ? "Was this verdict right? Your answer counts in the dashboard's Rated correct card (and can feed a calibration)." : `You marked this verdict as ${current ? "correct" : "wrong"}.`);
  const make = (correct, text) => {
    const button = h("button", { type: "button", class: "button button-ghost", "aria-pressed": String(current === correct), id: correct ? "feedback-correct" : "feedback-wrong" }, text);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const data = await api(`/api/history/${item.id}/feedback`, { method: "POST", body: { correct } });
        onChange({ ...item, feedback: data.item ? data.item.feedback : correct });
      } catch (error) {
        status.textContent = `Could not save the feedback: ${error.message}`;
        button.disabled = false;
      }
    });
    return button;
  };
  return h("div", { class: "stack", id: "feedback" }, h("div", { class: "row" }, make(true, "Correct"), make(false, "Wrong")), status);
}

export async function renderHistoryDetail(main, { params, signal }) {
  const body = h("div", {}, loadingState("Loading the detection…"));
  mount(main, h("p", {}, h("a", { href: "#/history" }, "← Back to history")), body);
  let item;
  try {
    ({ item } = await api(`/api/history/${encodeURIComponent(params.id)}`, { signal }));
  } catch (error) {
    if (error.name === "AbortError") return;
    mount(body, errorState(error.status === 404 ? "This detection does not exist (it may have been deleted)." : `Could not load the detection: ${error.message}`));
    return;
  }
  if (signal.aborted) return;
  const detail = item.detail || {};
  // The verdict and its evidence: an image's trust fields, a camera frame's own result, a video's detail.
  const isCamera = item.detection_type === "camera";
  const evidence = {
    ...detail,
    ...(detail.trust || {}),
    ...(isCamera ? detail.frame || {} : {}),
    is_fake: isCamera && detail.frame ? detail.frame.is_fake : item.is_fake,
    confidence: item.confidence_score,
  };
  evidence.verdict = (detail.trust && detail.trust.verdict) || (isCamera && detail.frame && detail.frame.verdict) || detail.verdict || item.verdict;

  const media = h("div", { id: "detail-media" }, loadingState("Loading media…"));
  const mediaPath = item.media_url || `/api/history/${item.id}/media`;
  fetchMediaUrl(mediaPath, { signal })
    .then((url) => {
      signal.addEventListener("abort", () => URL.revokeObjectURL(url), { once: true });
      const img = h("img", { src: url, alt: `${capitalise(item.detection_type)} ${item.filename || ""}`.trim() });
      // Image faces refer to the image; camera faces to the stored frame; video thumbnails have none.
      const frame = detail.frame || {};
      const faces = detail.faces || frame.faces || [];
      mount(media, imageWithFaces(img, faces, { width: detail.width || frame.width, height: detail.height || frame.height }));
    })
    .catch((error) => {
      if (error.name !== "AbortError") mount(media, emptyState(error.status === 404 ? "No stored media for this detection." : `Media unavailable: ${error.message}`));
    });

  const feedbackSlot = h("div");
  const drawFeedback = (current) => mount(feedbackSlot, feedbackButtons(current, drawFeedback));
  drawFeedback(item);

  const deleteButton = h("button", { type: "button", class: "button button-danger", id: "detail-delete" }, "Delete");
  deleteButton.addEventListener("click", () => deleteItem(item, "/history"));

  const timeline = detail.timeline || [];
  const isVideo = item.detection_type === "video";
  const player = isVideo ? videoPlayer({ videoId: detail.video_id ?? item.content_id, idPrefix: "detail", signal }) : null;
  mount(
    body,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, `${capitalise(item.detection_type)} detection`), h("p", { class: "subtitle" }, formatDateTime(item.detection_time))), deleteButton),
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card", "aria-labelledby": "detail-media-title" }, h("h2", { id: "detail-media-title" }, "Media"), media),
      h(
        "section",
        { class: "card stack", "aria-labelledby": "detail-result-title" },
        h("h2", { id: "detail-result-title" }, "Result"),
        verdictHeadline(evidence, { id: "detail-verdict", score: isVideo ? videoScore(evidence, detail.frames_analyzed ?? timeline.length) : isCamera ? `this frame ${fakeWords(fakePercent(evidence))}` : undefined }),
        limitsLine({ id: "detail-limits" }),
        verdictEvidence(evidence, { idPrefix: "detail" }),
        h(
          "dl",
          { class: "facts" },
          item.filename ? [h("dt", {}, "File"), h("dd", {}, item.filename)] : null,
          h("dt", {}, "Model"),
          h("dd", {}, item.model_version || item.model_used || "—"),
          detail.faces ? [h("dt", {}, "Faces"), h("dd", { id: "detail-faces" }, String(detail.faces.length))] : null,
          detail.frame && detail.frame.faces ? [h("dt", {}, "Faces in frame"), h("dd", {}, String(detail.frame.faces.length))] : null,
          detail.window_size ? [h("dt", {}, "Smoothing window"), h("dd", {}, `${detail.frames_in_window} of ${detail.window_size} frames, ${detail.fake_votes} fake: ${item.is_fake ? "fake" : "real"}, mean ${fakeWords(fakePercent({ fake_probability: detail.fake_probability }))}`)] : null,
          detail.frames_analyzed !== undefined ? [h("dt", {}, "Frames analysed"), h("dd", {}, String(detail.frames_analyzed))] : null,
          detail.duration ? [h("dt", {}, "Duration"), h("dd", {}, `${Number(detail.duration).toFixed(1)} s`)] : null,
        ),
        feedbackSlot,
      ),
    ),
    timeline.length || player
      ? h(
          "section",
          { class: "card stack", style: { marginTop: "1rem" }, "aria-labelledby": "detail-timeline-title" },
          h("h2", { id: "detail-timeline-title" }, player ? "Timeline and video" : "Timeline"),
          timeline.length ? timelineChart(timeline, { id: "detail-timeline", signal, onSeek: player ? player.seek : null, segments: detail.segments || [], names: memberNames(detail) }) : null,
          timeline.length && player ? h("p", { class: "hint" }, timelineHint(detail)) : null,
          player ? videoSegments(detail, player.seek, { idPrefix: "detail" }) : null,
          player ? player.element : null,
          timeline.length && player ? frameList(timeline, player.seek, { idPrefix: "detail" }) : null,
        )
      : null,
  );
}
