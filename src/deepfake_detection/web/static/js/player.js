// The analysed video in a player that jumps to a chosen moment (a timeline point or a listed frame).

import { fetchMediaUrl } from "./api.js";
import { formatPercent, h, mount } from "./dom.js";

/**
 * A <video> of the uploaded file: a File picked on this page (played locally), or else the server's copy
 * (GET /api/videos/<id>/file, fetched with the token as a blob, since <video src> cannot send it). The blob
 * URL is revoked when signal aborts. Returns {element, seek(seconds)}.
 */
export function videoPlayer({ videoId, file, idPrefix = "video", signal }) {
  const video = h("video", { id: `${idPrefix}-player`, controls: true, preload: "metadata", playsinline: true, "aria-label": "The analysed video" });
  const status = h("p", { class: "hint", id: `${idPrefix}-player-status`, "aria-live": "polite" });
  const element = h("div", { class: "player stack" }, h("div", { class: "media-frame" }, video), status);
  let pending = null;
  let url = null;

  const apply = () => {
    if (pending === null || !video.src) return;
    // Before the metadata is in, the browser cannot seek yet: wait for it.
    if (video.readyState < HTMLMediaElement.HAVE_METADATA) return;
    video.currentTime = Math.min(pending, Number.isFinite(video.duration) ? video.duration : pending);
    pending = null;
  };
  video.addEventListener("loadedmetadata", apply);
  video.addEventListener("error", () => {
    status.textContent = "This browser cannot play this video's format; the timeline still shows every analysed frame.";
  });

  const attach = (objectUrl) => {
    url = objectUrl;
    video.src = url;
    apply();
  };
  if (file) attach(URL.createObjectURL(file));
  else if (videoId !== undefined && videoId !== null) {
    status.textContent = "Loading the video…";
    fetchMediaUrl(`/api/videos/${videoId}/file`, { signal })
      .then((objectUrl) => {
        if (signal && signal.aborted) {
          URL.revokeObjectURL(objectUrl);
          return;
        }
        status.textContent = "";
        attach(objectUrl);
      })
      .catch((error) => {
        if (error.name !== "AbortError") status.textContent = error.status === 404 ? "The uploaded video is no longer stored." : `The video could not be loaded: ${error.message}`;
      });
  }
  signal?.addEventListener(
    "abort",
    () => {
      video.removeAttribute("src");
      video.load();
      if (url) URL.revokeObjectURL(url);
    },
    { once: true },
  );

  const seek = (seconds) => {
    pending = Number(seconds);
    // A video the browser cannot play keeps its explanation.
    if (!video.error) status.textContent = `Showing ${pending.toFixed(1)} s.`;
    apply();
  };
  return { element, seek };
}

/** Buttons for every analysed frame ("1.0 s · 87% fake"), folded away; each jumps the player there. */
export function frameList(timeline, seek, { idPrefix = "video" } = {}) {
  const list = h("div", { class: "frame-times", id: `${idPrefix}-frame-times` });
  mount(
    list,
    timeline.map((frame) =>
      h(
        "button",
        {
          type: "button",
          class: `button button-ghost button-small frame-${["fake", "uncertain", "real"].includes(frame.verdict) ? frame.verdict : frame.is_fake ? "fake" : "real"}`,
          "data-time": frame.time,
          onclick: () => seek(Number(frame.time)),
        },
        `${Number(frame.time).toFixed(1)} s · ${formatPercent(Number(frame.fake_probability) * 100)} fake`,
      ),
    ),
  );
  return h("details", { class: "frame-list" }, h("summary", {}, `Jump to an analysed frame (${timeline.length})`), list);
}

/** "0-6 s" (one decimal only when needed). */
function span(segment) {
  const time = (value) => Number(Number(value).toFixed(1));
  return time(segment.start) === time(segment.end) ? `${time(segment.start)} s` : `${time(segment.start)}-${time(segment.end)} s`;
}

/** A button per segment ("fake 0-6 s"), coloured by its verdict; each jumps the player to its start. */
export function segmentList(segments, seek, { idPrefix = "video" } = {}) {
  return h(
    "div",
    { class: "frame-times segment-buttons", id: `${idPrefix}-segment-buttons` },
    segments.map((segment) =>
      h(
        "button",
        {
          type: "button",
          class: `button button-ghost button-small frame-${segment.verdict}`,
          "data-start": segment.start,
          "data-verdict": segment.verdict,
          "aria-label": `Show the ${segment.verdict} segment ${span(segment)}`,
          onclick: () => seek(Number(segment.start)),
        },
        `${segment.verdict} ${span(segment)}`,
      ),
    ),
  );
}
