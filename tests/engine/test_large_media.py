"""Maximum-size inputs: video frame cap, reduced decoding of large images, bounded concurrent decodes."""

from __future__ import annotations

import io
import os
import threading
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.engine import DetectionEngine, EngineSettings, InvalidMediaError
from deepfake_detection.engine.memory import LARGE_DECODES, release_freed_memory
from deepfake_detection.engine.video import VideoReader
from tests.support import media


def make_engine(**overrides) -> DetectionEngine:
    return DetectionEngine(EngineSettings.from_env({**os.environ, **overrides}))


# --- video ------------------------------------------------------------------------------------


def test_video_frames_over_the_pixel_cap_are_refused_before_decoding(engine, tmp_path):
    path = media.write_mjpeg(tmp_path / "big.avi", size=(4000, 2200), seconds=2)  # 8.8 Mpx > 4K UHD
    with pytest.raises(InvalidMediaError, match=r"too large \(4000x2200 pixels; the limit is 8,294,400"):
        VideoReader(path)  # the constructor only reads headers: no frame was decoded
    with pytest.raises(InvalidMediaError, match="too large"):
        engine.detect_video(path)


def test_the_video_pixel_cap_is_a_setting(tiny_hf_home, tmp_path):
    path = media.write_video(tmp_path / "v.mp4", seconds=1, size=(320, 240))
    with pytest.raises(InvalidMediaError, match="320x240 pixels; the limit is 76,799"):
        make_engine(DEEPFAKE_MAX_VIDEO_PIXELS="76799").detect_video(path)
    assert make_engine(DEEPFAKE_MAX_VIDEO_PIXELS="76800").detect_video(path).frames_analyzed == 1


def test_decoded_frames_over_the_cap_are_refused_when_the_declared_size_lies(engine, tmp_path):
    path = media.write_mjpeg_growing_frames(tmp_path / "grow.mjpeg", first=(320, 240), later=(4000, 2200))
    with VideoReader(path) as reader:
        assert (reader.info.width, reader.info.height) == (320, 240)
        with pytest.raises(InvalidMediaError, match="4000x2200"):
            list(reader.frames_at([0.0, 1.0]))
    with pytest.raises(InvalidMediaError, match="too large"):
        engine.detect_video(path)


def test_4k_frames_are_scaled_down_while_converting(engine, tmp_path):
    path = media.write_mjpeg(tmp_path / "uhd.avi", size=(3840, 2160), seconds=2)
    with VideoReader(path) as reader:
        shapes = [frame.rgb.shape for frame in reader.frames_at([0.0, 1.0])]
    assert shapes == [(1152, 2048, 3)] * 2
    verdict = engine.detect_video(path)
    assert verdict.frames_analyzed == 2 and verdict.frames_skipped == 0


# --- images -----------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _photo(size: tuple[int, int]) -> Image.Image:
    return media.scaled_face_photo(size)


def _full_resolution_box(engine, rgb: np.ndarray) -> tuple[int, int, int, int]:
    """The face box of the full-size array, as the engine found it before decoding reduced."""
    [box] = engine.face_detector().detect(rgb)
    return box.x, box.y, box.width, box.height


def _assert_same_box(found: dict, expected: tuple[int, int, int, int], side: int) -> None:
    # Detection runs on a 640 px copy either way: allow 3 of its pixels in original pixels.
    tolerance = 3 * side / 640
    got = (found["x"], found["y"], found["width"], found["height"])
    assert all(abs(a - b) <= tolerance for a, b in zip(got, expected)), (got, expected, tolerance)


def test_jpeg_just_under_the_cap_keeps_original_size_and_box(engine):
    photo = _photo((6300, 6300))  # 39.7 Mpx, under the 40 Mpx cap
    verdict = engine.detect_image(media.image_bytes(photo, quality=90))
    assert (verdict.width, verdict.height) == (6300, 6300)
    assert len(verdict.faces) == 1
    _assert_same_box(verdict.faces[0].box, _full_resolution_box(engine, np.asarray(photo)), 6300)


def test_large_png_and_sideways_jpeg_keep_original_size_and_box(engine):
    photo = _photo((4000, 3000))
    expected = _full_resolution_box(engine, np.asarray(photo))
    verdict = engine.detect_image(media.image_bytes(photo, "PNG", compress_level=1))
    assert (verdict.width, verdict.height) == (4000, 3000)
    _assert_same_box(verdict.faces[0].box, expected, 4000)

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: "rotate 90 CW to display"
    buffer = io.BytesIO()
    photo.transpose(Image.Transpose.ROTATE_90).save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    verdict = engine.detect_image(buffer.getvalue())
    assert (verdict.width, verdict.height) == (4000, 3000)
    _assert_same_box(verdict.faces[0].box, expected, 4000)


def test_concurrent_large_decodes_are_bounded(tiny_hf_home):
    eng = make_engine(DEEPFAKE_MAX_LARGE_DECODES="2")
    eng.detect_image(media.face_photo())  # model loaded before the threads start
    data = media.flat_png((4000, 4000))  # 16 Mpx: a large decode
    LARGE_DECODES.peak = 0
    barrier = threading.Barrier(6)
    answers, errors = [], []

    def upload() -> None:
        barrier.wait()
        try:
            answers.append(eng.detect_image(data).width)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and answers == [4000] * 6
    assert LARGE_DECODES.peak == 2, "never more than 2 at once, and the 6 uploads did overlap"
    assert LARGE_DECODES.active == 0


def test_freed_memory_is_handed_back_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert release_freed_memory() is True
