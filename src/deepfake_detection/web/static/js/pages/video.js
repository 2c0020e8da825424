// Video detection: upload with a byte progress bar, follow the background job, then show the verdict,
// the per-frame timeline and the thumbnail.

import { MODEL_UNAVAILABLE, api, fetchMediaUrl, uploadWithProgress } from "../api.js";
import { timelineChart } from "../charts.js";
import { capitalise, emptyState, errorState, formatBytes, formatDuration, h, mount } from "../dom.js";
import { filePicker } from "../filepicker.js";
import { limitsLine } from "../detector-limits.js";
import { detectionError, loadLimits, modelPicker, modelUnavailableNotice } from "../models.js";
import { frameList, segmentList, videoPlayer } from "../player.js";
import { fakePercent, fakeWords, verdictEvidence, verdictHeadline } from "../verdict.js";

const POLL_MS = 1000;
const FINISHED = new Set(["completed", "failed", "cancelled"]);

/**
 * Verdict, facts, thumbnail, timeline and a player of a finished video (also used by the history detail
 * view). file: the File just uploaded from this page, played locally instead of fetched back.
 */
/** "6 of 9 frames fake · mean 73% fake": what the headline of a video rests on. */
export function videoScore(video, frames) {
  const fake = video.fake_frames;
  const share = fake !== undefined && fake !== null && frames ? `${fake} of ${frames} frames fake · ` : "";
  return `${share}mean ${fakeWords(fakePercent(video))}`;
}

/** The video's segments as text ("fake 0-6 s, real 7-9 s") with a button per segment, when the API gave them. */
export function videoSegments(video, seek, { idPrefix }) {
  const segments = Array.isArray(video.segments) ? video.segments : [];
  if (!segments.length && !video.segments_text) return null;
  return h(
    "div",
    { class: "segments stack", id: `${idPrefix}-segments` },
    video.segments_text ? h("p", { id: `${idPrefix}-segments-text` }, h("strong", {}, "Segments: "), video.segments_text) : null,
    segments.length ? segmentList(segments, seek, { idPrefix }) : null,
  );
}

/** Model key -> name, from the answer's members (names of the per-model timeline lines). */
export function memberNames(video) {
  return Object.fromEntries((Array.isArray(video.members) ? video.members : []).map((m) => [m.key, m.name || m.key]));
}

export function videoResult(video, { signal, idPrefix = "video", file = null } = {}) {
  const timeline = video.timeline || [];
  const videoId = video.video_id ?? video.id;
  const player = videoPlayer({ videoId, file, idPrefix, signal });
  const thumb = h("div", { class: "thumbnail-slot" });
  if (video.thumbnail_url) {
    fetchMediaUrl(video.thumbnail_url, { signal })
      .then((url) => {
        const img = h("img", { src: url, alt: `First analysed frame of ${video.filename || "the video"}`, id: `${idPrefix}-thumbnail` });
        signal?.addEventListener("abort", () => URL.revokeObjectURL(url), { once: true });
        mount(thumb, h("div", { class: "media-frame" }, img));
      })
      .catch((error) => error.name !== "AbortError" && mount(thumb, h("p", { class: "hint" }, `Thumbnail unavailable: ${error.message}`)));
  }
  return h(
    "div",
    { class: "stack" },
    verdictHeadline(video, { id: `${idPrefix}-verdict`, score: videoScore(video, video.frames_analyzed ?? timeline.length) }),
    limitsLine({ id: `${idPrefix}-limits` }),
    verdictEvidence(video, { idPrefix }),
    h(
      "div",
      { class: "grid-2" },
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Model"),
        h("dd", {}, video.model_used || video.model_key || "—"),
        h("dt", {}, "Frames analysed"),
        h("dd", { id: `${idPrefix}-frames` }, String(video.frames_analyzed ?? timeline.length)),
        h("dt", {}, "Fake / real frames"),
        h("dd", {}, `${video.fake_frames ?? "—"} / ${video.real_frames ?? "—"}`),
        video.frames_skipped ? [h("dt", {}, "Frames skipped"), h("dd", {}, String(video.frames_skipped))] : null,
        h("dt", {}, "Duration"),
        h("dd", {}, video.duration !== undefined && video.duration !== null ? `${Number(video.duration).toFixed(1)} s` : "—"),
        h("dt", {}, "Time"),
        h("dd", {}, formatDuration(video.processing_time_ms)),
      ),
      thumb,
    ),
    h(
      "section",
      { "aria-labelledby": `${idPrefix}-timeline-title` },
      h("h2", { id: `${idPrefix}-timeline-title` }, "Timeline"),
      timeline.length
        ? [
            timelineChart(timeline, { id: `${idPrefix}-timeline`, signal, onSeek: player.seek, segments: video.segments || [], names: memberNames(video) }),
            h("p", { class: "hint" }, timelineHint(video)),
          ]
        : emptyState("No frames with a result."),
      videoSegments(video, player.seek, { idPrefix }),
      player.element,
      timeline.length ? frameList(timeline, player.seek, { idPrefix }) : null,
    ),
  );
}

/** What the timeline shows, in words (segments and per-model lines only when the answer has them). */
export function timelineHint(video) {
  const parts = ["Each point is one analysed frame at its time in the video, coloured by its verdict."];
  if (Array.isArray(video.segments) && video.segments.length) parts.push("Shaded spans are the segments judged fake, uncertain or real.");
  if ((video.timeline || []).some((frame) => frame.members)) parts.push("The dashed lines are each model's own score.");
  parts.push("Click a point or a segment to see that moment below.");
  return parts.join(" ");
}

