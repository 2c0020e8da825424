// Face boxes drawn over an image or video, positioned in percent of the analysed picture so they scale.

import { h } from "./dom.js";
import { fakeWords } from "./verdict.js";

/** Replace the boxes in layer (an element covering the picture) with one per face of a width × height picture. */
export function drawFaceBoxes(layer, faces, width, height) {
  for (const old of layer.querySelectorAll(".face-box")) old.remove();
  if (!width || !height) return;
  faces.forEach((face, index) => {
    const box = face.box || face;
    const verdict = face.is_fake ? "fake" : "real";
    // The face's own fake probability in words, never a bare "confidence".
    const percent = face.fake_probability !== undefined ? face.fake_probability * 100 : face.is_fake ? face.confidence : 100 - face.confidence;
    const text = fakeWords(percent);
    layer.append(
      h(
        "div",
        {
          class: `face-box is-${verdict}`,
          role: "img",
          "aria-label": `Face ${index + 1}: ${text}`,
          style: {
            left: `${(box.x / width) * 100}%`,
            top: `${(box.y / height) * 100}%`,
            width: `${(box.width / width) * 100}%`,
            height: `${(box.height / height) * 100}%`,
          },
        },
        h("span", { class: "face-box-label", "aria-hidden": "true" }, text),
      ),
    );
  });
}

/**
 * Wrap img in a frame with one box per face. width/height are the pixel size the boxes refer to
 * (the API's image size); without them the image's natural size is used once it has loaded.
 */
export function imageWithFaces(img, faces = [], { width, height } = {}) {
  const frame = h("div", { class: "media-frame" }, img);
  if (width && height) drawFaceBoxes(frame, faces, width, height);
  else if (img.complete && img.naturalWidth) drawFaceBoxes(frame, faces, img.naturalWidth, img.naturalHeight);
  else img.addEventListener("load", () => drawFaceBoxes(frame, faces, img.naturalWidth, img.naturalHeight), { once: true });
  return frame;
}
