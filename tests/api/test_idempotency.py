"""Idempotency-Key on detection requests: a retry replays the first answer instead of detecting twice."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

from sqlalchemy import text

from deepfake_detection.app.extensions import db
from deepfake_detection.app.idempotency import service as idempotency
from tests.support import media

from .helpers import assert_error

KEY = "Idempotency-Key"


def _post_image(client, user, *, key: str | None, image: bytes, name: str = "face.jpg"):
    headers = dict(user.headers)
    if key is not None:
        headers[KEY] = key
    return client.post(
        "/api/detect/image",
        headers=headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(image), name)},
    )


def _count(app, table: str) -> int:
    with app.app_context():
        count = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        db.session.rollback()
        return count


def test_a_retried_image_upload_with_the_same_key_replays_the_first_answer(app, client, user):
    photo = media.image_bytes(media.face_photo(fake=True))
    first = _post_image(client, user, key="retry-1", image=photo)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers

    retried = _post_image(client, user, key="retry-1", image=photo)

    assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json() == first.get_json()
    assert retried.get_json()["image_id"] == first.get_json()["image_id"]
    assert _count(app, "detection_history") == 1 and _count(app, "image") == 1
    assert client.get("/api/history", headers=user.headers).get_json()["count"] == 1


def test_another_key_or_no_key_is_a_new_detection(app, client, user):
    photo = media.image_bytes(media.face_photo())
    first = _post_image(client, user, key="key-a", image=photo).get_json()
    second = _post_image(client, user, key="key-b", image=photo).get_json()
    third = _post_image(client, user, key=None, image=photo).get_json()
    assert len({first["image_id"], second["image_id"], third["image_id"]}) == 3
    assert _count(app, "detection_history") == 3


def test_the_same_key_for_another_payload_or_endpoint_is_refused(app, client, user):
    assert _post_image(client, user, key="reused", image=media.image_bytes(media.face_photo())).status_code == 200

    other_file = _post_image(client, user, key="reused", image=media.image_bytes(media.face_photo(fake=True)))
    body = assert_error(other_file, 422)
    assert KEY in body["errors"]
    other_endpoint = client.post(
        "/api/detect/camera", headers={**user.headers, KEY: "reused"}, json={"image": media.face_data_url()}
    )
    assert_error(other_endpoint, 422)
    assert _count(app, "detection_history") == 1


def test_keys_belong_to_their_user(app, client, user, other_user):
    photo = media.image_bytes(media.face_photo())
    mine = _post_image(client, user, key="shared-name", image=photo).get_json()
    theirs = _post_image(client, other_user, key="shared-name", image=photo)
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["image_id"] != mine["image_id"]


def test_a_key_still_being_processed_answers_409(app, client, user):
    photo = media.image_bytes(media.face_photo())
    # The first request's claim, as its request holds it while the model runs (same fields as the view).
    with app.app_context():
        claimed = idempotency.claim(
            session=db.session,
            user_id=user.id,
            key="busy",
            endpoint="detect_image",
            fingerprint=idempotency.fingerprint(
                endpoint="detect_image",
                fields={"model": "dima806", "filename": "face.jpg", "sha256": idempotency.digest_bytes(photo)},
            ),
            ttl=timedelta(hours=24),
        )
        assert claimed.response_status is None
    assert_error(_post_image(client, user, key="busy", image=photo), 409)
    assert _count(app, "detection_history") == 0


def test_concurrent_requests_with_one_key_make_one_detection(app, user):
    photo = media.image_bytes(media.face_photo(fake=True))
    answers = []

    def post():
        answers.append(_post_image(app.test_client(), user, key="raced", image=photo))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 4
    assert {answer.status_code for answer in answers} <= {200, 409}
    image_ids = {answer.get_json()["image_id"] for answer in answers if answer.status_code == 200}
    assert len(image_ids) == 1
    assert _count(app, "detection_history") == 1


def test_a_failed_request_frees_its_key(app, client, user):
    broken = _post_image(client, user, key="after-failure", image=b"\xff\xd8 not really a jpeg")
    assert_error(broken, 400)
    again = _post_image(client, user, key="after-failure", image=b"\xff\xd8 not really a jpeg")
    assert_error(again, 400)  # processed again (not 409: nothing holds the key)
    assert _count(app, "idempotency_key") == 0


def test_an_expired_key_is_a_new_request(app, client, user):
    photo = media.image_bytes(media.face_photo())
    first = _post_image(client, user, key="old", image=photo).get_json()
    with app.app_context():
        db.session.execute(text("UPDATE idempotency_key SET created_at = :old"), {"old": "2000-01-01 00:00:00"})
        db.session.commit()
    again = _post_image(client, user, key="old", image=photo)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["image_id"] != first["image_id"]


def test_malformed_keys_are_refused(client, user):
    photo = media.image_bytes(media.face_photo())
    for key in ("", "x" * 256, "has space"):
        assert_error(_post_image(client, user, key=key, image=photo), 400)
    quoted = _post_image(client, user, key='"structured-field-string"', image=photo)
    assert quoted.status_code == 200


def test_camera_frames_and_async_videos_replay_too(app, client, user, tmp_path):
    frame = {"image": media.face_data_url(), "session_id": "s1"}
    first = client.post("/api/detect/camera", headers={**user.headers, KEY: "frame-1"}, json=frame)
    again = client.post("/api/detect/camera", headers={**user.headers, KEY: "frame-1"}, json=frame)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()

    clip = tmp_path / "clip.mp4"
    media.write_video(clip, seconds=2, fps=10)
    answers = []
    for _ in range(2):
        with open(clip, "rb") as handle:
            answers.append(
                client.post(
                    "/api/detect/video?async=true",
                    headers={**user.headers, KEY: "video-1"},
                    content_type="multipart/form-data",
                    data={"video": (handle, "clip.mp4")},
                )
            )
    assert [answer.status_code for answer in answers] == [202, 202]
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert answers[0].get_json()["video_id"] == answers[1].get_json()["video_id"]
    assert _count(app, "video") == 1 and _count(app, "job") == 1


def test_a_synchronous_video_replays_its_result(app, client, user, tmp_path):
    clip = media.write_video(tmp_path / "sync.mp4", seconds=2, fps=10)
    answers = []
    for _ in range(2):
        with open(clip, "rb") as handle:
            answers.append(
                client.post(
                    "/api/detect/video",
                    headers={**user.headers, KEY: "sync-1"},
                    content_type="multipart/form-data",
                    data={"video": (handle, "sync.mp4")},
                )
            )
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert answers[1].get_json() == answers[0].get_json() and answers[0].get_json()["history_id"]
    assert _count(app, "video") == 1 and _count(app, "detection_history") == 1
