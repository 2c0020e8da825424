"""Video detection on real files written by the tests: sampling, seeking, aggregation, bad input."""

from __future__ import annotations

import io
import json
import threading

import pytest
from PIL import Image

from deepfake_detection.engine import DetectionCancelled, InvalidMediaError
from deepfake_detection.engine.video import VideoReader, sample_times
from tests.support import media


@pytest.fixture(scope="module")
def mixed_video(tmp_path_factory):
    """6 s at 30 fps: seconds 2, 3, 4 and 5 carry the fake cue, 0 and 1 do not."""
    path = tmp_path_factory.mktemp("video") / "mixed.mp4"
    return media.write_video(path, seconds=6, fps=30, fake=[False, False, True, True, True, True])


def test_majority_vote_timeline_and_counts(engine, mixed_video):
    calls = []
    verdict = engine.detect_video(mixed_video, progress=lambda done, total: calls.append((done, total)))
    assert verdict.frames_analyzed == 6 and verdict.frames_skipped == 0
    assert [f.time for f in verdict.timeline] == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.05)
    assert [f.is_fake for f in verdict.timeline] == [False, False, True, True, True, True]
    assert all(f.faces == 1 for f in verdict.timeline)
    assert (verdict.fake_frames, verdict.real_frames) == (4, 2)
    assert verdict.is_fake is True
    mean = sum(f.fake_probability for f in verdict.timeline) / 6
    assert verdict.fake_probability == pytest.approx(mean, abs=1e-5)
    assert verdict.confidence == pytest.approx(round(mean * 100, 2), abs=0.01)
    assert verdict.duration == pytest.approx(6.0, abs=0.1) and verdict.fps == pytest.approx(30)
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_thumbnail_is_a_jpeg_and_not_in_to_dict(engine, mixed_video):
    verdict = engine.detect_video(mixed_video)
    thumb = Image.open(io.BytesIO(verdict.thumbnail_jpeg))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    data = verdict.to_dict()
    assert "thumbnail_jpeg" not in data
    json.dumps(data)
    # The four documented fields and the frame's three-way verdict (a single model: no per-member probabilities).
    assert set(data["timeline"][0]) == {"time", "fake_probability", "is_fake", "faces", "verdict"}


@pytest.mark.parametrize("fake", [False, True])
def test_uniform_videos(engine, tmp_path, fake):
    path = media.write_video(tmp_path / "v.mp4", seconds=3, fps=25, fake=fake)
    verdict = engine.detect_video(path, model_key="open-deepfake")
    assert verdict.is_fake is fake and verdict.frames_analyzed == 3
    assert verdict.model_key == "open-deepfake" and verdict.model_name == "Open Deepfake Detection"


def test_sampling_seeks_past_unused_frames(tmp_path):
    path = media.write_video(tmp_path / "gop.mp4", seconds=10, fps=30, gop=15)
    with VideoReader(path) as reader:
        frames = list(reader.frames_at(sample_times(reader.info.duration, sample_fps=1, max_frames=300)))
        assert len(frames) == 10
        assert reader.decoded < 60, "only frames near the sampled seconds are decoded (300 in the file)"


@pytest.mark.parametrize("fps", [1, 2, 30])
def test_every_second_is_sampled_whatever_the_frame_rate(engine, tmp_path, fps):
    # A 1 fps video has one frame per sample: none may be skipped to save decoding.
    path = media.write_video(tmp_path / f"v{fps}.mp4", seconds=12, fps=fps, size=(96, 72))
    verdict = engine.detect_video(path)
    assert verdict.frames_analyzed == 12 and verdict.frames_skipped == 0
    assert [f.time for f in verdict.timeline] == pytest.approx(list(range(12)), abs=0.05)


def test_sample_rate_and_cap(engine, tmp_path):
    assert sample_times(10, sample_fps=1, max_frames=300) == [float(i) for i in range(10)]
    assert sample_times(10, sample_fps=2, max_frames=300)[:3] == [0.0, 0.5, 1.0]
    assert sample_times(100, sample_fps=1, max_frames=4) == [0.0, 25.0, 50.0, 75.0]
    assert sample_times(0.4, sample_fps=1, max_frames=10) == [0.0]


def test_rotation_metadata_is_applied(engine, tmp_path):
    path = media.write_video(tmp_path / "phone.mp4", seconds=2, fps=10, rotation=90, size=(320, 240))
    with VideoReader(path) as reader:
        frame = next(reader.frames_at([0.0]))
        assert frame.rgb.shape == (240, 320, 3), "stored sideways, returned upright"
    verdict = engine.detect_video(path)
    assert all(f.faces == 1 for f in verdict.timeline), "the face is found only when upright"


def test_variable_frame_rate(engine, tmp_path):
    times = [0.0, 0.1, 0.15, 0.9, 2.5, 2.6, 4.0, 4.05, 5.5]
    path = media.write_vfr_video(tmp_path / "vfr.mp4", frame_times=times, fake=[False] * 4 + [True] * 3)
    verdict = engine.detect_video(path)
    got = [f.time for f in verdict.timeline]
    assert got[:4] == pytest.approx([0.0, 2.5, 4.0, 5.5], abs=0.01), "each frame serves one sampled second"
    assert [f.is_fake for f in verdict.timeline][:4] == [False, False, True, True]


def test_raw_stream_without_duration(engine, tmp_path):
    path = media.write_video(tmp_path / "raw.h264", seconds=3, fps=10, container_format="h264")
    verdict = engine.detect_video(path)
    assert verdict.frames_analyzed == 3 and verdict.duration == pytest.approx(3.0, abs=0.2)


