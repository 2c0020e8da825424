"""The ensemble and the three-way verdict on videos: per-frame verdicts, segments, members over the whole video."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_detection.engine import DetectionCancelled, DetectionEngine, EngineSettings
from deepfake_detection.engine.calibration import Calibration
from deepfake_detection.engine.faces import FaceBox, FaceDetector
from tests.support import media
from tests.support.ensembles import ensemble_engine

# Both members learnt the magenta cast (the tiny dima806 too), so both see a magenta second as fake.
MAGENTA_PAIR = "cue-magenta,dima806"
# A Platt map that halves the log-odds: monotone, pulls scores towards the middle.
HALVING = Calibration("platt", 30, 30, 0.2, 0.1, 0.1, 0.05, {"coef": 0.5, "intercept": 0.0})


@pytest.fixture(scope="module")
def pair_engine(tiny_hf_home, cue_extra_models):
    return ensemble_engine(cue_extra_models, MAGENTA_PAIR)


@pytest.fixture(scope="module")
def tints_engine(tiny_hf_home, cue_extra_models):
    """The magenta and the green cue models: a green video shows one member's cue only."""
    return ensemble_engine(cue_extra_models, "cue-magenta,cue-green")


@pytest.fixture(scope="module")
def fake_then_real(tmp_path_factory):
    """Seven seconds with the magenta cue, then three without."""
    path = tmp_path_factory.mktemp("cue-video") / "fake-then-real.mp4"
    return media.write_cue_video(path, cues=["magenta"] * 7 + [None] * 3, fps=5)


