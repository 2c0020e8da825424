"""The ensemble wired into the engine: cue-trained members that really disagree, one decode and face detection."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.calibration import Calibration
from deepfake_detection.engine.faces import FaceBox, FaceDetector
from tests.support import media
from tests.support.ensembles import ensemble_engine

CUES = "cue-magenta,cue-green,cue-pattern"


@pytest.fixture(scope="module")
def cue_engine(tiny_hf_home, cue_extra_models):
    """Ensemble of the three cue models, which each see only their own cue."""
    return ensemble_engine(cue_extra_models, CUES)


@pytest.fixture(scope="module")
def pair_engine(tiny_hf_home, cue_extra_models):
    """Ensemble of the magenta and the (fragile) pattern cue models: both see a magenta image with the pattern."""
    return ensemble_engine(cue_extra_models, "cue-magenta,cue-pattern")


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")  # lossless: the fine pattern reaches the models
    return buffer.getvalue()


def _magenta_and_pattern() -> bytes:
    # The tints exclude each other (each cue model calls the other tint real), the pattern survives a tint.
    return _png(media.fine_pattern(media.magenta_tint(media.small_face(), 0.3)))


class CountingDetector(FaceDetector):
    """The real YuNet detector, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        self.calls += 1
        return super().detect(rgb)


def test_members_that_all_see_their_cue_give_fake(pair_engine):
    verdict = pair_engine.detect_image(_magenta_and_pattern(), model_key="ensemble", robustness=False)
    assert verdict.verdict == "fake" and verdict.is_fake is True
    assert verdict.model_key == "ensemble" and verdict.model_name == "Ensemble (2 models)"
    assert [m["key"] for m in verdict.members] == ["cue-magenta", "cue-pattern"]
    assert all(m["raw_probability"] > 0.9 and m["band"] == "likely fake" for m in verdict.members)
    assert all(m["calibrated_probability"] is None for m in verdict.members)
    assert verdict.calibration is None and verdict.robustness is None
    assert verdict.reasons[0].startswith("the combined score is")
    assert verdict.faces_summary == "no face found"
    assert verdict.fake_probability > 0.9 and verdict.confidence == round(verdict.fake_probability * 100, 2)


def test_one_cue_alone_is_uncertain_because_models_disagree(cue_engine):
    verdict = cue_engine.detect_image(_png(media.green_tint(media.small_face())), model_key="ensemble")
    assert verdict.verdict == "uncertain"
    assert verdict.reasons[0].startswith("models disagree: Cue Green 99% fake")
    bands = {m["key"]: m["band"] for m in verdict.members}
    assert bands == {"cue-magenta": "likely real", "cue-green": "likely fake", "cue-pattern": "likely real"}
    # is_fake and confidence keep their documented meaning, from the combined probability.
    assert verdict.is_fake is (verdict.fake_probability >= 0.5)


def test_the_fragile_cue_makes_the_self_test_unstable(pair_engine):
    verdict = pair_engine.detect_image(_magenta_and_pattern(), model_key="ensemble", robustness=True)
    assert verdict.verdict == "uncertain"
    assert "the verdict changed after JPEG re-compression (Cue Pattern)" in verdict.reasons
    assert verdict.robustness is not None and verdict.robustness["stable"] is False
    members = verdict.robustness["members"]
    assert members["cue-pattern"]["stable"] is False and members["cue-pattern"]["variants"]["jpeg"] < 0.5
    assert members["cue-magenta"]["stable"] is True
    # The self-test changes the verdict, not the scores.
    assert verdict.fake_probability > 0.9


def test_the_setting_turns_the_self_test_on(tiny_hf_home, cue_extra_models):
    env = {**os.environ, "DEEPFAKE_EXTRA_MODELS": cue_extra_models, "DEEPFAKE_ROBUSTNESS": "true"}
    engine = DetectionEngine(EngineSettings.from_env(env))
    verdict = engine.detect_image(_magenta_and_pattern(), model_key="cue-pattern")
    assert verdict.verdict == "uncertain" and "the verdict changed after JPEG re-compression" in verdict.reasons
    assert verdict.is_fake is True  # a single model's documented fields stay its raw answer
    assert engine.detect_image(_magenta_and_pattern(), model_key="cue-pattern", robustness=False).verdict == "fake"


