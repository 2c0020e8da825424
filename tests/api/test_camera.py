"""POST /api/detect/camera: data URLs, smoothing per user and session, bad input."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support import media

from .helpers import assert_error, register_and_login


def send(client, user, image, **extra):
    return client.post("/api/detect/camera", headers=user.headers, json={"image": image, **extra})


def test_camera_frame_answers_as_documented_with_default_model(app, client, user):
    response = send(client, user, media.face_data_url(fake=True))
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["success"] is True and body["is_fake"] is True and 0 < body["confidence"] <= 100
    assert body["model_used"] == "Deep Fake Detector v2" and body["model_key"] == "deep-fake-v2"
    assert body["frame"]["face_found"] is True and body["frames_in_window"] == 1
    assert isinstance(body["detection_id"], int) and isinstance(body["history_id"], int)
    frames = list(Path(app.config["UPLOAD_FOLDER"], "camera").iterdir())
    assert len(frames) == 1 and frames[0].suffix == ".jpg"
    media_response = client.get(f"/api/history/{body['history_id']}/media", headers=user.headers)
    assert media_response.status_code == 200 and media_response.data[:2] == b"\xff\xd8"


def test_bare_base64_and_png_are_accepted(client, user):
    bare = base64.b64encode(media.image_bytes(media.face_photo())).decode()
    assert send(client, user, bare).status_code == 200
    assert send(client, user, media.face_data_url(False, "PNG"), model="dima806").get_json()["model_key"] == "dima806"


def test_smoothing_is_kept_per_user_and_session(client, user, other_user):
    for expected in (1, 2, 3):
        answer = send(client, user, media.face_data_url(False), session_id="tab-1").get_json()
        assert answer["frames_in_window"] == expected
    # A new session, and another user with the same session id, start their own windows.
    assert send(client, user, media.face_data_url(False), session_id="tab-2").get_json()["frames_in_window"] == 1
    assert send(client, other_user, media.face_data_url(False), session_id="tab-1").get_json()["frames_in_window"] == 1
    # One fake frame inside a window of real ones does not flip the smoothed verdict.
    body = send(client, user, media.face_data_url(True), session_id="tab-1").get_json()
    assert body["frame"]["is_fake"] is True and body["is_fake"] is False and body["fake_votes"] == 1


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"image": "data:image/jpeg;base64,@@@not-base64@@@"}, 400),
        ({"image": "data:image/jpeg;base64,"}, 400),
        ({"image": "data:text/plain;base64,aGVsbG8="}, 400),
        ({"image": "data:image/jpeg,rawbytes"}, 400),
        ({"image": base64.b64encode(b"definitely not an image").decode()}, 400),
        ({"image": base64.b64encode(media.truncated_jpeg()).decode()}, 400),
        ({"image": base64.b64encode(media.decompression_bomb_png()).decode()}, 400),
        ({"image": 12345}, 400),
        ({}, 400),
        ({"image": media.face_data_url(False), "model": "nope"}, 400),
        ({"image": media.face_data_url(False), "session_id": "../../etc"}, 400),
        ({"image": media.face_data_url(False), "session_id": "x" * 65}, 400),
    ],
)
def test_bad_camera_input_is_400_and_nothing_is_stored(app, client, user, payload, status):
    assert_error(client.post("/api/detect/camera", headers=user.headers, json=payload), status)
    assert list(Path(app.config["UPLOAD_FOLDER"], "camera").iterdir()) == []


def test_non_json_camera_bodies_are_400(client, user):
    assert_error(
        client.post("/api/detect/camera", headers=user.headers, data="{oops", content_type="application/json"), 400
    )
    assert_error(client.post("/api/detect/camera", headers=user.headers, data="image=x"), 400)


def test_oversized_camera_frame_is_413(make_app):
    app = make_app(MAX_IMAGE_SIZE=20_000)
    client = app.test_client()
    user = register_and_login(client)
    body = assert_error(send(client, user, media.face_data_url(False, "PNG")), 413)
    assert body["message"] == "Camera frame too large: the limit is 20,000 bytes"  # was "0 MB"


def test_camera_requires_a_token(client):
    assert_error(client.post("/api/detect/camera", json={"image": media.face_data_url(False)}), 401)
