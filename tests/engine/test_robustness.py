"""Damaged inputs of many shapes: the engine answers or raises InvalidMediaError, nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detection.engine import InvalidMediaError
from tests.support import media


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_truncated_and_bit_flipped_images(engine, fmt):
    data = media.image_bytes(media.face_photo(True), fmt)
    rng = np.random.default_rng(len(fmt))
    variants = [data[:cut] for cut in (1, 16, 100, len(data) // 3, len(data) - 10)]
    for _ in range(4):
        flipped = bytearray(data)
        for pos in rng.integers(0, len(data), 20):
            flipped[pos] ^= 0xFF
        variants.append(bytes(flipped))
    for variant in variants:
        try:
            verdict = engine.detect_image(variant)
        except InvalidMediaError as err:
            assert err.message
        else:
            assert 0 <= verdict.fake_probability <= 1


@pytest.mark.parametrize("start", [0.02, 0.3, 0.6, 0.9])
def test_damaged_and_truncated_videos(engine, tmp_path, start):
    path = media.write_video(tmp_path / "v.mp4", seconds=4, fps=15, gop=15)
    original = path.read_bytes()
    media.damage_file(path, start_fraction=start, length_fraction=0.05)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(original[: int(len(original) * start)])
    for candidate in (path, cut):
        try:
            verdict = engine.detect_video(candidate)
        except InvalidMediaError as err:
            assert err.message
        else:
            assert verdict.frames_analyzed >= 1
