"""Robustness self-test pieces: the JPEG and rescale variants of a crop, and the stable/unstable decision."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.robustness import (
    JPEG_QUALITY,
    MAX_SHIFT,
    VARIANTS,
    jpeg_variant,
    rescale_variant,
    stability,
    variants,
)
from tests.support import media


@pytest.fixture(scope="module")
def cue_engine(tiny_hf_home, cue_extra_models):
    """An engine that knows cue-magenta, cue-green and cue-pattern (local model directories) besides the tiny three."""
    return DetectionEngine(EngineSettings.from_env({**os.environ, "DEEPFAKE_EXTRA_MODELS": cue_extra_models}))


def _self_test(engine: DetectionEngine, key: str, crop: np.ndarray):
    """The model's probability on the crop and on its variants, in one batch, and the stability verdict."""
    shown = variants(crop)
    original, *changed = engine.classifier(key).fake_probabilities([crop, *shown.values()])
    return stability(float(original), dict(zip(shown, map(float, changed))))


def test_the_fragile_cue_is_unstable_after_jpeg_recompression(cue_engine):
    result = _self_test(cue_engine, "cue-pattern", media.fine_pattern(media.small_face()))
    assert result.original > 0.9  # the pattern model sees its cue on the crop itself
    assert result.variants["jpeg"] < 0.1 and result.variants["rescale"] < 0.1
    assert result.stable is False
    assert result.flipped == ["jpeg", "rescale"]
    assert result.reasons()[0] == "the verdict changed after JPEG re-compression"
    data = json.loads(json.dumps(result.to_dict()))
    assert data["stable"] is False and data["variants"].keys() == {"jpeg", "rescale"}
    assert data["reasons"] == result.reasons()


@pytest.mark.parametrize("key, cue", [("cue-magenta", media.magenta_tint), ("cue-green", media.green_tint)])
def test_colour_cues_survive_the_variants(cue_engine, key, cue):
    fake = _self_test(cue_engine, key, cue(media.small_face()))
    assert fake.stable is True and fake.original > 0.9 and min(fake.variants.values()) > 0.9
    assert fake.reasons() == []
    real = _self_test(cue_engine, key, media.small_face())
    assert real.stable is True and real.original < 0.1


def test_jpeg_variant_is_a_quality_70_reencode():
    crop = media.small_face(64)
    out = jpeg_variant(crop)
    assert out.dtype == np.uint8 and out.shape == crop.shape
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    assert np.array_equal(out, np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    assert not np.array_equal(out, crop)
    assert np.abs(out.astype(int) - crop).mean() < 10  # the same picture
    # 4:2:0 chroma subsampling erases the one-pixel chroma checkerboard almost entirely.
    patterned = media.fine_pattern(crop)
    assert np.abs(jpeg_variant(patterned).astype(int) - out).mean() < 0.25 * np.abs(patterned.astype(int) - crop).mean()


def test_rescale_variant_halves_and_restores_the_size():
    crop = media.small_face(64)[:, :63]  # odd width
    out = rescale_variant(crop)
    assert out.dtype == np.uint8 and out.shape == crop.shape
    small = Image.fromarray(crop).resize((31, 32), Image.Resampling.BOX)
    assert np.array_equal(out, np.asarray(small.resize((63, 64), Image.Resampling.BICUBIC)))
    assert np.abs(out.astype(int) - crop).mean() < 12
    assert rescale_variant(np.zeros((1, 1, 3), np.uint8)).shape == (1, 1, 3)


def test_variants_come_in_their_documented_order():
    crop = media.small_face()
    before = crop.copy()
    shown = variants(crop)
    assert tuple(shown) == VARIANTS == ("jpeg", "rescale")
    assert np.array_equal(crop, before)  # the input is left alone
    for out in shown.values():
        assert out.flags.writeable and out.flags.c_contiguous


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32)]
)
def test_variants_refuse_what_is_not_an_rgb_crop(bad):
    with pytest.raises(ValueError, match="RGB uint8"):
        variants(bad)


def test_stability_rules():
    assert stability(0.9, {"jpeg": 0.85, "rescale": 0.7}).stable is True
    flip = stability(0.55, {"jpeg": 0.45, "rescale": 0.56})
    assert (flip.stable, flip.flipped, flip.shifted) == (False, ["jpeg"], [])
    shift = stability(0.95, {"jpeg": 0.6, "rescale": 0.94})
    assert (shift.stable, shift.flipped, shift.shifted) == (False, [], ["jpeg"])
    assert shift.reasons() == ["the score moved by 35 points after JPEG re-compression"]
    assert stability(0.95, {"jpeg": 0.6}, threshold=0.4).stable is True
    assert stability(0.2, {"rescale": 0.5}).reasons() == ["the verdict changed after half-size down- and up-scaling"]
    assert stability(0.5, {"jpeg": 0.5}).stable is True  # 0.5 counts as fake, as is_fake does
    assert MAX_SHIFT == 0.3
    with pytest.raises(ValueError):
        stability(0.5, {}, threshold=0.0)