export function renderVideo(main, { signal }) {
  let file = null;
  let upload = null;
  let resultScope = null;
  // Each result owns its player's blob URL and its chart: a new upload (or leaving the page) releases them.
  const newResultScope = () => {
    if (resultScope) resultScope.abort();
    resultScope = new AbortController();
    const scope = resultScope;
    signal.addEventListener("abort", () => scope.abort(), { once: true });
    return scope.signal;
  };
  const picker = modelPicker({ id: "video-model", use: "video" });
  const message = h("div", { "aria-live": "polite" });
  const chosen = h("p", { class: "hint", id: "video-chosen" });
  const startButton = h("button", { type: "submit", class: "button", disabled: true, id: "detect-video" }, "Upload and detect");
  const status = h("div", { id: "video-status" }, emptyState("Choose a video, then press Upload and detect."));

  const form = h(
    "form",
    { class: "form", id: "video-form" },
    picker.element,
    filePicker({
      id: "video-file",
      label: "Choose a video",
      mimePrefix: "video/",
      limits: loadLimits("video"),
      onFile: (picked) => {
        file = picked;
        message.replaceChildren();
        chosen.textContent = `${file.name} · ${formatBytes(file.size)}`;
        startButton.disabled = false;
      },
      onError: (text) => mount(message, errorState(text)),
    }),
    chosen,
    message,
    h("div", { class: "row" }, startButton),
  );

  // Every state the page went through, kept on the element: tells tests (and curious users) what happened.
  const seen = (state) => {
    const states = (status.dataset.seen || "").split(" ").filter(Boolean);
    if (states[states.length - 1] !== state) status.dataset.seen = [...states, state].join(" ");
  };

  const progressRow = (id, label) => {
    const bar = h("progress", { id, max: 100, value: 0, "aria-labelledby": `${id}-label` });
    const text = h("span", { class: "hint", id: `${id}-text` });
    return { bar, text, element: h("div", { class: "progress-row" }, h("span", { class: "label", id: `${id}-label` }, label), bar, text) };
  };

  const follow = async (videoId, statusUrl, modelKey, uploaded) => {
    const processing = progressRow("processing-progress", "Analysing frames");
    const cancelButton = h("button", { type: "button", class: "button button-ghost button-small" }, "Cancel");
    cancelButton.addEventListener("click", async () => {
      cancelButton.disabled = true;
      try {
        await api(`/api/videos/${videoId}/cancel`, { method: "POST", signal });
      } catch (error) {
        if (error.name !== "AbortError") processing.text.textContent = `Could not cancel: ${error.message}`;
      }
    });
    mount(status, processing.element, h("div", { class: "row" }, cancelButton));
    processing.text.textContent = "Queued…";
    let failures = 0;
    while (!signal.aborted) {
      let video;
      try {
        ({ video } = await api(statusUrl, { signal }));
        failures = 0;
      } catch (error) {
        if (error.name === "AbortError") return;
        failures += 1;
        // A network blip should not lose the job; a missing video or a lost session will not come back.
        if (failures >= 3 || [401, 403, 404].includes(error.status)) {
          mount(status, errorState(`Lost track of the video: ${error.message}`));
          return;
        }
        processing.text.textContent = `Reconnecting… (${error.message})`;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      seen(video.status);
      processing.bar.value = Number(video.progress) || 0;
      processing.text.textContent = `${capitalise(video.status)} · ${Math.round(Number(video.progress) || 0)}%${video.message ? ` · ${video.message}` : ""}`;
      if (FINISHED.has(video.status)) {
        if (video.status === "completed") mount(status, videoResult(video, { signal: newResultScope(), file: uploaded }));
        else if (video.status === "cancelled") mount(status, h("div", { class: "state state-empty", role: "status" }, "The analysis was cancelled."));
        else if (video.error_code === MODEL_UNAVAILABLE) mount(status, modelUnavailableNotice(video.model_key || modelKey, video.message));
        else mount(status, errorState(`The analysis failed: ${video.message || "unknown error"}`));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file) return;
    const uploaded = file;
    const modelKey = picker.value();
    const data = new FormData();
    data.append("video", file);
    if (modelKey) data.append("model", modelKey);
    data.append("async", "true");
    const uploading = progressRow("upload-progress", "Uploading");
    status.dataset.seen = "";
    mount(status, uploading.element);
    startButton.disabled = true;
    upload = new AbortController();
    signal.addEventListener("abort", () => upload.abort(), { once: true });
    try {
      const answer = await uploadWithProgress("/api/detect/video", data, {
        signal: upload.signal,
        onProgress: (loaded, total) => {
          seen("uploading");
          const size = total || file.size;
          uploading.bar.value = size ? Math.round((loaded / size) * 100) : 0;
          uploading.text.textContent = `${formatBytes(loaded)} of ${formatBytes(size)}`;
        },
      });
      uploading.bar.value = 100;
      if (answer.httpStatus === 202 || !("is_fake" in answer)) {
        seen(answer.status || "queued");
        await follow(answer.video_id, answer.status_url || `/api/videos/${answer.video_id}`, modelKey, uploaded);
      } else {
        // A server that answered synchronously gave the result straight away.
        mount(status, videoResult(answer, { signal: newResultScope(), file: uploaded }));
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      mount(status, detectionError(error, modelKey));
    } finally {
      startButton.disabled = false;
    }
  });

  mount(
    main,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "Video detection"), h("p", { class: "subtitle" }, "Frames are sampled and checked one by one; the majority decides."))),
    h(
      "div",
      { class: "stack" },
      h("section", { class: "card", "aria-labelledby": "video-input-title" }, h("h2", { id: "video-input-title" }, "Video"), form),
      h("section", { class: "card", "aria-labelledby": "video-result-title" }, h("h2", { id: "video-result-title" }, "Result"), status),
    ),
  );
}
