"""POST /api/detect/image and GET /api/detect/models with the tiny real models."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from deepfake_detection.app.detection.models import Image
from deepfake_detection.app.extensions import db
from deepfake_detection.app.history.models import DetectionHistory
from deepfake_detection.app.serialization import size_text
from tests.support import media

from .helpers import assert_error

UUID_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|jpeg|webp|bmp|gif)$")


def upload(client, user, data: bytes, name: str = "photo.jpg", **form):
    """POST an image as multipart form data."""
    return client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(data), name), **form},
    )


def stored_files(app, folder: str) -> list[Path]:
    return sorted(p for p in Path(app.config["UPLOAD_FOLDER"], folder).iterdir())


def row_counts(app) -> tuple[int, int]:
    with app.app_context():
        images = db.session.execute(select(func.count(Image.id))).scalar_one()
        history = db.session.execute(select(func.count(DetectionHistory.id))).scalar_one()
        return images, history


def test_models_lists_the_three_documented_models(client):
    response = client.get("/api/detect/models")
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True
    keys = [m["key"] for m in body["models"]]
    assert keys[:3] == ["dima806", "deep-fake-v2", "open-deepfake"]
    first = body["models"][0]
    assert first["name"] == "Dima806 Deepfake Detector" and first["description"]
    assert first["model_id"] == "dima806/deepfake_vs_real_image_detection"
    assert first["default"] is True and first["available"] is True
    assert body["default"] == "dima806" and body["camera_default"] == "deep-fake-v2"


def test_models_answer_reports_the_configured_upload_limits(make_app):
    from .helpers import register_and_login

    default = make_app().test_client().get("/api/detect/models").get_json()["limits"]
    assert default == {
        "image": {"max_bytes": 10 * 1024 * 1024, "extensions": ["jpg", "jpeg", "png", "webp", "bmp", "gif"]},
        "video": {"max_bytes": 100 * 1024 * 1024, "extensions": ["mp4", "m4v", "mov", "avi", "mkv", "webm"]},
        # Camera frames are kept until their user deletes them unless a retention is configured.
        "camera": {
            "max_bytes": 10 * 1024 * 1024,
            "frame_rates": [0.5, 1, 2],
            "default_rate": 1,
            "retention_days": None,
        },
    }
    app = make_app(MAX_IMAGE_SIZE=50_000, MAX_VIDEO_SIZE=3_000_000, CAMERA_FRAME_RETENTION_DAYS=7)
    client = app.test_client()
    limits = client.get("/api/detect/models").get_json()["limits"]
    assert limits["image"]["max_bytes"] == limits["camera"]["max_bytes"] == 50_000
    assert limits["video"]["max_bytes"] == 3_000_000
    assert limits["camera"]["retention_days"] == 7
    # The reported limit is the one enforced.
    too_big = media.image_bytes(media.face_photo(), "PNG")
    assert len(too_big) > limits["image"]["max_bytes"]
    body = assert_error(upload(client, register_and_login(client), too_big, "big.png"), 413)
    # The limit in plain bytes, not a fraction of a megabyte ("0.0476837 MB" before).
    assert body["message"] == "Image too large: the limit is 50,000 bytes"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (10 * 1024 * 1024, "10 MB"),
        (5 * 1024 * 1024 // 2, "2.5 MB"),
        (10_000_000, "9.5 MB (10,000,000 bytes)"),
        (512 * 1024, "512 KB"),
        (50_000, "50,000 bytes"),
    ],
)
def test_size_limits_read_as_whole_units_or_exact_bytes(size, text):
    assert size_text(size) == text


def test_fake_and_real_images_get_the_documented_answer(app, client, user):
    response = upload(client, user, media.image_bytes(media.face_photo(fake=True)), "fake.jpg")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["success"] is True and body["is_fake"] is True
    assert 50 < body["confidence"] <= 100
    assert isinstance(body["image_id"], int)
    assert body["model_used"] == "Dima806 Deepfake Detector"
    assert body["model_key"] == "dima806"
    assert body["face_found"] is True and len(body["faces"]) == 1
    assert set(body["faces"][0]["box"]) == {"x", "y", "width", "height"}
    assert body["width"] == 512 and body["height"] == 512
    assert body["fake_probability"] > 0.5 and body["processing_time_ms"] >= 0
    assert isinstance(body["history_id"], int)

    real = upload(client, user, media.image_bytes(media.face_photo(fake=False), "PNG"), "real.png").get_json()
    assert real["is_fake"] is False

    files = stored_files(app, "images")
    assert len(files) == 2 and all(UUID_NAME.match(p.name) for p in files)
    assert row_counts(app) == (2, 2)


def test_model_choice_is_honoured(client, user):
    body = upload(client, user, media.image_bytes(media.face_photo(fake=True)), model="deep-fake-v2").get_json()
    assert body["model_key"] == "deep-fake-v2" and body["model_used"] == "Deep Fake Detector v2"


def test_unknown_model_is_400_and_stores_nothing(app, client, user):
    body = assert_error(upload(client, user, media.image_bytes(media.face_photo()), model="nope"), 400)
    assert "dima806" in body["message"]
    assert row_counts(app) == (0, 0) and stored_files(app, "images") == []


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "truncated_jpeg",
        "truncated_png",
        "text_as_png",
        "png_named_jpg",
        "bomb",
        "wrong_extension",
        "no_extension",
        "video_as_jpg",
    ],
)
def test_bad_images_are_400_and_nothing_is_written(app, client, user, case, tmp_path):
    name, data = {
        "empty": ("a.jpg", b""),
        "truncated_jpeg": ("a.jpg", media.truncated_jpeg()),
        "truncated_png": ("a.png", media.truncated_png()),
        "text_as_png": ("a.png", b"this is not an image at all" * 10),
        "png_named_jpg": ("a.jpg", media.image_bytes(media.face_photo(), "PNG")),
        "bomb": ("bomb.png", media.decompression_bomb_png()),
        "wrong_extension": ("a.exe", media.image_bytes(media.face_photo())),
        "no_extension": ("photo", media.image_bytes(media.face_photo())),
        "video_as_jpg": ("a.jpg", media.write_video(tmp_path / "v.mp4", seconds=1, fps=5).read_bytes()),
    }[case]
    assert_error(upload(client, user, data, name), 400)
    assert row_counts(app) == (0, 0)
    assert stored_files(app, "images") == []


def test_missing_file_field_is_400(client, user):
    assert_error(
        client.post(
            "/api/detect/image", headers=user.headers, content_type="multipart/form-data", data={"model": "dima806"}
        ),
        400,
    )
    assert_error(client.post("/api/detect/image", headers=user.headers, json={"image": "x"}), 400)


def test_path_traversal_names_are_harmless(app, client, user, tmp_path):
    data = media.image_bytes(media.face_photo())
    for name in ("../../../../etc/passwd.jpg", "..\\..\\evil.jpg", "/abs/path/x.jpg", "a/../../b.jpg"):
        response = upload(client, user, data, name)
        assert response.status_code == 200, response.get_json()
    upload_root = Path(app.config["UPLOAD_FOLDER"])
    every_file = [p for p in upload_root.rglob("*") if p.is_file()]
    assert len(every_file) == 4 and all(p.parent == upload_root / "images" for p in every_file)
    assert all(UUID_NAME.match(p.name) for p in every_file)
    history = client.get("/api/history", headers=user.headers).get_json()["history"]
    assert all(
        "/" not in item["filename"] and "\\" not in item["filename"] and ".." not in item["filename"]
        for item in history
    )


def test_oversized_image_is_413_before_anything_is_stored(make_app):
    from .helpers import register_and_login

    app = make_app(MAX_IMAGE_SIZE=50_000)
    client = app.test_client()
    user = register_and_login(client)
    big = media.image_bytes(media.face_photo(), "PNG")
    assert len(big) > 50_000
    body = assert_error(upload(client, user, big, "big.png"), 413)
    assert "limit" in body["message"]
    # Past the streaming limit too (body larger than limit + multipart overhead).
    huge = b"\xff\xd8" + b"0" * (app.config["UPLOAD_OVERHEAD"] + 100_000)
    assert_error(upload(client, user, huge, "huge.jpg"), 413)
    assert row_counts(app) == (0, 0) and stored_files(app, "images") == []


def test_content_length_over_the_limit_is_refused_early(client, user):
    # The declared length alone decides: the body is never read.
    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        data=b"--x--",
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(50 * 1024 * 1024)},
    )
    body = assert_error(response, 413)
    assert "10 MB" in body["message"]


def test_no_file_without_row_when_the_database_write_fails(app, client, user):
    # The database refuses the history insert (a trigger, as a full disk or constraint would):
    # the image row is rolled back and the stored file removed.
    with app.app_context():
        db.session.execute(
            db.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON detection_history BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
        db.session.commit()
    assert_error(upload(client, user, media.image_bytes(media.face_photo())), 500)
    assert row_counts(app) == (0, 0)
    assert stored_files(app, "images") == []
