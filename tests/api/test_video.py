"""POST /api/detect/video (sync and async), GET /api/videos/<id>, cancellation, job runner outcomes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from deepfake_detection.app.detection.models import Video
from deepfake_detection.app.extensions import db
from deepfake_detection.app.jobs.backends import BACKEND_KEY
from deepfake_detection.app.jobs.models import Job
from deepfake_detection.app.jobs.runner import run_video_job
from tests.support import media

from .helpers import assert_error, register_and_login


class HoldingBackend:
    """A job backend that queues jobs and runs them only when the test says so."""

    def __init__(self):
        self.submitted: list[int] = []
        self.cancelled: list[int] = []

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def cancel(self, job_id: int) -> None:
        self.cancelled.append(job_id)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """A 3-second H.264 MP4, every second tinted (fake)."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return media.write_video(path, seconds=3, fps=10, fake=[True, True, True]).read_bytes()


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "real.mp4"
    return media.write_video(path, seconds=2, fps=10, fake=False).read_bytes()


def post_video(client, user, data: bytes, name: str = "clip.mp4", query: str = "", **form):
    return client.post(
        f"/api/detect/video{query}",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(data), name), **form},
    )


def test_sync_video_detection_answers_as_documented(app, client, user, clip):
    response = post_video(client, user, clip, model="deep-fake-v2")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["success"] is True and body["is_fake"] is True
    assert 50 < body["confidence"] <= 100
    assert isinstance(body["video_id"], int) and body["model_used"] == "Deep Fake Detector v2"
    assert body["frames_analyzed"] == 3 and body["fake_frames"] == 3 and body["real_frames"] == 0
    assert body["duration"] == pytest.approx(3.0, abs=0.2)
    assert len(body["timeline"]) == 3 and {"time", "fake_probability", "is_fake", "faces"} <= set(body["timeline"][0])
    assert body["thumbnail_url"] == f"/api/history/{body['history_id']}/media"
    thumb = client.get(body["thumbnail_url"], headers=user.headers)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and thumb.data[:2] == b"\xff\xd8"
    status = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    assert status["status"] == "completed" and status["progress"] == 100 and status["is_fake"] is True


def test_async_video_returns_202_then_progress_and_result(app, client, user, real_clip):
    response = post_video(client, user, real_clip, query="?async=true")
    body = response.get_json()
    assert response.status_code == 202, body
    assert body["success"] is True and body["status"] == "queued"
    assert body["status_url"] == f"/api/videos/{body['video_id']}" and isinstance(body["job_id"], int)
    app.extensions[BACKEND_KEY].wait(body["job_id"], timeout=120)
    video = client.get(body["status_url"], headers=user.headers).get_json()["video"]
    assert video["status"] == "completed" and video["progress"] == 100
    assert video["is_fake"] is False and video["frames_analyzed"] == 2
    # async as a form field works too
    response = post_video(client, user, real_clip, **{"async": "true"})
    assert response.status_code == 202


def test_queued_video_can_be_cancelled(app, client, user, real_clip):
    holding = HoldingBackend()
    app.extensions[BACKEND_KEY] = holding
    body = post_video(client, user, real_clip, query="?async=1").get_json()
    video_id, job_id = body["video_id"], body["job_id"]
    assert holding.submitted == [job_id]
    assert client.get(f"/api/videos/{video_id}", headers=user.headers).get_json()["video"]["status"] == "queued"

    response = client.post(f"/api/videos/{video_id}/cancel", headers=user.headers)
    assert response.status_code == 200 and response.get_json()["video"]["status"] == "cancelled"
    assert holding.cancelled == [job_id]
    # The worker picking it up later leaves it cancelled and runs nothing.
    assert run_video_job(job_id, app=app) == "cancelled"
    video = client.get(f"/api/videos/{video_id}", headers=user.headers).get_json()["video"]
    assert video["status"] == "cancelled"
    assert_error(client.post(f"/api/videos/{video_id}/cancel", headers=user.headers), 409)


