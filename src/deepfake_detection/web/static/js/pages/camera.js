// Live camera: stream the webcam, send one frame at a steady rate, show the stabilised verdict.

import { api } from "../api.js";
import { errorState, formatBytes, h, mount } from "../dom.js";
import { drawFaceBoxes } from "../faces.js";
import { limitsLine } from "../detector-limits.js";
import { detectionError, loadLimits, modelPicker } from "../models.js";
import { VERDICT_WORDS, fakePercent, fakeWords, verdictEvidence, verdictHeadline, verdictKind } from "../verdict.js";

const MAX_FRAME_WIDTH = 640;
const MAX_FAILURES = 3;
// Only when the server does not list its frame rates (it always has).
const FALLBACK_FRAME_RATE = 1;

/** "1 frame every 2 s", "1 frame per second", "2 frames per second". */
function frameRateLabel(fps) {
  if (fps < 1) return `1 frame every ${Number((1 / fps).toFixed(2))} s`;
  return fps === 1 ? "1 frame per second" : `${fps} frames per second`;
}

/** A clear sentence for each way getUserMedia can fail. */
function cameraErrorMessage(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera access was denied. Allow the camera for this site in your browser settings, then press Start camera again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Connect a webcam and press Start camera again.";
    case "NotReadableError":
    case "AbortError":
      return "The camera is busy or could not be started (another app may be using it).";
    default:
      return `The camera could not be started${error && error.message ? `: ${error.message}` : "."}`;
  }
}

/** Where analysed frames go and for how long (the server's CAMERA_FRAME_RETENTION_DAYS; null: no limit). */
function retentionText(days) {
  const kept = days ? `deleted automatically after ${days === 1 ? "1 day" : `${days} days`}` : "kept until you delete them in your history";
  return `Every analysed frame is stored on the server with its verdict, and ${kept}.`;
}

/** "Warming up (1 of 5 frames)" until the smoothing window is full, then what the verdict is smoothed over. */
function windowText(answer) {
  if (!answer.window_size) return "Live";
  if (answer.frames_in_window < answer.window_size) return `Warming up (${answer.frames_in_window} of ${answer.window_size} frames): the verdict settles once the window is full`;
  return `Live, smoothed over the last ${answer.window_size} frames`;
}

