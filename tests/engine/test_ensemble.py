"""The ensemble rule: combined score, three-way verdict and reasons, on real disagreeing tiny models and by the rule."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.calibration_fit import fit_calibration
from deepfake_detection.engine.ensemble import (
    CLIP,
    NO_FACE_REASON,
    EnsembleSettings,
    MemberResult,
    Segment,
    combine,
    combine_probabilities,
    face_summary,
    pct,
    video_segments,
)
from deepfake_detection.engine.robustness import stability, variants
from tests.support import media


@pytest.fixture(scope="module")
def cue_engine(tiny_hf_home, cue_extra_models):
    """An engine that knows the three tiny models plus cue-magenta, cue-green and cue-pattern (local directories)."""
    return DetectionEngine(EngineSettings.from_env({**os.environ, "DEEPFAKE_EXTRA_MODELS": cue_extra_models}))


def _members(engine: DetectionEngine, image: Image.Image, keys: list[str]) -> list[MemberResult]:
    """Each model's own answer on the image, through the engine's public detect_image."""
    members = []
    for key in keys:
        verdict = engine.detect_image(image, model_key=key)
        members.append(MemberResult(key, engine.model(key).name, verdict.fake_probability))
    return members


# --- real models ------------------------------------------------------------------------------------


def test_all_members_agree_on_the_cue_they_share_gives_fake(cue_engine):
    image = Image.fromarray(media.magenta_tint(media._astronaut()))
    result = combine(_members(cue_engine, image, ["dima806", "deep-fake-v2", "open-deepfake", "cue-magenta"]))
    assert result.verdict == "fake" and result.is_fake is True
    assert result.fake_probability > 0.99
    assert [m.band for m in result.members] == ["likely fake"] * 4
    assert result.reasons == [f"the combined score is {pct(result.fake_probability)} fake"]
    assert result.calibrated is False


def test_all_members_agree_on_a_plain_photo_gives_real(cue_engine):
    result = combine(_members(cue_engine, media.face_photo(), ["cue-magenta", "cue-green", "dima806"]))
    assert result.verdict == "real" and result.is_fake is False
    assert [m.band for m in result.members] == ["likely real"] * 3


def test_one_cue_alone_gives_uncertain_with_the_disagreement_reason(cue_engine):
    image = Image.fromarray(media.green_tint(media._astronaut()))
    result = combine(_members(cue_engine, image, ["cue-magenta", "cue-green"]))
    assert result.verdict == "uncertain"
    green, magenta = result.members[1], result.members[0]
    assert green.band == "likely fake" and magenta.band == "likely real"
    disagree = f"models disagree: Cue Green {pct(green.probability)} fake, Cue Magenta {pct(magenta.probability)} fake"
    # Near-certain answers on both sides: the combined score may land anywhere; the disagreement decides.
    assert result.reasons[-1] == disagree
    assert green.probability > 0.95 and magenta.probability < 0.05


def test_one_dissenting_member_among_agreeing_ones_still_makes_it_uncertain(cue_engine):
    image = Image.fromarray(media.magenta_tint(media._astronaut()))
    result = combine(_members(cue_engine, image, ["dima806", "cue-magenta", "cue-green"]))
    # The combined score is clearly fake (two of three), but one member says real with confidence.
    assert result.fake_probability > 0.65
    assert result.verdict == "uncertain" and result.is_fake is True
    [reason] = result.reasons
    assert reason.startswith("models disagree: ") and reason.endswith(
        f"Cue Green {pct(result.members[2].probability)} fake"
    )


def test_a_fragile_member_makes_the_verdict_uncertain_through_the_self_test(cue_engine):
    crop = media.fine_pattern(media.small_face())
    shown = variants(crop)
    original, *changed = cue_engine.classifier("cue-pattern").fake_probabilities([crop, *shown.values()])
    check = stability(float(original), dict(zip(shown, map(float, changed))))
    result = combine([MemberResult("cue-pattern", "Cue Pattern", float(original))], robustness=check)
    assert result.fake_probability > 0.9 and result.is_fake is True
    assert result.verdict == "uncertain"
    assert result.reasons == [
        "the verdict changed after JPEG re-compression",
        "the verdict changed after half-size down- and up-scaling",
    ]


def test_two_faces_one_flagged(engine):
    verdict = engine.detect_image(media.two_faces_photo(fake_right=True))
    assert face_summary([f.is_fake for f in verdict.faces]) == "1 of 2 faces looks manipulated"
    verdict = engine.detect_image(media.two_faces_photo(fake_right=False))
    assert face_summary([f.is_fake for f in verdict.faces]) == "none of the 2 faces looks manipulated"


def test_a_video_timeline_becomes_segments(engine, tmp_path):
    path = media.write_video(tmp_path / "mixed.mp4", seconds=6, fps=10, fake=[True, True, True, True, False, False])
    verdict = engine.detect_video(path)
    summary = video_segments([f.time for f in verdict.timeline], [f.is_fake for f in verdict.timeline])
    assert [(s.verdict, round(s.start), round(s.end)) for s in summary.segments] == [("fake", 0, 3), ("real", 4, 5)]
    assert summary.fake_share == pytest.approx(4 / 6)
    assert summary.verdict == "fake"
    assert summary.text() == "fake 0-3 s, real 4-5 s"
    json.dumps(summary.to_dict())


def test_a_video_split_near_evenly_is_uncertain(engine, tmp_path):
    path = media.write_video(tmp_path / "even.mp4", seconds=6, fps=10, fake=[True, True, True, False, False, False])
    verdict = engine.detect_video(path)
    summary = video_segments([f.time for f in verdict.timeline], [f.is_fake for f in verdict.timeline])
    assert summary.fake_share == pytest.approx(0.5)
    assert summary.verdict == "uncertain"
    assert summary.reasons == ["the frames split nearly evenly: 3 fake, 3 real"]


# --- the rule ---------------------------------------------------------------------------------------


def test_the_issue_s_disagreement_wording():
    result = combine([MemberResult("dima806", "Dima806", 0.92), MemberResult("open-deepfake", "Open Deepfake", 0.12)])
    assert result.verdict == "uncertain"
    assert result.reasons == [
        "the combined score is close to the middle (56% fake)",
        "models disagree: Dima806 92% fake, Open Deepfake 12% fake",
    ]
    # The combination: logistic of the mean log-odds.
    z = (math.log(0.92 / 0.08) + math.log(0.12 / 0.88)) / 2
    assert result.fake_probability == pytest.approx(1 / (1 + math.exp(-z)))
    assert [m.band for m in result.members] == ["likely fake", "likely real"]


def test_the_uncertain_band_is_closed_and_configurable():
    settings = EnsembleSettings(uncertain_band=(0.4, 0.6))
    assert combine([MemberResult("a", "A", 0.6)], settings).verdict == "uncertain"
    assert combine([MemberResult("a", "A", 0.61)], settings).verdict == "fake"
    assert combine([MemberResult("a", "A", 0.39)], settings).verdict == "real"
    assert combine([MemberResult("a", "A", 0.5)]).reasons == ["the score is close to the middle (50% fake)"]
    assert combine([MemberResult("a", "A", 0.9)]).reasons == ["the score is 90% fake"]


def test_disagreement_needs_opposite_sides_and_the_spread():
    both_fake = [MemberResult("a", "A", 0.99), MemberResult("b", "B", 0.51)]
    assert combine(both_fake).verdict == "fake"  # a spread of 0.48, all on one side
    narrow = [MemberResult("a", "A", 0.7), MemberResult("b", "B", 0.3)]
    assert not any("disagree" in r for r in combine(narrow).reasons)  # opposite sides, spread 0.4
    wide = [MemberResult("a", "A", 0.99), MemberResult("b", "B", 0.49), MemberResult("c", "C", 0.98)]
    result = combine(wide)
    assert result.verdict == "uncertain"
    assert "models disagree: A 99% fake, C 98% fake, B 49% fake" in result.reasons
    assert combine(wide, EnsembleSettings(disagreement_spread=0.6)).verdict == "fake"


def test_calibrated_probabilities_are_used_when_present():
    result = combine([MemberResult("a", "A", raw_probability=0.99, calibrated_probability=0.6)])
    assert result.fake_probability == pytest.approx(0.6)
    assert result.verdict == "uncertain" and result.calibrated is True
    assert result.members[0].raw_probability == 0.99 and result.members[0].probability == 0.6
    mixed = combine([MemberResult("a", "A", 0.9, 0.8), MemberResult("b", "B", 0.9)])
    assert mixed.calibrated is False


def test_weights_from_members_or_settings():
    members = [MemberResult("a", "A", 0.9), MemberResult("b", "B", 0.2)]
    heavy_a = combine(members, EnsembleSettings(weights={"a": 3.0}))
    z = (3 * math.log(9) + math.log(0.25)) / 4
    assert heavy_a.fake_probability == pytest.approx(1 / (1 + math.exp(-z)))
    assert heavy_a.members[0].weight == 3.0 and heavy_a.members[1].weight == 1.0
    only_b = combine([MemberResult("a", "A", 0.9, weight=0.0), MemberResult("b", "B", 0.2)])
    assert only_b.fake_probability == pytest.approx(0.2)
    assert only_b.verdict == "real"  # the weighted-out member does not count as a disagreement either
    assert [m.key for m in only_b.members] == ["a", "b"]


def test_certainties_are_clipped_so_one_member_cannot_outvote_all():
    assert combine_probabilities([1.0, 0.0], [1.0, 1.0]) == pytest.approx(0.5)
    assert combine_probabilities([1.0], [1.0]) == pytest.approx(1 - CLIP)
    assert 0.0 < combine_probabilities([0.0, 0.0001], [1.0, 1.0]) < 0.001


def test_robustness_and_no_face_reasons():
    unstable = stability(0.8, {"jpeg": 0.3, "rescale": 0.75})
    result = combine([MemberResult("a", "A", 0.8)], robustness=unstable, face_found=False)
    assert result.verdict == "uncertain"
    assert result.reasons == ["the verdict changed after JPEG re-compression", NO_FACE_REASON]
    assert NO_FACE_REASON == "no face found: the whole image was judged, which is less reliable"
    stable = stability(0.8, {"jpeg": 0.78, "rescale": 0.75})
    assert combine([MemberResult("a", "A", 0.8)], robustness=stable).verdict == "fake"
    no_face = combine([MemberResult("a", "A", 0.9)], face_found=False)
    assert no_face.verdict == "fake" and no_face.reasons == ["the score is 90% fake", NO_FACE_REASON]


def test_a_calibration_of_the_combination_is_applied():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    raw = np.clip(np.where(labels == 1, 0.6, 0.4) + rng.normal(0, 0.1, 200), 0.01, 0.99)
    calibration = fit_calibration(raw, labels)
    result = combine([MemberResult("a", "A", 0.7)], calibration=calibration)
    assert result.fake_probability == pytest.approx(calibration.apply(0.7))


def test_to_dict_is_json_safe():
    result = combine([MemberResult("a", "A", 0.7, 0.65), MemberResult("b", "B", 0.2)])
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"fake_probability", "verdict", "reasons", "members", "calibrated", "is_fake", "confidence"}
    assert data["members"][0] == {
        "key": "a",
        "name": "A",
        "raw_probability": 0.7,
        "calibrated_probability": 0.65,
        "probability": 0.65,
        "weight": 1.0,
        "band": "uncertain",
    }
    assert data["confidence"] == pytest.approx(
        round(max(data["fake_probability"], 1 - data["fake_probability"]) * 100, 2)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"uncertain_band": (0.6, 0.7)},
        {"uncertain_band": (0.3, 1.2)},
        {"disagreement_spread": 0.0},
        {"weights": {"a": -1}},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        EnsembleSettings(**kwargs)


def test_bad_members_are_refused():
    with pytest.raises(ValueError):
        combine([])
    with pytest.raises(ValueError):
        combine([MemberResult("a", "A", 1.5)])
    with pytest.raises(ValueError):
        combine([MemberResult("a", "A", 0.5, weight=0.0)])  # every weight 0


def test_pct_never_rounds_to_certainty():
    assert (pct(0.999), pct(0.001), pct(1.0), pct(0.0), pct(0.484)) == ("99%", "1%", "100%", "0%", "48%")


# --- video and faces, by the rule ---------------------------------------------------------------------


def test_segments_span_measured_points_only():
    summary = video_segments([0, 1, 2, 3, 5, 6], ["fake", "fake", "uncertain", "real", "real", "fake"])
    assert summary.segments == [
        Segment(0, 1, "fake"),
        Segment(2, 2, "uncertain"),
        Segment(3, 5, "real"),
        Segment(6, 6, "fake"),
    ]
    assert summary.fake_share == pytest.approx(3 / 6)
    assert summary.verdict == "uncertain"  # 3 fake, 2 real among the decided frames: 60%, within 0.5 +- 0.15
    assert summary.text() == "fake 0-1 s, uncertain 2-2 s, real 3-5 s, fake 6-6 s"


@pytest.mark.parametrize(
    "verdicts, expected",
    [
        (["fake"] * 7 + ["real"] * 3, "fake"),  # 70% fake
        (["fake"] * 6 + ["real"] * 4, "uncertain"),  # 60%: near even
        (["fake"] * 3 + ["real"] * 7, "real"),
        (["uncertain"] * 6 + ["fake"] * 4, "uncertain"),  # most frames uncertain
        (["uncertain"] * 5 + ["fake"] * 5, "fake"),  # half uncertain, the rest all fake
    ],
)
def test_the_video_verdict(verdicts, expected):
    assert video_segments([float(i) for i in range(len(verdicts))], verdicts).verdict == expected


def test_bad_timelines_are_refused():
    with pytest.raises(ValueError):
        video_segments([0, 1], ["fake"])
    with pytest.raises(ValueError):
        video_segments([1, 0], ["fake", "real"])
    with pytest.raises(ValueError):
        video_segments([0], ["maybe"])
    assert video_segments([], []).verdict == "uncertain"


@pytest.mark.parametrize(
    "faces, text",
    [
        ([], "no face found"),
        ([True], "the face looks manipulated"),
        (["real"], "the face looks real"),
        ([True, False], "1 of 2 faces looks manipulated"),
        ([True, True, False], "2 of 3 faces look manipulated"),
        (["fake", "uncertain", "real"], "1 of 3 faces looks manipulated (1 uncertain)"),
        ([False, False], "none of the 2 faces looks manipulated"),
    ],
)
def test_face_summary(faces, text):
    assert face_summary(faces) == text
