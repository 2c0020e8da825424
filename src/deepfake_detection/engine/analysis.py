"""Shared core: faces of many images → crops → one batched pass → per-image results."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .faces import FaceDetector, crop_face, enhance
from .models import Classifier
from .settings import EngineSettings
from .verdicts import FaceResult, confidence_of


@dataclass
class ImageAnalysis:
    """Classification of one image: the most-fake face decides; whole image when no face."""

    fake_probability: float
    faces: list[FaceResult]

    @property
    def face_found(self) -> bool:
        return bool(self.faces)


def analyse_images(images: list[np.ndarray], *, classifier: Classifier, detector: FaceDetector | None,
                   settings: EngineSettings) -> list[ImageAnalysis]:
    """Detect faces in every image, classify all crops (or whole images) in batches."""
    inputs: list[np.ndarray] = []
    owners: list[tuple[int, object]] = []  # (image index, FaceBox or None for the whole image)
    for index, rgb in enumerate(images):
        boxes = detector.detect(rgb) if detector is not None else []
        if not boxes:
            inputs.append(rgb)
            owners.append((index, None))
            continue
        for box in boxes:
            crop = crop_face(rgb, box, margin=settings.face_margin)
            inputs.append(enhance(crop) if settings.face_enhance else crop)
            owners.append((index, box))
    probabilities = classifier.fake_probabilities(inputs)
    results = [ImageAnalysis(0.0, []) for _ in images]
    for (index, box), prob in zip(owners, probabilities):
        prob = round(float(prob), 6)
        result = results[index]
        if box is None:
            result.fake_probability = prob
            continue
        result.faces.append(FaceResult(
            box={"x": box.x, "y": box.y, "width": box.width, "height": box.height},
            detection_score=box.score, fake_probability=prob, is_fake=prob >= 0.5,
            confidence=confidence_of(prob),
        ))
        result.fake_probability = max(result.fake_probability, prob)
    return results