def test_webm_vp9(engine, tmp_path):
    path = media.write_video(tmp_path / "v.webm", seconds=2, fps=24, codec="libvpx-vp9", fake=True)
    assert engine.detect_video(path).is_fake is True


def test_corrupt_frames_are_skipped_and_counted(engine, tmp_path):
    path = media.write_video(tmp_path / "damaged.mp4", seconds=10, fps=30, gop=15)
    media.damage_file(path, start_fraction=0.4, length_fraction=0.1)
    verdict = engine.detect_video(path)
    assert verdict.frames_skipped > 0
    assert 5 <= verdict.frames_analyzed <= 10


def test_cancel(engine, mixed_video):
    with pytest.raises(DetectionCancelled):
        engine.detect_video(mixed_video, should_cancel=lambda: True)
    seen = []

    def cancel_after_first_progress():
        return len(seen) >= 1  # progress(0, total) has been reported: cancel mid-way

    with pytest.raises(DetectionCancelled):
        engine.detect_video(
            mixed_video, progress=lambda d, t: seen.append(d), should_cancel=cancel_after_first_progress
        )
    assert not [t for t in threading.enumerate() if t.name == "video-prefetch"], "decoder thread stopped"


def _engine_with(**env):
    import os

    from deepfake_detection.engine import DetectionEngine, EngineSettings

    return DetectionEngine(EngineSettings.from_env({**os.environ, **env}))


def test_background_prefetch_gives_the_same_verdict_and_stops_on_cancel(engine, mixed_video):
    inline = _engine_with(DEEPFAKE_VIDEO_PREFETCH="0")
    ahead = _engine_with(DEEPFAKE_VIDEO_PREFETCH="1")
    assert (inline.video_prefetch(), ahead.video_prefetch()) == (False, True)
    a, b = inline.detect_video(mixed_video), ahead.detect_video(mixed_video)
    assert [(f.time, f.fake_probability, f.faces) for f in a.timeline] == [
        (f.time, f.fake_probability, f.faces) for f in b.timeline
    ]
    assert (a.is_fake, a.fake_frames, a.frames_skipped) == (b.is_fake, b.fake_frames, b.frames_skipped)
    with pytest.raises(DetectionCancelled):
        ahead.detect_video(mixed_video, progress=lambda d, t: None, should_cancel=lambda: True)
    assert not [t for t in threading.enumerate() if t.name == "video-prefetch"], "prefetch thread stopped"


def test_prefetch_auto_only_when_torch_leaves_a_core_free(tiny_hf_home):
    """auto: decode ahead only if DEEPFAKE_TORCH_THREADS is below the usable cores (own process: threads are global)."""
    import os
    import subprocess
    import sys

    from deepfake_detection.engine.device import usable_cpus

    code = (
        "from deepfake_detection.engine import DetectionEngine, EngineSettings\n"
        "import torch\n"
        "e = DetectionEngine(EngineSettings.from_env())\n"
        "print(e.video_prefetch(), torch.get_num_threads())\n"
    )
    cores = usable_cpus()
    for threads, expected in [(cores, False), (max(1, cores - 1), cores > 1)]:
        env = {**os.environ, "DEEPFAKE_TORCH_THREADS": str(threads), "DEEPFAKE_VIDEO_PREFETCH": "auto"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split() == [str(expected), str(threads)]
    with pytest.raises(ValueError, match="DEEPFAKE_VIDEO_PREFETCH"):
        _engine_with(DEEPFAKE_VIDEO_PREFETCH="sometimes").video_prefetch()


def test_callbacks_run_on_the_callers_thread(engine, mixed_video):
    threads = set()
    engine.detect_video(
        mixed_video,
        progress=lambda d, t: threads.add(threading.get_ident()),
        should_cancel=lambda: threads.add(threading.get_ident()) or False,
    )
    assert threads == {threading.get_ident()}


@pytest.mark.parametrize("writer", ["empty", "noise", "text", "truncated_head", "audio_only", "zeroed_frames"])
def test_videos_without_decodable_frames(engine, tmp_path, writer):
    path = tmp_path / "bad.mp4"
    if writer == "empty":
        path.write_bytes(b"")
    elif writer == "noise":
        path.write_bytes(media.corrupt_video_bytes())
    elif writer == "text":
        path.write_bytes(media.NOT_AN_IMAGE)
    elif writer == "truncated_head":
        media.write_video(path, seconds=2, fps=10)
        path.write_bytes(path.read_bytes()[:600])
    elif writer == "audio_only":
        _write_audio_only(path)
    else:
        media.write_video(path, seconds=2, fps=10)
        data = bytearray(path.read_bytes())
        at = data.find(b"mdat") + 4
        end = data.find(b"moov") if data.find(b"moov") > at else len(data)
        data[at:end] = bytes(end - at)
        path.write_bytes(bytes(data))
    with pytest.raises(InvalidMediaError) as err:
        engine.detect_video(path)
    assert str(tmp_path) not in err.value.message


def test_missing_video_file(engine, tmp_path):
    with pytest.raises(InvalidMediaError, match="No such video file"):
        engine.detect_video(tmp_path / "missing.mp4")


def _write_audio_only(path):
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 1024), dtype=np.float32)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 16000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_y4m_for_the_fake_camera_is_a_real_video(engine, tmp_path):
    path = media.write_y4m(tmp_path / "cam.y4m", seconds=3, fps=10, size=(320, 240), fake=[False, True, True])
    header = path.read_bytes()[:60]
    assert header.startswith(b"YUV4MPEG2 W320 H240 F10:1")
    verdict = engine.detect_video(path)
    assert [f.is_fake for f in verdict.timeline] == [False, True, True]
    assert verdict.is_fake is True and all(f.faces == 1 for f in verdict.timeline)
