"""Videos on the API: the ensemble (sync and async), the trust fields in every video answer, old rows answer null."""

from __future__ import annotations

import io

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from deepfake_detection.app.calibration import service as calibration_service
from deepfake_detection.app.detection.models import Video
from deepfake_detection.app.extensions import db
from deepfake_detection.app.jobs.backends import BACKEND_KEY
from tests.support import media

from .helpers import register_and_login
from .test_calibrations import fit, grant

TINY = ["dima806", "deep-fake-v2", "open-deepfake"]
TRUST = ("verdict", "reasons", "segments", "segments_text", "fake_share", "members", "calibration")
# Every field the video answer had before the trust fields (the documented ones first).
VIDEO_FIELDS = {
    "success", "is_fake", "confidence", "video_id", "model_used", "message", "model_key", "fake_probability",
    "fake_frames", "real_frames", "frames_analyzed", "frames_skipped", "duration", "fps", "timeline",
    "thumbnail_url", "processing_time_ms", "history_id", "backend", "job_id", "filename",
}  # fmt: skip
BEFORE_VIDEO_TRUST = "e5c3a7d9f214"


@pytest.fixture(scope="module")
def split_clip(tmp_path_factory) -> bytes:
    """Four seconds: three with the tiny models' cue (fake), then one without."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return media.write_video(path, seconds=4, fps=5, fake=[True, True, True, False]).read_bytes()


def post_video(client, user, data: bytes, query: str = "", **form):
    return client.post(
        f"/api/detect/video{query}",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(data), "clip.mp4"), **form},
    )


def assert_ensemble_trust(answer: dict) -> None:
    """The trust fields of the clip judged by the three tiny models (which all learnt the same cue)."""
    assert answer["model_key"] == "ensemble" and answer["model_used"] == "Ensemble (3 models)"
    assert answer["is_fake"] is True and answer["verdict"] == "fake"
    assert answer["reasons"] == ["3 of 4 frames judged fake"] and answer["fake_share"] == 0.75
    times = [frame["time"] for frame in answer["timeline"]]
    assert answer["segments"] == [
        {"start": times[0], "end": times[2], "verdict": "fake"},
        {"start": times[3], "end": times[3], "verdict": "real"},
    ]
    assert answer["segments_text"].startswith("fake 0-") and ", real " in answer["segments_text"]
    assert [m["key"] for m in answer["members"]] == TINY
    assert all(m["fake_frames"] == 3 and m["calibrated_probability"] is None for m in answer["members"])
    assert answer["calibration"] is None
    assert [frame["verdict"] for frame in answer["timeline"]] == ["fake", "fake", "fake", "real"]
    assert all(set(frame["members"]) == set(TINY) for frame in answer["timeline"])


def test_a_synchronous_video_takes_the_ensemble_and_every_answer_carries_the_trust_fields(
    app, client, user, split_clip
):
    response = post_video(client, user, split_clip, model="ensemble")
    body = response.get_json()
    assert response.status_code == 200, body
    assert VIDEO_FIELDS <= set(body)
    assert_ensemble_trust(body)
    status = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    assert status["status"] == "completed"
    assert_ensemble_trust(status)
    detail = client.get(f"/api/history/{body['history_id']}", headers=user.headers).get_json()["item"]["detail"]
    assert_ensemble_trust({**detail, "is_fake": True})  # the detail leaves is_fake to its item
    with app.app_context():
        video = db.session.execute(select(Video)).scalar_one()
        assert video.model_key == "ensemble" and video.trust["verdict"] == "fake"
        db.session.rollback()


def test_an_asynchronous_video_takes_the_ensemble(app, client, user, split_clip):
    response = post_video(client, user, split_clip, query="?async=true", model="ensemble")
    body = response.get_json()
    assert response.status_code == 202, body
    app.extensions[BACKEND_KEY].wait(body["job_id"], timeout=120)
    status = client.get(body["status_url"], headers=user.headers).get_json()["video"]
    assert status["status"] == "completed" and status["progress"] == 100
    assert_ensemble_trust(status)


def test_a_video_split_evenly_is_an_uncertain_history_item(client, user, tmp_path):
    """The video's three-way verdict reaches its history row: the uncertain filter and count include it."""
    path = media.write_video(tmp_path / "even.mp4", seconds=4, fps=5, fake=[True, True, False, False])
    body = post_video(client, user, path.read_bytes(), model="ensemble").get_json()
    assert body["verdict"] == "uncertain" and body["reasons"][0].startswith("the frames split nearly evenly")
    item = client.get(f"/api/history/{body['history_id']}", headers=user.headers).get_json()["item"]
    assert item["verdict"] == "uncertain"
    listed = client.get("/api/history?verdict=uncertain", headers=user.headers).get_json()["history"]
    assert [entry["id"] for entry in listed] == [body["history_id"]]
    stats = client.get("/api/stats", headers=user.headers).get_json()
    assert stats["uncertain_count"] == 1 and stats["total_detections"] == stats["fake_count"] + stats["real_count"]


