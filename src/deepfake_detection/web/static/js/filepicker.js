// A file picker that also accepts drag and drop; keyboard users reach the real <input type=file>.

import { formatBytes, h } from "./dom.js";

/**
 * Build the drop zone. accept: MIME prefix ("image/") and extensions for the input; maxBytes: size limit.
 * onFile(file) gets a checked file; onError(message) a refusal.
 */
export function filePicker({ id, label, accept, mimePrefix, extensions, maxBytes, onFile, onError }) {
  const input = h("input", { type: "file", id, name: id, accept, class: "visually-hidden" });
  const zone = h(
    "label",
    { class: "dropzone", for: id },
    h("p", {}, h("strong", {}, label)),
    h("p", { class: "hint" }, `Drag and drop here, or press to choose a file. Up to ${formatBytes(maxBytes)}.`),
  );

  const check = (file) => {
    if (!file) return;
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    const typeOk = (file.type && file.type.startsWith(mimePrefix)) || extensions.includes(extension);
    if (!typeOk) {
      onError(`"${file.name}" is not a supported file. Use ${extensions.join(", ")}.`);
    } else if (file.size === 0) {
      onError(`"${file.name}" is empty.`);
    } else if (file.size > maxBytes) {
      onError(`"${file.name}" is ${formatBytes(file.size)}; the limit is ${formatBytes(maxBytes)}.`);
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