def test_running_job_stops_mid_analysis_when_cancel_is_requested(make_app, tmp_path):
    # The cancel request arrives while frames are being analysed: a trigger sets the flag when the
    # runner writes its first progress, and the next frame's cancel check must stop the job.
    app = make_app(JOB_CANCEL_CHECK_SECONDS=0)
    app.extensions[BACKEND_KEY] = HoldingBackend()
    client = app.test_client()
    user = register_and_login(client)
    clip = media.write_video(tmp_path / "long.mp4", seconds=8, fps=2).read_bytes()
    body = post_video(client, user, clip, query="?async=true").get_json()
    with app.app_context():
        db.session.execute(
            db.text(
                "CREATE TRIGGER cancel_on_progress AFTER UPDATE OF progress ON job "
                "BEGIN UPDATE job SET cancel_requested = 1 WHERE id = NEW.id; END"
            )
        )
        db.session.commit()
    assert run_video_job(body["job_id"], app=app) == "cancelled"
    video = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    assert video["status"] == "cancelled" and video["message"] == "Cancelled by the user"
    assert video["progress"] < 99  # stopped part-way, not after analysing every frame
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 0


def test_cancel_request_reaches_a_started_job(app, client, user, real_clip):
    app.extensions[BACKEND_KEY] = HoldingBackend()
    body = post_video(client, user, real_clip, query="?async=true").get_json()
    with app.app_context():
        job = db.session.get(Job, body["job_id"])
        job.status = "processing"  # as if a worker had started it
        db.session.commit()
    assert client.post(f"/api/videos/{body['video_id']}/cancel", headers=user.headers).status_code == 200
    with app.app_context():
        job = db.session.get(Job, body["job_id"])
        assert job.cancel_requested is True and job.status == "processing"
    assert run_video_job(body["job_id"], app=app) == "cancelled"


def test_job_of_a_deleted_video_is_a_harmless_no_op(app, client, user, real_clip):
    app.extensions[BACKEND_KEY] = HoldingBackend()
    body = post_video(client, user, real_clip, query="?async=true").get_json()
    with app.app_context():
        db.session.execute(db.delete(Video).where(Video.id == body["video_id"]))  # cascades to the job
        db.session.commit()
    assert run_video_job(body["job_id"], app=app) == "missing"


def test_interrupted_jobs_are_failed_at_start(app, client, user, real_clip):
    from deepfake_detection.app.serve import prepare

    app.extensions[BACKEND_KEY] = HoldingBackend()
    body = post_video(client, user, real_clip, query="?async=true").get_json()
    with app.app_context():  # left by a process that stopped an hour ago: nobody touched it since
        db.session.execute(
            db.update(Job)
            .where(Job.id == body["job_id"])
            .values(updated_at=datetime.now(timezone.utc) - timedelta(hours=1))
        )
        db.session.commit()
    prepare(app)  # what deepfake-server does at start
    video = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    assert video["status"] == "failed" and "restart" in video["message"]


def test_model_unavailable_fails_the_job_with_503_and_the_fetch_command(make_app, tmp_path, real_clip):
    from deepfake_detection.engine import DetectionEngine, EngineSettings

    empty = DetectionEngine(EngineSettings(cache_dir=tmp_path / "empty-cache", offline=True))
    app = make_app(DETECTION_ENGINE=empty)
    client = app.test_client()
    user = register_and_login(client)
    body = assert_error(post_video(client, user, real_clip), 503)
    assert "deepfake download-models" in body["message"] and body["code"] == "model_unavailable"
    status = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    assert status["status"] == "failed" and "download-models" in status["message"]
    assert status["error_code"] == "model_unavailable"  # the job row keeps the code, not an HTTP status


@pytest.mark.parametrize("case", ["empty", "corrupt", "image_as_mp4", "wrong_extension", "text"])
def test_bad_videos_are_400_and_nothing_is_written(app, client, user, case):
    name, data = {
        "empty": ("a.mp4", b""),
        "corrupt": ("a.mp4", media.corrupt_video_bytes()),
        "image_as_mp4": ("a.mp4", media.image_bytes(media.face_photo())),
        "wrong_extension": ("a.exe", b"MZ" + b"0" * 100),
        "text": ("a.avi", b"hello world" * 100),
    }[case]
    assert_error(post_video(client, user, data, name), 400)
    with app.app_context():
        assert db.session.execute(select(func.count(Video.id))).scalar_one() == 0
        assert db.session.execute(select(func.count(Job.id))).scalar_one() == 0
    assert list(Path(app.config["UPLOAD_FOLDER"], "videos").iterdir()) == []


def test_a_video_whose_container_is_not_its_extension_s_is_400(app, client, user, real_clip):
    body = assert_error(post_video(client, user, real_clip, "clip.mkv"), 400)
    assert body["message"] == "The file content is not a .mkv video"
    assert list(Path(app.config["UPLOAD_FOLDER"], "videos").iterdir()) == []