def test_a_single_model_video_keeps_every_field_and_gains_the_verdict(client, user, split_clip):
    body = post_video(client, user, split_clip, model="deep-fake-v2").get_json()
    assert VIDEO_FIELDS | set(TRUST) <= set(body)
    assert body["model_key"] == "deep-fake-v2" and body["is_fake"] is True and body["frames_analyzed"] == 4
    assert body["verdict"] == "fake" and [s["verdict"] for s in body["segments"]] == ["fake", "real"]
    [member] = body["members"]
    assert member["key"] == "deep-fake-v2" and member["fake_frames"] == body["fake_frames"] == 3
    frame = body["timeline"][0]
    assert set(frame) == {"time", "fake_probability", "is_fake", "faces", "verdict"}  # no members for one model


def test_the_active_calibration_reaches_video_jobs_and_is_named(app, client, split_clip):
    admin = register_and_login(client)
    grant(app, admin.username)
    record = fit(app, admin.id, seed=4)
    with app.app_context():
        calibration_service.activate(session=db.session, admin_id=admin.id, calibration_id=record.id)
    body = post_video(client, admin, split_clip, model="dima806").get_json()
    assert body["calibration"]["members"]["dima806"] == {
        "method": record.method,
        "n_real": record.n_real,
        "n_fake": record.n_fake,
        "id": record.id,
    }
    [member] = body["members"]
    assert member["calibrated_probability"] is not None
    assert member["calibrated_probability"] == pytest.approx(body["fake_probability"], abs=1e-5)


def test_videos_stored_before_the_trust_column_answer_null(app, client, user, split_clip):
    body = post_video(client, user, split_clip).get_json()
    with app.app_context():
        # Back to the revision before the column, and up again: the row keeps NULL, as an older row would.
        downgrade(revision=BEFORE_VIDEO_TRUST)
        assert "trust" not in {column["name"] for column in inspect(db.engine).get_columns("video")}
        upgrade()
        assert db.session.execute(text("SELECT trust FROM video")).scalar_one() is None
        # Frames stored before carried the documented four fields only.
        old_timeline = [{k: f[k] for k in ("time", "fake_probability", "is_fake", "faces")} for f in body["timeline"]]
        db.session.get(Video, body["video_id"]).timeline = old_timeline
        db.session.commit()
    status = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    detail = client.get(f"/api/history/{body['history_id']}", headers=user.headers).get_json()["item"]["detail"]
    for answer in (status, detail):
        assert all(answer[field] is None for field in TRUST), answer
        assert answer["timeline"] == old_timeline  # answered as stored: no invented verdicts
        assert answer["fake_probability"] == body["fake_probability"]


def test_the_document_describes_the_video_trust_fields(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    properties = schemas["VideoResult"]["properties"]
    assert set(TRUST) <= set(properties)
    assert properties["fake_share"]["nullable"] is True and properties["fake_share"]["maximum"] == 1
    segment = schemas["VideoSegment"]
    assert set(segment["required"]) == {"start", "end", "verdict"}
    assert segment["properties"]["verdict"]["enum"] == ["fake", "uncertain", "real"]
    assert {"verdict", "members"} <= set(schemas["FrameResult"]["properties"])
