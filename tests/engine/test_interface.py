"""The engine calls the app needs besides detection: probing a video's container, warming models up."""

from __future__ import annotations

import os

import pytest

from deepfake_detection.engine import (
    DetectionEngine,
    EngineSettings,
    InvalidMediaError,
    ModelUnavailableError,
    UnknownModelError,
    VideoProbe,
)
from tests.support import media

MISSING = "missing-model"


def make_engine(**overrides) -> DetectionEngine:
    """An engine of its own, configured from the test environment plus overrides (never os.environ)."""
    return DetectionEngine(EngineSettings.from_env({**os.environ, **overrides}))


def test_probe_describes_a_real_mp4(engine, tmp_path):
    path = media.write_video(tmp_path / "clip.mp4", seconds=2, fps=25, size=(320, 240))
    probe = engine.probe_video(path)
    assert isinstance(probe, VideoProbe)
    assert "mp4" in probe.format_names and "mov" in probe.format_names
    assert probe.duration == pytest.approx(2.0, abs=0.1) and probe.fps == pytest.approx(25)
    assert (probe.width, probe.height) == (320, 240)
    assert probe.first_frame_decodes is True
    assert probe.to_dict()["format_names"] == list(probe.format_names)


def test_probe_names_the_matroska_container(engine, tmp_path):
    path = media.write_video(tmp_path / "clip.mkv", seconds=1, fps=10, container_format="matroska")
    probe = engine.probe_video(path)
    assert "matroska" in probe.format_names and "mp4" not in probe.format_names
    assert probe.first_frame_decodes is True


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (media.corrupt_video_bytes(), "not a readable video"),
    ],
)
def test_probe_refuses_what_is_not_a_video(engine, tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InvalidMediaError, match=message):
        engine.probe_video(path)


def test_probe_uses_the_engine_s_own_frame_size_cap(tmp_path):
    path = media.write_video(tmp_path / "clip.mp4", seconds=1, fps=10, size=(320, 240))
    small_cap = make_engine(DEEPFAKE_MAX_VIDEO_PIXELS=str(320 * 240 - 1))
    with pytest.raises(InvalidMediaError, match="too large"):
        small_cap.probe_video(path)
    assert make_engine(DEEPFAKE_MAX_VIDEO_PIXELS=str(320 * 240)).probe_video(path).width == 320


def test_warm_up_loads_the_default_model_and_the_face_detector():
    engine = make_engine()
    assert engine.loaded_models() == []
    assert engine.warm_up() == ["dima806"]
    assert engine.loaded_models() == ["dima806"]
    assert engine._detector is not None  # the face detector is built too, not on the first image


def test_warm_up_loads_the_named_models():
    engine = make_engine()
    assert engine.warm_up(["open-deepfake", "deep-fake-v2"]) == ["open-deepfake", "deep-fake-v2"]
    assert sorted(engine.loaded_models()) == ["deep-fake-v2", "open-deepfake"]


def test_warm_up_raises_the_typed_errors():
    engine = make_engine(DEEPFAKE_EXTRA_MODELS=f"{MISSING}=example-org/not-downloaded-detector")
    with pytest.raises(UnknownModelError):
        engine.warm_up(["no-such-model"])
    with pytest.raises(ModelUnavailableError) as error:
        engine.warm_up([MISSING])
    assert error.value.command == f"deepfake download-models --model {MISSING}"
    assert engine.loaded_models() == []
