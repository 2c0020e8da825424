// A file picker that also accepts drag and drop; keyboard users reach the real <input type=file>.

import { formatBytes, h } from "./dom.js";

/**
 * Build the drop zone. mimePrefix: accepted MIME prefix ("image/"); limits: a promise of the server's
 * {max_bytes, extensions} for this kind of file (or null: the server alone checks).
 * onFile(file) gets a checked file; onError(message) a refusal.
 */
export function filePicker({ id, label, mimePrefix, limits, onFile, onError }) {
  const input = h("input", { type: "file", id, name: id, class: "visually-hidden" });
  const hint = h("p", { class: "hint" }, "Drag and drop here, or press to choose a file.");
  const zone = h("label", { class: "dropzone", for: id }, h("p", {}, h("strong", {}, label)), hint);
  const rules = Promise.resolve(limits).catch(() => null);
  rules.then((rule) => {
    if (!rule) return;
    input.accept = rule.extensions.map((extension) => `.${extension}`).join(",");
    hint.textContent = `Drag and drop here, or press to choose a file. Up to ${formatBytes(rule.max_bytes)}.`;
  });

  const check = async (file) => {
    if (!file) return;
    // A file picked before the limits arrived waits for them.
    const rule = await rules;
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    const typeOk = !rule || (file.type && file.type.startsWith(mimePrefix)) || rule.extensions.includes(extension);
    if (!typeOk) {
      onError(`"${file.name}" is not a supported file. Use ${rule.extensions.join(", ")}.`);
    } else if (file.size === 0) {
      onError(`"${file.name}" is empty.`);
    } else if (rule && file.size > rule.max_bytes) {
      onError(`"${file.name}" is ${formatBytes(file.size)}; the limit is ${formatBytes(rule.max_bytes)}.`);
    } else {
      onFile(file);
    }
  };

  input.addEventListener("change", () => check(input.files[0]));
  // Keep the focus ring visible on the zone while the hidden input has focus.
  input.addEventListener("focus", () => zone.classList.add("is-focused"));
  input.addEventListener("blur", () => zone.classList.remove("is-focused"));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("is-dragover");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("is-dragover"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    check(event.dataTransfer.files[0]);
  });
  return h("div", { class: "field" }, input, zone);
}
