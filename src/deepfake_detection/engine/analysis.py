"""Shared core: faces of many images → crops → one batched pass → per-image results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .batching import FakeProbabilities
from .faces import FaceBox, FaceDetector, crop_face, enhance
from .settings import EngineSettings
from .verdicts import FaceResult, confidence_of


@dataclass
class PreparedImage:
    """What goes to the model for one image: enhanced face crops, or the whole image."""

    boxes: list[FaceBox]
    inputs: list[np.ndarray]


@dataclass
class ImageAnalysis:
    """Classification of one image: the most-fake face decides; whole image when no face."""

    fake_probability: float
    faces: list[FaceResult]

    @property
    def face_found(self) -> bool:
        return bool(self.faces)


def prepare_image(rgb: np.ndarray, *, detector: FaceDetector | None, settings: EngineSettings) -> PreparedImage:
    """Detect faces and cut (and enhance) their crops; the whole image when there is none."""
    boxes = detector.detect(rgb) if detector is not None else []
    if not boxes:
        return PreparedImage([], [rgb])
    crops = [crop_face(rgb, box, margin=settings.face_margin) for box in boxes]
    return PreparedImage(boxes, [enhance(c) for c in crops] if settings.face_enhance else crops)


def classify_prepared(prepared: list[PreparedImage], *, classifier: FakeProbabilities) -> list[ImageAnalysis]:
    """Classify every crop of every image (with a Classifier or a batcher) and fold the results back per image."""
    flat = [img for item in prepared for img in item.inputs]
    return fold_probabilities(prepared, classifier.fake_probabilities(flat))


def fold_probabilities(prepared: list[PreparedImage], flat: Iterable[float]) -> list[ImageAnalysis]:
    """Per-image results from one probability per input, in the order of the images' inputs."""
    probabilities = iter(flat)
    results = []
    for item in prepared:
        probs = [round(float(next(probabilities)), 6) for _ in item.inputs]
        if not item.boxes:
            results.append(ImageAnalysis(probs[0], []))
            continue
        faces = [
            FaceResult(
                box={"x": b.x, "y": b.y, "width": b.width, "height": b.height},
                detection_score=b.score,
                fake_probability=p,
                is_fake=p >= 0.5,
                confidence=confidence_of(p),
            )
            for b, p in zip(item.boxes, probs)
        ]
        results.append(ImageAnalysis(max(probs), faces))
    return results


def boxes_to_original(analysis: ImageAnalysis, *, scale: tuple[float, float], width: int, height: int) -> ImageAnalysis:
    """Face boxes from the pixels of the analysed (reduced) image to the original's, clipped to it."""
    sx, sy = scale
    if (sx, sy) == (1.0, 1.0):
        return analysis
    for face in analysis.faces:
        box = face.box
        x0, y0 = round(box["x"] * sx), round(box["y"] * sy)
        x1 = min(width, round((box["x"] + box["width"]) * sx))
        y1 = min(height, round((box["y"] + box["height"]) * sy))
        face.box = {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}
    return analysis


def analyse_images(
    images: list[np.ndarray], *, classifier: FakeProbabilities, detector: FaceDetector | None, settings: EngineSettings
) -> list[ImageAnalysis]:
    """Detect faces in every image, classify all crops (or whole images) in batches."""
    prepared = [prepare_image(rgb, detector=detector, settings=settings) for rgb in images]
    return classify_prepared(prepared, classifier=classifier)
