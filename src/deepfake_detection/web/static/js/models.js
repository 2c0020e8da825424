// The detection model dropdown (from /api/detect/models) and the "model not downloaded" notice.

import { api } from "./api.js";
import { h, mount } from "./dom.js";

let cached = null;

/**
 * The server's models, its defaults per use and its upload limits (fetched once per page load; a failure is
 * retried next time).
 */
export function loadModels() {
  if (!cached) {
    cached = api("/api/detect/models").then((data) => ({
      list: data.models || [],
      defaults: { image: data.default, video: data.default, camera: data.camera_default || data.default },
      limits: data.limits || null,
    }));
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}

/**
 * The server's upload limits for one use ("image", "video" or "camera"): {max_bytes, extensions} or, for the
 * camera, {max_bytes, frame_rates, default_rate}. Null when the server did not say (it still checks).
 */
export function loadLimits(use) {
  return loadModels()
    .then(({ limits }) => (limits && limits[use]) || null)
    .catch(() => null);
}

/** The command that downloads a model's weights on the server. */
export function downloadCommand(key) {
  return `deepfake download-models --model ${key}`;
}

/** Explains that a model is not downloaded and names the command that fetches it; detail is the server's own words. */
export function modelUnavailableNotice(key, detail) {
  const command = downloadCommand(key || "KEY");
  return h(
    "div",
    { class: "state state-warn model-unavailable", role: "alert" },
    h("strong", {}, `The model "${key}" is not downloaded on the server yet.`),
    detail ? h("span", { class: "notice-detail" }, detail) : null,
    h("span", {}, "An administrator can fetch it with: ", h("code", {}, command)),
  );
}

/** Uses the ensemble is preselected for; it is offered everywhere (a calibration names its model on purpose). */
const ENSEMBLE_DEFAULT_USES = new Set(["image", "camera", "video"]);

/**
 * The web app's choice for a use: the ensemble when the server offers it with at least two downloaded
 * members, else the server's documented default for that use.
 */
export function preferredModel(list, defaults, use) {
  const available = new Set(list.filter((m) => m.available !== false).map((m) => m.key));
  const ensemble = ENSEMBLE_DEFAULT_USES.has(use) ? list.find((m) => m.key === "ensemble" && Array.isArray(m.members)) : null;
  if (ensemble && ensemble.members.filter((key) => available.has(key)).length >= 2) return ensemble;
  return list.find((m) => m.key === defaults[use]) || list.find((m) => m.default) || list[0];
}

/**
 * A labelled <select> filled from the API. Returns {element, value(), ready}; the ensemble (see
 * preferredModel) or else the server's default for this use is preselected, the chosen model's description
 * is shown under it, and picking one that is not downloaded shows the notice at once. The ensemble is offered
 * for every use but preselected only for images, camera frames and videos, not for "calibration".
 */
export function modelPicker({ id = "model-select", use = "image" } = {}) {
  const select = h("select", { id, name: "model", disabled: true, "aria-describedby": `${id}-description` }, h("option", { value: "" }, "Loading models…"));
  // The chosen model's one-line description stays on the page (an option's title shows only on hover).
  const description = h("p", { class: "hint model-description", id: `${id}-description` });
  const notice = h("div", { class: "model-notice" });
  const element = h(
    "div",
    { class: "field" },
    h("label", { for: id }, "Detection model"),
    select,
    description,
    notice,
  );
  let models = [];
  const showNotice = () => {
    const model = models.find((m) => m.key === select.value);
    description.textContent = (model && model.description) || "";
    if (model && model.available === false) mount(notice, modelUnavailableNotice(model.key));
    else notice.replaceChildren();
  };
  select.addEventListener("change", showNotice);
  const ready = loadModels()
    .then(({ list, defaults }) => {
      models = list;
      if (!list.length) {
        mount(select, h("option", { value: "" }, "Server default"));
        select.disabled = false;
        return;
      }
      mount(
        select,
        list.map((model) =>
          h("option", { value: model.key, title: model.description || null }, model.available === false ? `${model.name} (not downloaded)` : model.name),
        ),
      );
      const preferred = preferredModel(list, defaults, use);
      select.value = preferred.key;
      select.disabled = false;
      showNotice();
    })
    .catch((error) => {
      mount(select, h("option", { value: "" }, "Server default"));
      select.disabled = false;
      mount(notice, h("p", { class: "hint", role: "status" }, `Could not load the model list (${error.message}); the server default is used.`));
    });
  return { element, ready, value: () => select.value, select };
}

/** Render an API failure; a 503 (model not downloaded) also names the fetch command. */
export function detectionError(error, modelKey) {
  if (error.modelUnavailable) {
    const key = (error.data && (error.data.model_key || error.data.model)) || modelKey;
    return modelUnavailableNotice(key, error.message);
  }
  return h("div", { class: "state state-error", role: "alert" }, error.message);
}
