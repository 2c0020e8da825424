"""Image detection end to end: real face detector, tiny trained models, every source type."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from deepfake_detection.engine import InvalidMediaError, UnknownModelError
from tests.support import media

MODEL_KEYS = ["dima806", "deep-fake-v2", "open-deepfake"]


@pytest.mark.parametrize("model_key", MODEL_KEYS)
@pytest.mark.parametrize("fake", [False, True])
def test_face_photo_verdict_follows_the_face(engine, model_key, fake):
    verdict = engine.detect_image(media.image_bytes(media.face_photo(fake)), model_key=model_key)
    assert verdict.is_fake is fake
    assert verdict.face_found is True
    assert len(verdict.faces) == 1
    face = verdict.faces[0]
    # The astronaut's face sits around x=178, y=62, 90x114 in the 512x512 photo.
    assert abs(face.box["x"] - 178) < 25 and abs(face.box["y"] - 62) < 25
    assert 60 < face.box["width"] < 130 and face.detection_score > 0.7
    assert face.is_fake is fake
    assert verdict.confidence > 90 and 0 <= verdict.fake_probability <= 1
    assert (verdict.fake_probability >= 0.5) is fake
    assert (verdict.width, verdict.height) == (512, 512)
    assert verdict.model_key == model_key
    assert verdict.processing_time_ms > 0


@pytest.mark.parametrize("fake", [False, True])
def test_no_face_classifies_whole_image(engine, fake):
    verdict = engine.detect_image(media.image_bytes(media.no_face_image(fake)))
    assert verdict.face_found is False and verdict.faces == []
    assert verdict.is_fake is fake
    assert verdict.model_key == "dima806"
    assert verdict.model_name == "Dima806 Deepfake Detector"


def test_most_fake_face_decides(engine):
    verdict = engine.detect_image(media.two_faces_photo(fake_right=True))
    assert verdict.is_fake is True
    assert len(verdict.faces) == 2
    left, right = sorted(verdict.faces, key=lambda f: f.box["x"])
    assert right.box["x"] > 512, "boxes are in original-image pixels"
    assert left.is_fake is False and right.is_fake is True
    assert verdict.fake_probability == pytest.approx(right.fake_probability)


def test_confidence_is_percentage_of_predicted_class(engine):
    for fake in (False, True):
        v = engine.detect_image(media.face_photo(fake))
        expected = v.fake_probability if v.is_fake else 1 - v.fake_probability
        assert v.confidence == pytest.approx(round(expected * 100, 2))


def test_every_source_type_gives_the_same_answer(engine, tmp_path):
    photo = media.face_photo(True)
    path = tmp_path / "photo.png"
    photo.save(path)
    data = media.image_bytes(photo, "PNG")
    results = [engine.detect_image(src) for src in (data, bytearray(data), path, str(path), photo, np.asarray(photo))]
    probs = {round(r.fake_probability, 5) for r in results}
    assert len(probs) == 1 and all(r.is_fake for r in results)


def test_to_dict_is_json_safe(engine):
    data = engine.detect_image(media.face_photo(True)).to_dict()
    json.dumps(data)
    assert set(data) >= {
        "is_fake",
        "confidence",
        "fake_probability",
        "model_key",
        "model_name",
        "face_found",
        "faces",
        "width",
        "height",
        "processing_time_ms",
    }
    assert set(data["faces"][0]) == {"box", "detection_score", "fake_probability", "is_fake", "confidence"}
    assert set(data["faces"][0]["box"]) == {"x", "y", "width", "height"}


def test_exif_orientation_is_applied(engine):
    upright = media.face_photo(False).resize((400, 300))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes())
    verdict = engine.detect_image(buffer.getvalue())
    assert (verdict.width, verdict.height) == (400, 300)
    assert verdict.face_found is True


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "CMYK", "I;16"])
def test_unusual_pixel_modes_are_accepted(engine, mode):
    photo = media.face_photo(False)
    img = photo.convert("L").convert("I;16") if mode == "I;16" else photo.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    verdict = engine.detect_image(media.image_bytes(img, fmt))
    assert verdict.width == 512 and verdict.is_fake is False


def test_animated_gif_uses_the_first_frame(engine):
    frames = [media.face_photo(True), media.face_photo(False)]
    data = media.image_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert engine.detect_image(data).is_fake is True


def test_float_and_gray_arrays(engine):
    rgb = np.asarray(media.face_photo(True))
    assert engine.detect_image(rgb.astype(np.float32) / 255.0).is_fake is True
    assert engine.detect_image(rgb[:, :, 0]).width == 512


@pytest.mark.parametrize(
    "bad, reason",
    [
        (b"", "empty"),
        (media.NOT_AN_IMAGE, "not a supported image"),
        (media.truncated_jpeg(), "truncated or corrupt"),
        (media.truncated_png(), "truncated or corrupt"),
        (media.decompression_bomb_png(), "too large"),
        (np.zeros((10, 10, 7), np.uint8), "Expected an RGB array"),
        (np.zeros((0, 10, 3), np.uint8), "no pixels"),
    ],
)
def test_bad_images_raise_a_clear_typed_error(engine, bad, reason):
    with pytest.raises(InvalidMediaError) as err:
        engine.detect_image(bad)
    assert reason in err.value.message
    assert "/" not in err.value.message, "no file system paths in messages"


def test_missing_file_and_wrong_type(engine, tmp_path):
    with pytest.raises(InvalidMediaError, match="No such image file: nope.jpg"):
        engine.detect_image(tmp_path / "nope.jpg")
    with pytest.raises(InvalidMediaError, match="Unsupported image source type"):
        engine.detect_image(12345)


def test_bomb_is_rejected_without_decoding(engine):
    data = media.decompression_bomb_png()
    assert len(data) < 100_000
    with pytest.raises(InvalidMediaError, match="12000x12000"):
        engine.detect_image(data)


def test_unknown_model(engine):
    with pytest.raises(UnknownModelError) as err:
        engine.detect_image(media.face_photo(), model_key="nope")
    assert "nope" in err.value.message and "dima806" in err.value.message