class CountingDetector(FaceDetector):
    """The real YuNet detector, counting its calls and the distinct frames it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.frames: set[bytes] = set()

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        self.calls += 1
        self.frames.add(rgb.tobytes())
        return super().detect(rgb)


def test_a_cue_then_none_gives_fake_then_real_segments_at_the_measured_times(pair_engine, fake_then_real):
    verdict = pair_engine.detect_video(fake_then_real, model_key="ensemble")
    times = [f.time for f in verdict.timeline]
    assert len(times) == 10 and times[0] == 0.0
    assert [f.verdict for f in verdict.timeline] == ["fake"] * 7 + ["real"] * 3
    last_fake, first_real = times[6], times[7]
    assert 6.0 <= last_fake < 7.0 <= first_real < 8.0
    assert verdict.segments == [
        {"start": 0.0, "end": last_fake, "verdict": "fake"},
        {"start": first_real, "end": times[-1], "verdict": "real"},
    ]
    assert verdict.segments_text == f"fake 0-{last_fake:g} s, real {first_real:g}-{times[-1]:g} s"
    assert verdict.verdict == "fake" and verdict.reasons == ["7 of 10 frames judged fake"]
    assert verdict.fake_share == 0.7
    # The documented fields: majority vote, mean of the frames' combined probabilities.
    assert verdict.is_fake is True and (verdict.fake_frames, verdict.real_frames) == (7, 3)
    assert verdict.fake_probability == pytest.approx(np.mean([f.fake_probability for f in verdict.timeline]), abs=1e-6)
    assert verdict.model_key == "ensemble" and verdict.model_name == "Ensemble (2 models)"
    assert [m["key"] for m in verdict.members] == ["cue-magenta", "dima806"]
    assert all(m["fake_frames"] == 7 and m["calibrated_probability"] is None for m in verdict.members)
    assert verdict.backend == verdict.members[0]["backend"]  # both members run on the same backend here
    assert verdict.calibration is None
    frame = verdict.timeline[0].to_dict()
    assert set(frame["members"]) == {"cue-magenta", "dima806"} and min(frame["members"].values()) > 0.9
    assert {"time", "fake_probability", "is_fake", "faces", "verdict"} <= set(frame) and frame["faces"] == 1


def test_one_member_s_cue_alone_is_uncertain_with_the_disagreement(tints_engine, tmp_path):
    path = media.write_cue_video(tmp_path / "green.mp4", cues=["green"] * 4, fps=5)
    verdict = tints_engine.detect_video(path, model_key="ensemble")
    assert verdict.verdict == "uncertain"
    assert verdict.reasons[0].startswith("models disagree: Cue Green 99% fake, Cue Magenta")
    assert "most frames are uncertain (4 of 4)" in verdict.reasons
    assert all(f.verdict == "uncertain" for f in verdict.timeline)
    assert verdict.segments == [{"start": 0.0, "end": verdict.timeline[-1].time, "verdict": "uncertain"}]
    bands = {m["key"]: (m["band"], m["fake_frames"]) for m in verdict.members}
    assert bands == {"cue-magenta": ("likely real", 0), "cue-green": ("likely fake", 4)}
    # is_fake keeps its documented meaning, from the combined probabilities.
    assert verdict.is_fake is (verdict.fake_frames > verdict.real_frames)


def test_a_near_even_split_is_uncertain(pair_engine, tmp_path):
    path = media.write_cue_video(tmp_path / "even.mp4", cues=["magenta", "magenta", None, None], fps=5)
    verdict = pair_engine.detect_video(path, model_key="ensemble")
    assert [f.verdict for f in verdict.timeline] == ["fake", "fake", "real", "real"]
    assert verdict.verdict == "uncertain" and verdict.reasons == ["the frames split nearly evenly: 2 fake, 2 real"]
    assert verdict.fake_share == 0.5 and [s["verdict"] for s in verdict.segments] == ["fake", "real"]


def test_a_single_model_video_gets_frame_verdicts_and_segments(engine, tmp_path):
    path = media.write_video(tmp_path / "clip.mp4", seconds=4, fps=5, fake=[True, True, True, False])
    verdict = engine.detect_video(path, model_key="dima806")
    assert verdict.model_key == "dima806" and verdict.backend == engine.classifier("dima806").backend
    assert [f.verdict for f in verdict.timeline] == ["fake", "fake", "fake", "real"]
    assert all("members" not in f.to_dict() for f in verdict.timeline)  # one model: the entry is its own
    assert verdict.verdict == "fake" and verdict.fake_share == 0.75
    assert [s["verdict"] for s in verdict.segments] == ["fake", "real"]
    [member] = verdict.members
    assert member["key"] == "dima806" and member["fake_frames"] == 3 == verdict.fake_frames
    # The documented fields stay the model's own per-frame probabilities and their mean.
    assert member["raw_probability"] == pytest.approx(verdict.fake_probability, abs=1e-6)
    assert verdict.to_dict()["segments_text"] == verdict.segments_text


def test_calibrations_apply_per_member_on_every_frame(pair_engine, fake_then_real):
    plain = pair_engine.detect_video(fake_then_real, model_key="ensemble")
    calibrated = pair_engine.detect_video(fake_then_real, model_key="ensemble", calibrations={"cue-magenta": HALVING})
    for before, after in zip(plain.timeline, calibrated.timeline):
        raw = before.members["cue-magenta"]
        assert after.members["cue-magenta"] == pytest.approx(HALVING.apply(raw), abs=1e-5)
        assert after.members["dima806"] == before.members["dima806"]
    magenta, other = calibrated.members
    assert magenta["raw_probability"] == plain.members[0]["raw_probability"]
    expected = np.mean([HALVING.apply(f.members["cue-magenta"]) for f in plain.timeline])
    assert magenta["calibrated_probability"] == pytest.approx(expected, abs=1e-5)
    assert other["calibrated_probability"] is None
    assert calibrated.calibration == {"members": {"cue-magenta": {"method": "platt", "n_real": 30, "n_fake": 30}}}


def test_a_single_model_s_frames_are_its_calibrated_probabilities(engine, tmp_path):
    path = media.write_video(tmp_path / "clip.mp4", seconds=2, fps=5, fake=[True, False])
    plain = engine.detect_video(path, model_key="dima806")
    calibrated = engine.detect_video(path, model_key="dima806", calibrations={"dima806": HALVING})
    for before, after in zip(plain.timeline, calibrated.timeline):
        assert after.fake_probability == pytest.approx(HALVING.apply(before.fake_probability), abs=1e-5)
    assert calibrated.members[0]["raw_probability"] == plain.members[0]["raw_probability"]
    assert calibrated.calibration["members"]["dima806"]["method"] == "platt"


def test_each_frame_is_decoded_and_face_detected_once_for_every_member(tiny_hf_home, tmp_path):
    engine = DetectionEngine(EngineSettings.from_env())
    detector = CountingDetector()
    engine._detector = detector  # the engine's own lazily created detector, counted
    path = media.write_video(tmp_path / "clip.mp4", seconds=10, fps=5, fake=[True] * 5 + [False] * 5)
    verdict = engine.detect_video(path, model_key="ensemble")
    assert verdict.frames_analyzed == 10
    assert detector.calls == 10 and len(detector.frames) == 10
    assert [m["key"] for m in verdict.members] == ["dima806", "deep-fake-v2", "open-deepfake"]
    stats = engine.batching_stats()["models"]
    # Every member classified each frame's one face crop once: ten images, in chunks of eight frames.
    assert {key: stats[key]["images"] for key in stats} == dict.fromkeys(
        ["dima806", "deep-fake-v2", "open-deepfake"], 10
    )
    for member in verdict.members:
        single = engine.detect_video(path, model_key=member["key"])
        assert member["raw_probability"] == pytest.approx(single.fake_probability, abs=1e-6)
    assert detector.calls == 40


def test_cancelling_an_ensemble_video_stops_between_chunks(pair_engine, fake_then_real):
    seen: list[int] = []
    with pytest.raises(DetectionCancelled):
        pair_engine.detect_video(
            fake_then_real,
            model_key="ensemble",
            progress=lambda done, total: seen.append(done),
            should_cancel=lambda: len(seen) >= 2,  # after the first chunk's progress
        )
    assert seen == [0, 8]
