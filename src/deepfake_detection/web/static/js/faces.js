// Face boxes drawn over an image, positioned in percent of the analysed image so they scale with it.

import { formatPercent, h } from "./dom.js";

/**
 * Wrap img in a frame with one box per face. width/height are the pixel size the boxes refer to
 * (the API's image size); without them the image's natural size is used once it has loaded.
 */
export function imageWithFaces(img, faces = [], { width, height } = {}) {
  const frame = h("div", { class: "media-frame" }, img);
  const place = (w, h_) => {
    for (const old of frame.querySelectorAll(".face-box")) old.remove();
    if (!w || !h_) return;
    faces.forEach((face, index) => {
      const box = face.box || face;
      const verdict = face.is_fake ? "fake" : "real";
      const text = `Face ${index + 1}: ${verdict.toUpperCase()} ${formatPercent(face.confidence)}`;
      frame.append(
        h(
          "div",
          {
            class: `face-box is-${verdict}`,
            role: "img",
            "aria-label": text,
            style: {
              left: `${(box.x / w) * 100}%`,
              top: `${(box.y / h_) * 100}%`,
              width: `${(box.width / w) * 100}%`,
              height: `${(box.height / h_) * 100}%`,
            },
          },
          h("span", { class: "face-box-label", "aria-hidden": "true" }, `${verdict.toUpperCase()} ${formatPercent(face.confidence)}`),
        ),
      );
    });
  };
  if (width && height) place(width, height);
  else if (img.complete && img.naturalWidth) place(img.naturalWidth, img.naturalHeight);
  else img.addEventListener("load", () => place(img.naturalWidth, img.naturalHeight), { once: true });
  return frame;
}
