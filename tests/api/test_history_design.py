"""History as one design: real foreign keys (ON DELETE CASCADE), one delete path, the migration on existing data.

Runs on SQLite here and on PostgreSQL through tests/production/test_api_on_postgres.py.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from deepfake_detection.app.detection.schemas import VIDEO_TRUST_DEFAULTS
from deepfake_detection.app.extensions import db
from deepfake_detection.app.jobs.backends import BACKEND_KEY
from deepfake_detection.app.jobs.models import Job
from deepfake_detection.app.jobs.runner import run_video_job
from tests.support import media

from .test_video import HoldingBackend

BEFORE_HISTORY_FOREIGN_KEYS = "e8a4b2c6d710"
CONTENT_TABLES = {"image": "image", "video": "video", "camera": "camera_detection"}


@pytest.fixture(scope="module")
def history_clip(tmp_path_factory) -> bytes:
    """A 2-second MP4 (its analysis leaves a thumbnail next to it)."""
    return media.write_video(tmp_path_factory.mktemp("video") / "c.mp4", seconds=2, fps=10, fake=False).read_bytes()


def _one_of_each(app, client, user, clip: bytes) -> dict[str, dict]:
    """An image, a completed video and a camera frame of ``user``; each kind's answer (with history_id)."""
    image = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo(fake=True))), "p.jpg")},
    )
    camera = client.post("/api/detect/camera", headers=user.headers, json={"image": media.face_data_url()})
    assert image.status_code == 200 and camera.status_code == 200
    video = _completed_video(app, client, user, clip)
    return {"image": image.get_json(), "video": video, "camera": camera.get_json()}


def _completed_video(app, client, user, clip: bytes) -> dict:
    """Upload a video and run its job to completion; its status body (with history_id)."""
    app.extensions[BACKEND_KEY] = HoldingBackend()
    accepted = client.post(
        "/api/detect/video?async=true",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(clip), "c.mp4")},
    ).get_json()
    assert run_video_job(accepted["job_id"], app=app) == "completed"
    video = client.get(f"/api/videos/{accepted['video_id']}", headers=user.headers).get_json()["video"]
    assert video["history_id"] is not None
    return video


def _history_answers(client, user) -> tuple[dict, dict]:
    """GET /api/history and every GET /api/history/<id>, as the user sees them."""
    listing = client.get("/api/history", headers=user.headers).get_json()
    items = {
        item["id"]: client.get(f"/api/history/{item['id']}", headers=user.headers).get_json()
        for item in listing["history"]
    }
    for answer in items.values():
        # Columns added by later migrations: the downgrade below drops them with their values, by design.
        # A video's trust fields (column video.trust) are answered at the top of its detail.
        for column in ("backend", "trust", *VIDEO_TRUST_DEFAULTS):
            (answer["item"]["detail"] or {}).pop(column, None)
    for item in [*listing["history"], *(answer["item"] for answer in items.values())]:
        item.pop("verdict", None)
    return listing, items


def _count(app, table: str) -> int:
    with app.app_context():
        count = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        db.session.rollback()
        return count


@pytest.mark.parametrize("endpoint", ["video", "history"])
def test_both_video_deletes_stop_its_active_job_and_remove_item_jobs_and_files(
    app, client, user, history_clip, endpoint
):
    video = _completed_video(app, client, user, history_clip)
    # A second job of the same video still active (a re-analysis, or a job a worker holds): whichever
    # endpoint deletes the video must stop it and drop it from the queue.
    with app.app_context():
        owner = db.session.execute(text("SELECT user_id FROM video WHERE id = :id"), {"id": video["id"]}).scalar_one()
        job = Job(kind="video", user_id=owner, video_id=video["id"], status="processing")
        db.session.add(job)
        db.session.commit()
        active_job = job.id
    backend = app.extensions[BACKEND_KEY] = HoldingBackend()
    url = f"/api/videos/{video['id']}" if endpoint == "video" else f"/api/history/{video['history_id']}"
    assert client.delete(url, headers=user.headers).status_code == 200

    assert backend.cancelled == [active_job]
    assert run_video_job(active_job, app=app) == "missing"  # the worker finds nothing left to do
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 0
    assert client.get(f"/api/videos/{video['id']}", headers=user.headers).status_code == 404
    assert _count(app, "job") == 0 and _count(app, "detection_history") == 0
    assert list(Path(app.config["UPLOAD_FOLDER"], "videos").iterdir()) == []  # video and thumbnail


