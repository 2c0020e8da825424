// Image detection: pick or drop an image, preview it, run a model, show the verdict with face boxes.

import { api } from "../api.js";
import { emptyState, errorState, formatBytes, formatDuration, h, loadingState, mount } from "../dom.js";
import { imageWithFaces } from "../faces.js";
import { filePicker } from "../filepicker.js";
import { limitsLine } from "../detector-limits.js";
import { detectionError, loadLimits, modelPicker } from "../models.js";
import { verdictEvidence, verdictHeadline } from "../verdict.js";

/** The facts under a verdict (also used by the history detail view). */
export function imageFacts(result) {
  const faces = result.faces || [];
  return h(
    "dl",
    { class: "facts" },
    h("dt", {}, "Model"),
    h("dd", { id: "result-model" }, result.model_used || result.model_name || result.model_key || "—"),
    h("dt", {}, "Faces found"),
    h("dd", { id: "result-faces" }, result.face_found === false ? "None (whole image analysed)" : String(faces.length)),
    result.width ? [h("dt", {}, "Image size"), h("dd", {}, `${result.width} × ${result.height} px`)] : null,
    h("dt", {}, "Time"),
    h("dd", { id: "result-time" }, formatDuration(result.processing_time_ms)),
  );
}

export function renderImage(main, { signal }) {
  let file = null;
  let previewUrl = null;
  const picker = modelPicker({ id: "image-model" });
  // The preview lives in the result card, so the face boxes end up drawn over the image there.
  const preview = h("div", { class: "preview", id: "image-preview" });
  const message = h("div", { "aria-live": "polite" });
  const result = h("div", { id: "image-result" }, emptyState("Choose an image, then press Detect. The verdict appears here."));
  const details = h("div", { class: "result-details" });
  const detectButton = h("button", { type: "submit", class: "button", disabled: true, id: "detect-image" }, "Detect");

  const showPreview = (faces = [], size = {}) => {
    const img = h("img", { src: previewUrl, alt: `Preview of ${file.name}` });
    mount(preview, imageWithFaces(img, faces, size), h("p", { class: "hint" }, `${file.name} · ${formatBytes(file.size)}`));
  };

  const picked = (chosen) => {
    file = chosen;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    message.replaceChildren();
    mount(result, emptyState("Press Detect to analyse this image."));
    details.replaceChildren();
    showPreview();
    detectButton.disabled = false;
  };

  const form = h(
    "form",
    { class: "form", id: "image-form" },
    picker.element,
    filePicker({
      id: "image-file",
      label: "Choose an image",
      mimePrefix: "image/",
      limits: loadLimits("image"),
      onFile: picked,
      onError: (text) => mount(message, errorState(text)),
    }),
    message,
    h("div", { class: "row" }, detectButton),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file) return;
    const modelKey = picker.value();
    const data = new FormData();
    data.append("image", file);
    if (modelKey) data.append("model", modelKey);
    // The robustness self-test is on for every image from the web app (re-compressed and rescaled copies).
    data.append("robustness", "true");
    detectButton.disabled = true;
    mount(result, loadingState("Analysing the image…"));
    details.replaceChildren();
    try {
      const answer = await api("/api/detect/image", { method: "POST", form: data, signal });
      showPreview(answer.faces || [], { width: answer.width, height: answer.height });
      mount(result, verdictHeadline(answer, { id: "image-verdict" }), limitsLine({ id: "image-limits" }), verdictEvidence(answer, { idPrefix: "image" }));
      mount(
        details,
        imageFacts(answer),
        answer.history_id ? h("p", {}, h("a", { href: `#/history/${answer.history_id}` }, "Open in history")) : null,
      );
    } catch (error) {
      if (error.name === "AbortError") return;
      mount(result, detectionError(error, modelKey));
    } finally {
      detectButton.disabled = false;
    }
  });

  signal.addEventListener("abort", () => previewUrl && URL.revokeObjectURL(previewUrl), { once: true });

  mount(
    main,
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "Image detection"), h("p", { class: "subtitle" }, "Is this photo real or a deepfake?"))),
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card", "aria-labelledby": "image-input-title" }, h("h2", { id: "image-input-title" }, "Image"), form),
      h("section", { class: "card", "aria-labelledby": "image-result-title" }, h("h2", { id: "image-result-title" }, "Result"), result, preview, details),
    ),
  );
}
