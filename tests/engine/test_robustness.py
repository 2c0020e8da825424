"""Damaged inputs of many shapes: what each must give, and never an exception other than InvalidMediaError."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detection.engine import InvalidMediaError
from tests.support import media

IMAGE_FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]


def _refused(engine, data: bytes) -> str:
    """The message of the InvalidMediaError detect_image raises (the test fails if it answers instead)."""
    with pytest.raises(InvalidMediaError) as err:
        engine.detect_image(data)
    assert err.value.message and "/" not in err.value.message
    return err.value.message


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_truncated_images_are_refused(engine, fmt):
    data = media.image_bytes(media.face_photo(True), fmt)
    for cut in (1, 16, 100, len(data) // 3):
        _refused(engine, data[:cut])
    # Losing the last 10 bytes: a PNG then lacks only part of its IEND trailer, every pixel is there,
    # so it is analysed; in the other formats pixel data (or JPEG's end marker) is missing: refused.
    nearly_whole = data[:-10]
    if fmt == "PNG":
        assert engine.detect_image(nearly_whole).is_fake is True
    else:
        _refused(engine, nearly_whole)


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_bit_flipped_images_answer_or_are_refused_never_crash(engine, fmt):
    data = media.image_bytes(media.face_photo(True), fmt)
    rng = np.random.default_rng(len(fmt))
    for _ in range(4):
        flipped = bytearray(data)
        for pos in rng.integers(0, len(data), 20):
            flipped[pos] ^= 0xFF
        if fmt == "PNG":  # every chunk carries a CRC: damage is always detected
            _refused(engine, bytes(flipped))
            continue
        try:  # any other exception type fails the test
            verdict = engine.detect_image(bytes(flipped))
        except InvalidMediaError as err:
            assert err.message and "/" not in err.message
        else:
            assert 0.0 <= verdict.fake_probability <= 1.0
            assert (verdict.width, verdict.height) == (512, 512)


# (container, fraction) -> frames analysed out of the clean video's 4 after 5% of the file is overwritten
# with noise there, and whether the damage shows as skipped frames. The container stays readable.
DAMAGED = {
    ("mp4", 0.02): (4, False),
    ("mp4", 0.3): (3, True),
    ("mp4", 0.6): (4, False),
    ("mp4", 0.9): (4, False),
    ("mkv", 0.02): (4, False),
    ("mkv", 0.3): (3, True),
    ("mkv", 0.6): (3, True),
    ("mkv", 0.9): (4, False),
}
# (container, fraction) -> frames analysed when the file is cut there; None: refused. An MP4 written
# without faststart keeps its index at the end, so any cut loses it; Matroska is readable up to the cut.
CUT = {
    ("mp4", 0.02): None,
    ("mp4", 0.3): None,
    ("mp4", 0.6): None,
    ("mp4", 0.9): None,
    ("mkv", 0.02): None,
    ("mkv", 0.3): 1,
    ("mkv", 0.6): 2,
    ("mkv", 0.9): 3,
}


@pytest.mark.parametrize("container, start", list(DAMAGED), ids=lambda v: str(v))
def test_damaged_and_truncated_videos(engine, tmp_path, container, start):
    path = media.write_video(tmp_path / f"v.{container}", seconds=4, fps=15, gop=15)
    original = path.read_bytes()
    assert engine.detect_video(path).frames_analyzed == 4

    media.damage_file(path, start_fraction=start, length_fraction=0.05)
    verdict = engine.detect_video(path)
    frames, skips = DAMAGED[(container, start)]
    assert verdict.frames_analyzed == frames
    assert (verdict.frames_skipped > 0) is skips
    assert verdict.duration == pytest.approx(4.0, abs=0.01)

    cut = tmp_path / f"cut.{container}"
    cut.write_bytes(original[: int(len(original) * start)])
    expected = CUT[(container, start)]
    if expected is None:
        with pytest.raises(InvalidMediaError) as err:
            engine.detect_video(cut)
        assert err.value.message and "/" not in err.value.message
    else:
        verdict = engine.detect_video(cut)
        assert verdict.frames_analyzed == expected
        assert verdict.duration < 4.0