def test_deleting_a_detection_row_in_sql_deletes_its_history_item(app, client, user, history_clip):
    answers = _one_of_each(app, client, user, history_clip)
    ids = {
        "image": answers["image"]["image_id"],
        "video": answers["video"]["id"],
        "camera": answers["camera"]["detection_id"],
    }
    for kind, table in CONTENT_TABLES.items():
        with app.app_context():
            db.session.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": ids[kind]})
            db.session.commit()
        listing = client.get("/api/history", headers=user.headers).get_json()
        assert kind not in {item["detection_type"] for item in listing["history"]}, listing
    assert _count(app, "detection_history") == 0


def test_a_history_row_names_exactly_one_existing_detection_of_its_type(app, client, user, history_clip):
    answers = _one_of_each(app, client, user, history_clip)
    image_id = answers["image"]["image_id"]
    with app.app_context():
        user_id = db.session.execute(text("SELECT user_id FROM image WHERE id = :id"), {"id": image_id}).scalar_one()
        db.session.rollback()
    insert = (
        "INSERT INTO detection_history (user_id, detection_type, content_id, is_fake, confidence_score, "
        "detection_time, image_id, video_id) VALUES (:u, :t, :c, false, 50.0, '2026-01-01 00:00:00', :i, :v)"
    )
    refused = [
        {"t": "image", "c": 999999, "i": 999999, "v": None},  # no such image
        {"t": "image", "c": image_id, "i": None, "v": None},  # no key at all
        {"t": "video", "c": image_id, "i": image_id, "v": None},  # the key of another type
        {"t": "image", "c": image_id + 1, "i": image_id, "v": None},  # content_id disagrees
        {"t": "image", "c": image_id, "i": image_id, "v": answers["video"]["id"]},  # two keys
    ]
    for values in refused:
        with app.app_context():
            with pytest.raises(IntegrityError):
                db.session.execute(text(insert), {"u": user_id, **values})
                db.session.flush()
            db.session.rollback()
    assert _count(app, "detection_history") == 3


def test_upgrading_existing_data_keeps_every_item_and_its_answers_and_drops_dangling_ones(
    app, client, user, history_clip, caplog
):
    answers = _one_of_each(app, client, user, history_clip)
    before = _history_answers(client, user)
    assert before[0]["total"] == 3
    with app.app_context():
        downgrade(revision=BEFORE_HISTORY_FOREIGN_KEYS)
        user_id = db.session.execute(text("SELECT user_id FROM image")).scalar_one()
        # What the old code could leave: a history row whose detection is gone (no key to cascade).
        db.session.execute(
            text(
                "INSERT INTO detection_history (user_id, detection_type, content_id, is_fake, confidence_score, "
                "detection_time) VALUES (:u, 'camera', 999999, true, 80.0, '2026-01-01 00:00:00')"
            ),
            {"u": user_id},
        )
        db.session.commit()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            upgrade()
        assert "deleted 1 history row(s) whose detection no longer exists" in caplog.text
        # Nothing left for autogenerate to add (what `flask db check` looks at).
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert differences == []
        db.session.rollback()

    assert _history_answers(client, user) == before
    # The keys were filled from the existing rows: deleting a detection now takes its item with it.
    with app.app_context():
        db.session.execute(text("DELETE FROM image WHERE id = :id"), {"id": answers["image"]["image_id"]})
        db.session.commit()
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 2
