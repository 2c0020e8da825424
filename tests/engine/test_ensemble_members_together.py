"""An ensemble asks its members at once: their batch windows overlap, and every answer stays what each model says."""

from __future__ import annotations

import os
import threading

import pytest

from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.batching import PassLimiter
from tests.support import media

MEMBERS = ("dima806", "deep-fake-v2", "open-deepfake")
# Only a guard against hanging for ever when the members are asked one after another.
GUARD_S = 60


def _engine(limiter: PassLimiter | None = None) -> DetectionEngine:
    env = {**os.environ, "DEEPFAKE_ENSEMBLE_MEMBERS": ",".join(MEMBERS)}
    engine = DetectionEngine(EngineSettings.from_env(env), pass_limiter=limiter)
    engine.warm_up(MEMBERS)
    return engine


def test_every_member_waits_for_company_at_the_same_time(tiny_hf_home):
    limiter = PassLimiter(1)
    engine = _engine(limiter)
    data = media.image_bytes(media.face_photo(True))
    started, release = threading.Event(), threading.Event()

    def hold_the_only_pass_slot() -> None:
        started.set()
        release.wait()  # set in the finally below, whatever happens

    holder = threading.Thread(target=limiter.run, args=(hold_the_only_pass_slot,))
    holder.start()
    assert started.wait(GUARD_S)
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(engine.detect_image(data, model_key="ensemble")))
    request.start()
    try:
        # No pass can start, so a batch stays open once opened: all three open means all three were asked.
        open_together = [engine.batcher(key).wait_for_batch(1, timeout=GUARD_S) for key in MEMBERS]
    finally:
        release.set()
        holder.join()
        request.join()
    assert open_together == [True, True, True]
    [verdict] = answers
    assert [m["key"] for m in verdict.members] == list(MEMBERS)
    for member in verdict.members:
        assert member["raw_probability"] == engine.detect_image(data, model_key=member["key"]).fake_probability
    # One pass of one image per member for the ensemble, one for the single model's answer.
    for key in MEMBERS:
        assert engine.batcher(key).stats()["images_per_pass"] == {1: 2}


@pytest.mark.parametrize("robustness", [False, True])
def test_members_answer_exactly_as_the_single_models(tiny_hf_home, robustness):
    engine = _engine()
    data = media.image_bytes(media.two_faces_photo(fake_right=True))
    verdict = engine.detect_image(data, model_key="ensemble", robustness=robustness)
    for member in verdict.members:
        single = engine.detect_image(data, model_key=member["key"], robustness=robustness)
        assert member["raw_probability"] == single.fake_probability
        assert member["backend"] == single.backend
        if robustness:
            assert verdict.robustness is not None and single.robustness is not None
            assert verdict.robustness["members"][member["key"]] == single.robustness["members"][member["key"]]
        else:
            assert verdict.robustness is None
