"""Camera frame retention: old frames leave disk, detections and history together; CLI and opportunistic."""

from __future__ import annotations

import io
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from deepfake_detection.app import create_app
from deepfake_detection.app.config import ConfigurationError
from deepfake_detection.app.detection.models import CameraDetection
from deepfake_detection.app.extensions import db
from deepfake_detection.app.history.models import DetectionHistory
from tests.support import media

from .helpers import register_and_login
from .test_camera import send

DAY = timedelta(days=1)


def _frames(client, user, count: int) -> list[dict]:
    """Send ``count`` camera frames; their answers (detection_id, history_id)."""
    answers = []
    for _ in range(count):
        response = send(client, user, media.face_data_url(fake=False), session_id="retention")
        assert response.status_code == 200, response.get_json()
        answers.append(response.get_json())
    return answers


def _age(app, answers: list[dict], days: float) -> list[Path]:
    """Date these frames ``days`` back; returns their files."""
    ids = [answer["detection_id"] for answer in answers]
    with app.app_context():
        when = datetime.now(timezone.utc) - timedelta(days=days)
        db.session.execute(update(CameraDetection).where(CameraDetection.id.in_(ids)).values(detection_date=when))
        db.session.commit()
        paths = db.session.execute(
            select(CameraDetection.frame_path).where(CameraDetection.id.in_(ids)).order_by(CameraDetection.id)
        ).scalars()
        return [Path(app.config["UPLOAD_FOLDER"], relative) for relative in paths]


def _counts(app) -> tuple[int, int]:
    """(camera detections, camera history rows)."""
    with app.app_context():
        detections = db.session.execute(select(func.count(CameraDetection.id))).scalar_one()
        history = db.session.execute(
            select(func.count(DetectionHistory.id)).where(DetectionHistory.detection_type == "camera")
        ).scalar_one()
        db.session.rollback()
        return detections, history


def _orphan(app, *, name: str | None = None, days_old: float) -> Path:
    """A frame-like file in camera/ that no row refers to, last written ``days_old`` ago."""
    path = Path(app.config["UPLOAD_FOLDER"], "camera", name or f"{uuid.uuid4().hex}.jpg")
    path.write_bytes(b"\xff\xd8 left behind by a crash")
    stamp = (datetime.now(timezone.utc) - timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_cli_deletes_old_frames_with_their_rows_and_keeps_everything_else(make_app):
    app = make_app(CAMERA_FRAME_RETENTION_DAYS=7)
    client = app.test_client()
    user = register_and_login(client)
    old, recent = _frames(client, user, 3), _frames(client, user, 2)
    old_files = _age(app, old, days=8)
    recent_files = _age(app, recent, days=6)
    image = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "old.jpg")},
    )
    assert image.status_code == 200
    stale_orphan, fresh_orphan = _orphan(app, days_old=9), _orphan(app, days_old=0)
    not_a_frame = _orphan(app, name="notes.txt", days_old=30)

    result = app.test_cli_runner().invoke(args=["purge-camera-frames"])

    assert result.exit_code == 0, result.output
    assert "Deleted 3 camera frame(s) older than 7 day(s)" in result.output
    assert "removed 1 orphaned frame file(s)" in result.output
    assert not any(path.exists() for path in old_files + [stale_orphan])
    assert all(path.exists() for path in recent_files + [fresh_orphan, not_a_frame])
    assert _counts(app) == (2, 2)
    for answer in old:
        assert client.get(f"/api/history/{answer['history_id']}", headers=user.headers).status_code == 404
    for answer in recent:
        assert client.get(f"/api/history/{answer['history_id']}/media", headers=user.headers).status_code == 200
    listed = client.get("/api/history", headers=user.headers).get_json()
    assert sorted(item["detection_type"] for item in listed["history"]) == ["camera", "camera", "image"]
    assert client.get("/api/stats", headers=user.headers).get_json()["total_detections"] == 3


def test_cli_needs_a_retention_and_takes_days(make_app):
    app = make_app()
    client = app.test_client()
    user = register_and_login(client)
    files = _age(app, _frames(client, user, 2), days=4)

    refused = app.test_cli_runner().invoke(args=["purge-camera-frames"])
    assert refused.exit_code != 0 and "CAMERA_FRAME_RETENTION_DAYS" in refused.output
    assert all(path.exists() for path in files) and _counts(app) == (2, 2)
    assert app.test_cli_runner().invoke(args=["purge-camera-frames", "--days", "0"]).exit_code != 0

    purged = app.test_cli_runner().invoke(args=["purge-camera-frames", "--days", "3"])
    assert purged.exit_code == 0, purged.output
    assert "Deleted 2 camera frame(s)" in purged.output
    assert not any(path.exists() for path in files) and _counts(app) == (0, 0)


def test_camera_requests_purge_one_bounded_batch_per_interval(make_app):
    app = make_app(CAMERA_FRAME_RETENTION_DAYS=7, CAMERA_FRAME_PURGE_BATCH=2, CAMERA_FRAME_PURGE_INTERVAL=0)
    client = app.test_client()
    user = register_and_login(client)
    old = _frames(client, user, 3)
    old_files = _age(app, old, days=10)
    _age(app, old[:1], days=20)  # the oldest goes first

    _frames(client, user, 1)  # purges the two oldest only (ties in date go by id)
    assert [path.exists() for path in old_files] == [False, False, True]
    assert _counts(app) == (2, 2)

    _frames(client, user, 1)  # and the last one on the next request
    assert not any(path.exists() for path in old_files)
    assert _counts(app) == (2, 2)


def test_opportunistic_purge_waits_for_its_interval(make_app):
    app = make_app(CAMERA_FRAME_RETENTION_DAYS=7, CAMERA_FRAME_PURGE_INTERVAL=3600)
    client = app.test_client()
    user = register_and_login(client)
    _frames(client, user, 1)  # the first frame after start takes this process's purge slot
    files = _age(app, _frames(client, user, 2), days=8)
    _frames(client, user, 1)
    assert all(path.exists() for path in files) and _counts(app) == (4, 4)


def test_without_retention_camera_frames_are_kept(make_app):
    app = make_app(CAMERA_FRAME_PURGE_INTERVAL=0)
    client = app.test_client()
    user = register_and_login(client)
    files = _age(app, _frames(client, user, 2), days=3650)
    _frames(client, user, 1)
    assert all(path.exists() for path in files) and _counts(app) == (3, 3)


@pytest.mark.parametrize("value", ["0", "-3", "week"])
def test_retention_days_must_be_a_positive_whole_number(tmp_path, monkeypatch, value):
    monkeypatch.setenv("CAMERA_FRAME_RETENTION_DAYS", value)
    with pytest.raises(ConfigurationError, match="CAMERA_FRAME_RETENTION_DAYS"):
        create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "s" * 64, "JWT_SECRET_KEY": "j" * 64})