def test_the_ensemble_settings_reach_the_verdict(tiny_hf_home, cue_extra_models):
    """A zero weight silences the dissenting members; a band of [0.5, 0.5] leaves nothing in the middle."""
    image = _png(media.green_tint(media.small_face()))
    weighted = ensemble_engine(
        cue_extra_models, CUES, DEEPFAKE_ENSEMBLE_WEIGHTS="cue-magenta=0, cue-pattern=0"
    ).detect_image(image, model_key="ensemble")
    assert weighted.verdict == "fake" and weighted.fake_probability > 0.9
    assert {m["key"] for m in weighted.members} == set(CUES.split(","))  # weighted out, still reported

    banded = ensemble_engine(
        cue_extra_models, CUES, DEEPFAKE_ENSEMBLE_SPREAD="1", DEEPFAKE_ENSEMBLE_BAND="0.5,0.5"
    ).detect_image(image, model_key="ensemble")
    assert banded.verdict in ("fake", "real") and banded.verdict == ("fake" if banded.is_fake else "real")
    assert not any(r.startswith("models disagree") for r in banded.reasons)


def test_decoding_and_face_detection_run_once_and_members_match_single_models(tiny_hf_home):
    engine = DetectionEngine(EngineSettings.from_env())
    detector = CountingDetector()
    engine._detector = detector  # the engine's own lazily created detector, counted
    data = media.image_bytes(media.two_faces_photo(fake_right=True))
    verdict = engine.detect_image(data, model_key="ensemble", robustness=True)
    assert detector.calls == 1
    assert [m["key"] for m in verdict.members] == ["dima806", "deep-fake-v2", "open-deepfake"]
    assert verdict.face_found and len(verdict.faces) == 2
    assert verdict.faces_summary == "1 of 2 faces looks manipulated"
    for member in verdict.members:
        single = engine.detect_image(data, model_key=member["key"])
        assert member["raw_probability"] == single.fake_probability
        assert member["backend"] == single.backend
    assert detector.calls == 4


def test_calibrations_are_applied_per_member(pair_engine):
    # A Platt map that halves the log-odds: monotone, pulls scores towards the middle.
    calibration = Calibration("platt", 30, 30, 0.2, 0.1, 0.1, 0.05, {"coef": 0.5, "intercept": 0.0})
    verdict = pair_engine.detect_image(
        _magenta_and_pattern(), model_key="ensemble", calibrations={"cue-magenta": calibration}
    )
    magenta, pattern = verdict.members
    assert magenta["calibrated_probability"] == pytest.approx(calibration.apply(magenta["raw_probability"]), abs=1e-6)
    assert magenta["calibrated_probability"] < magenta["raw_probability"]
    assert pattern["calibrated_probability"] is None
    assert verdict.calibration == {"members": {"cue-magenta": {"method": "platt", "n_real": 30, "n_fake": 30}}}


def test_single_model_answers_keep_their_fields_and_gain_a_verdict(engine):
    fake = engine.detect_image(media.image_bytes(media.face_photo(True)), model_key="dima806")
    assert fake.model_key == "dima806" and fake.is_fake is True and fake.verdict == "fake"
    assert fake.fake_probability == fake.faces[0].fake_probability
    assert [m["key"] for m in fake.members] == ["dima806"] and fake.faces_summary == "the face looks manipulated"
    real = engine.detect_image(media.image_bytes(media.face_photo(False)), model_key="dima806")
    assert real.is_fake is False and real.verdict == "real" and real.reasons == ["the score is 1% fake"]


def test_camera_frames_take_the_ensemble(cue_engine):
    verdict = cue_engine.detect_camera_frame(
        _png(media.green_tint(media.small_face())), session_key="user:1:session:x", model_key="ensemble"
    )
    assert verdict.model_key == "ensemble" and verdict.frame.verdict == "uncertain"


def test_ensemble_members_default_to_every_cached_model(engine):
    assert [s.key for s in engine.ensemble_members()] == ["dima806", "deep-fake-v2", "open-deepfake"]
    with pytest.raises(ValueError, match="reserved"):
        DetectionEngine(EngineSettings.from_env({**os.environ, "DEEPFAKE_EXTRA_MODELS": "ensemble=/tmp/x"}))