function newSessionId() {
  // randomUUID only exists in secure contexts; the camera needs one anyway, but stay safe.
  return window.crypto && crypto.randomUUID ? crypto.randomUUID() : `cam-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export function renderCamera(main, { signal }) {
  const picker = modelPicker({ id: "camera-model", use: "camera" });
  const video = h("video", { id: "camera-video", autoplay: true, muted: true, playsinline: true, "aria-label": "Camera preview" });
  video.muted = true;
  const placeholder = h("div", { class: "camera-placeholder" }, "The camera is off. Press Start camera.");
  // Boxes of the faces found in the last analysed frame, over the live picture.
  const faceLayer = h("div", { class: "face-layer", id: "camera-faces" });
  const view = h("div", { class: "camera-view" }, video, faceLayer, placeholder);
  // The view takes the camera's own shape, so the picture is neither cropped nor letterboxed.
  video.addEventListener("loadedmetadata", () => {
    if (video.videoWidth) view.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  });
  const canvas = document.createElement("canvas");
  const startButton = h("button", { type: "button", class: "button", id: "camera-start" }, "Start camera");
  const stopButton = h("button", { type: "button", class: "button button-ghost", id: "camera-stop", disabled: true }, "Stop");
  const rate = h("select", { id: "camera-rate", disabled: true }, h("option", { value: "" }, "Loading…"));
  let maxFrameBytes = Infinity;
  // The rates offered and the frame size limit are the server's.
  const retention = h("p", { class: "hint notice-retention", id: "camera-retention" });
  const limitsReady = loadLimits("camera").then((camera) => {
    // Said before the camera starts: the user decides knowing what is kept.
    retention.textContent = camera && "retention_days" in camera ? retentionText(camera.retention_days) : "Every analysed frame is stored on the server with its verdict.";
    const rates = camera && camera.frame_rates && camera.frame_rates.length ? camera.frame_rates : [FALLBACK_FRAME_RATE];
    const preferred = camera && rates.includes(camera.default_rate) ? camera.default_rate : rates[0];
    mount(rate, rates.map((fps) => h("option", { value: String(1000 / fps), selected: fps === preferred }, frameRateLabel(fps))));
    rate.value = String(1000 / preferred);
    rate.disabled = Boolean(stream);
    if (camera && camera.max_bytes) maxFrameBytes = camera.max_bytes;
  });
  const message = h("div", { id: "camera-message", "aria-live": "assertive" });
  const live = h("div", { id: "camera-live" }, h("div", { class: "state state-empty" }, "No verdict yet. Start the camera to begin."));
  // Announce only verdict changes, not every frame, so screen readers are not flooded.
  const announcer = h("p", { class: "visually-hidden", "aria-live": "polite", id: "camera-announcer" });

  let stream = null;
  let timer = null;
  let inFlight = false;
  let failures = 0;
  let sessionId = null;
  let framesSent = 0;
  let lastLabel = null;

  const stop = () => {
    clearInterval(timer);
    timer = null;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    faceLayer.replaceChildren();
    placeholder.hidden = false;
    startButton.disabled = false;
    stopButton.disabled = true;
    rate.disabled = false;
  };

  const showVerdict = (answer) => {
    const faces = (answer.frame && answer.frame.faces) || [];
    if (answer.frame) drawFaceBoxes(faceLayer, faces, answer.frame.width, answer.frame.height);
    // The window states this result went through, kept on the element (like the video page's data-seen).
    if (answer.window_size) {
      const state = `${answer.frames_in_window}/${answer.window_size}`;
      const states = (live.dataset.windows || "").split(" ").filter(Boolean);
      if (states[states.length - 1] !== state) live.dataset.windows = [...states, state].join(" ");
    }
    // The three-way verdict and its evidence are this frame's; the smoothed vote is shown next to it.
    const frame = { ...answer, ...(answer.frame || {}), verdict: answer.verdict ?? (answer.frame && answer.frame.verdict) };
    mount(
      live,
      h("p", { class: "hint", id: "camera-status" }, h("span", { class: "live-dot", "aria-hidden": "true" }), windowText(answer)),
      verdictHeadline(frame, { id: "camera-verdict", live: true, score: `this frame ${fakeWords(fakePercent(frame))}` }),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Model"),
        h("dd", {}, answer.model_used || answer.model_key || "—"),
        h("dt", {}, "Window"),
        h("dd", { id: "camera-window" }, answer.window_size ? `${answer.frames_in_window} of ${answer.window_size} frames` : "—"),
        h("dt", {}, "Smoothed vote"),
        h(
          "dd",
          { id: "camera-smoothed" },
          answer.fake_votes !== undefined ? `${answer.is_fake ? "fake" : "real"}: ${answer.fake_votes} of ${answer.frames_in_window ?? "—"} frames fake, mean ${fakeWords(fakePercent(answer))}` : "—",
        ),
        h("dt", {}, "Faces in this frame"),
        h("dd", {}, String(faces.length)),
        h("dt", {}, "Frames sent"),
        h("dd", { id: "camera-frames" }, String(framesSent)),
      ),
      verdictEvidence(frame, { idPrefix: "camera" }),
    );
    const label = verdictKind(frame);
    if (label !== lastLabel) announcer.textContent = `Live verdict: ${VERDICT_WORDS[label] || "none"}, this frame ${fakeWords(fakePercent(frame))}.`;
    lastLabel = label;
  };

  const sendFrame = async () => {
    if (inFlight || !stream || !video.videoWidth) return;
    inFlight = true;
    const scale = Math.min(1, MAX_FRAME_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const modelKey = picker.value();
    const image = canvas.toDataURL("image/jpeg", 0.85);
    // Base64 is 4/3 of the frame's bytes; the server would refuse a frame over its limit (413).
    const frameBytes = Math.floor(((image.length - image.indexOf(",") - 1) * 3) / 4);
    if (frameBytes > maxFrameBytes) {
      inFlight = false;
      stop();
      mount(message, errorState(`A camera frame is ${formatBytes(frameBytes)}; the server's limit is ${formatBytes(maxFrameBytes)}.`));
      return;
    }
    const body = { image, session_id: sessionId };
    if (modelKey) body.model = modelKey;
    try {
      const answer = await api("/api/detect/camera", { method: "POST", body, signal });
      framesSent += 1;
      failures = 0;
      message.replaceChildren();
      if (stream) showVerdict(answer);
    } catch (error) {
      if (error.name === "AbortError") return;
      failures += 1;
      // A missing model will not fix itself: stop at once. Other errors get a few retries.
      if (error.modelUnavailable || failures >= MAX_FAILURES) {
        stop();
        mount(message, detectionError(error, modelKey));
      } else {
        mount(message, errorState(`A frame could not be analysed: ${error.message}`));
      }
    } finally {
      inFlight = false;
    }
  };

  const start = async () => {
    message.replaceChildren();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      mount(message, errorState("This browser cannot use a camera here. The camera needs HTTPS (or localhost) and a recent browser."));
      return;
    }
    startButton.disabled = true;
    await limitsReady;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      startButton.disabled = false;
      mount(message, errorState(cameraErrorMessage(error)));
      return;
    }
    if (signal.aborted) {
      stop();
      return;
    }
    video.srcObject = stream;
    placeholder.hidden = true;
    stopButton.disabled = false;
    rate.disabled = true;
    sessionId = newSessionId();
    framesSent = 0;
    failures = 0;
    lastLabel = null;
    live.dataset.windows = "";
    mount(live, h("div", { class: "state state-loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Waiting for the first verdict…"));
    timer = setInterval(sendFrame, Number(rate.value));
  };

  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", () => {
    stop();
    startButton.focus();
  });
  // Leaving the page turns the camera off.
  signal.addEventListener("abort", stop, { once: true });

  mount(
    main,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "Live camera"), h("p", { class: "subtitle" }, "Frames from your webcam are checked continuously; the verdict is smoothed so one odd frame does not flip it."))),
    h(
      "div",
      { class: "grid-2" },
      h(
        "section",
        { class: "card stack", "aria-labelledby": "camera-title" },
        h("h2", { id: "camera-title" }, "Camera"),
        view,
        h("div", { class: "row" }, startButton, stopButton),
        h("div", { class: "row" }, picker.element, h("div", { class: "field" }, h("label", { for: "camera-rate" }, "Frame rate"), rate)),
        retention,
        message,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "camera-result-title" },
        h("h2", { id: "camera-result-title" }, "Live verdict"),
        live,
        limitsLine({ id: "camera-limits" }),
        announcer,
      ),
    ),
  );
}