def test_missing_video_field_and_unknown_model_are_400(client, user, real_clip):
    assert_error(
        client.post("/api/detect/video", headers=user.headers, content_type="multipart/form-data", data={}), 400
    )
    assert_error(post_video(client, user, real_clip, model="nope"), 400)


def test_oversized_video_is_413_and_nothing_is_written(make_app, real_clip):
    app = make_app(MAX_VIDEO_SIZE=len(real_clip) - 1)
    client = app.test_client()
    user = register_and_login(client)
    body = assert_error(post_video(client, user, real_clip), 413)
    # The enforced limit, not one rounded down to whole MB ("the limit is 0 MB" before).
    assert body["message"].startswith("Video too large: the limit is ")
    assert f"{len(real_clip) - 1:,} bytes" in body["message"]
    assert list(Path(app.config["UPLOAD_FOLDER"], "videos").iterdir()) == []


def test_videos_of_another_user_are_404(client, user, other_user, real_clip):
    body = post_video(client, user, real_clip).get_json()
    assert_error(client.get(f"/api/videos/{body['video_id']}", headers=other_user.headers), 404)
    assert_error(client.post(f"/api/videos/{body['video_id']}/cancel", headers=other_user.headers), 404)
    assert_error(client.get("/api/videos/999999", headers=user.headers), 404)


def test_the_uploaded_video_is_served_back_to_its_owner_only(app, client, user, other_user, real_clip):
    body = post_video(client, user, real_clip, name="holiday.mp4").get_json()
    served = client.get(f"/api/videos/{body['video_id']}/file", headers=user.headers)
    assert served.status_code == 200 and served.data == real_clip
    assert served.mimetype == "video/mp4" and served.headers["Cache-Control"] == "private, no-store"
    assert "holiday.mp4" in served.headers["Content-Disposition"]
    # Players ask for byte ranges.
    part = client.get(f"/api/videos/{body['video_id']}/file", headers={**user.headers, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == real_clip[:10]
    assert_error(client.get(f"/api/videos/{body['video_id']}/file", headers=other_user.headers), 404)
    assert client.get(f"/api/videos/{body['video_id']}/file").status_code == 401
    for stored in Path(app.config["UPLOAD_FOLDER"], "videos").iterdir():
        stored.unlink()
    assert_error(client.get(f"/api/videos/{body['video_id']}/file", headers=user.headers), 404)


def test_delete_video_in_any_state_removes_rows_and_files(app, client, user, other_user, real_clip):
    app.extensions[BACKEND_KEY] = HoldingBackend()
    queued = post_video(client, user, real_clip, query="?async=true").get_json()
    assert_error(client.delete(f"/api/videos/{queued['video_id']}", headers=other_user.headers), 404)
    response = client.delete(f"/api/videos/{queued['video_id']}", headers=user.headers)
    assert response.status_code == 200 and app.extensions[BACKEND_KEY].cancelled == [queued["job_id"]]
    assert_error(client.get(f"/api/videos/{queued['video_id']}", headers=user.headers), 404)
    assert run_video_job(queued["job_id"], app=app) == "missing"

    app.extensions[BACKEND_KEY] = HoldingBackend()
    done = post_video(client, user, real_clip, query="?async=true").get_json()
    assert run_video_job(done["job_id"], app=app) == "completed"
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 1
    assert client.delete(f"/api/videos/{done['video_id']}", headers=user.headers).status_code == 200
    assert client.get("/api/history", headers=user.headers).get_json()["total"] == 0
    assert list(Path(app.config["UPLOAD_FOLDER"], "videos").iterdir()) == []


class BrokenQueue:
    """A job backend whose queue is down (as a Celery broker can be)."""

    def submit(self, job_id: int) -> None:
        raise ConnectionError("broker unreachable")

    def cancel(self, job_id: int) -> None:
        raise ConnectionError("broker unreachable")


def test_a_job_that_cannot_be_queued_fails_instead_of_waiting_for_ever(app, client, user, real_clip):
    app.extensions[BACKEND_KEY] = BrokenQueue()
    body = assert_error(post_video(client, user, real_clip), 503)
    assert "broker" not in body["message"]
    video = client.get(f"/api/videos/{body['video_id']}", headers=user.headers).get_json()["video"]
    assert video["status"] == "failed" and video["message"] == "The job queue is not available"
    # Deleting still works while the queue is down: the database is the source of truth.
    assert client.delete(f"/api/videos/{body['video_id']}", headers=user.headers).status_code == 200
