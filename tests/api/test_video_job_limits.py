"""Video jobs may not take over the server: a per-user limit on active jobs, a bound on synchronous
waits, and jobs left by a stopped process ending `failed` when any server starts."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from deepfake_detection.app import create_app
from deepfake_detection.app.extensions import db
from deepfake_detection.app.jobs.backends import BACKEND_KEY
from deepfake_detection.app.jobs.models import Job
from tests.support import media
from tests.support.job_holds import JobHolds

from .helpers import api_config, assert_error, build_app, dispose_app, register_and_login
from .test_video import HoldingBackend

# Bounds on waits that must end long before this (hang detectors, not speed assertions).
DEADLINE = 120


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "short.mp4"
    return media.write_video(path, seconds=2, fps=5, fake=False).read_bytes()


@pytest.fixture
def holds(tmp_path):
    """The runner's test-only hold point (JOB_TEST_HOLD_DIR); whatever is held is let go at the end."""
    holds = JobHolds(tmp_path / "holds")
    yield holds
    holds.release_all()


def post_video(client, user, data: bytes, *, run_async: bool = True):
    return client.post(
        "/api/detect/video" + ("?async=true" if run_async else ""),
        headers=user.headers,
        content_type="multipart/form-data",
        data={"video": (io.BytesIO(data), "clip.mp4")},
    )


def wait_until(predicate, *, what: str, timeout: float = DEADLINE):
    """Poll ``predicate`` until it is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return value


def video_status(client, user, video_id: int) -> dict:
    return client.get(f"/api/videos/{video_id}", headers=user.headers).get_json()["video"]


def stored_videos(app) -> list[Path]:
    return sorted((Path(app.config["UPLOAD_FOLDER"]) / "videos").glob("*"))


def test_uploads_beyond_the_active_job_limit_are_429_with_retry_after(make_app, holds, clip):
    app = make_app(MAX_ACTIVE_VIDEO_JOBS_PER_USER=2, JOB_TEST_HOLD_DIR=str(holds.folder))
    client = app.test_client()
    user, other = register_and_login(client), register_and_login(client)
    holds.hold_all()
    first, second = (post_video(client, user, clip).get_json() for _ in range(2))
    holds.wait_held(first["job_id"])  # one job running (held) and one queued behind it: 2 active
    before = stored_videos(app)

    response = post_video(client, user, clip)

    body = assert_error(response, 429)
    assert body["message"] == (
        "You already have 2 videos being analysed (the limit is 2); wait for one to finish before uploading another"
    )
    assert body["code"] == "active_job_limit"
    assert int(response.headers["Retry-After"]) > 0
    assert stored_videos(app) == before, "nothing is stored for a refused upload"
    assert post_video(client, other, clip).status_code == 202, "another account is not affected"
    # Once the jobs are done, the user may upload again.
    holds.release_all()
    for video_id in (first["video_id"], second["video_id"]):
        wait_until(
            lambda video_id=video_id: video_status(client, user, video_id)["status"] == "completed",
            what=f"video {video_id}",
        )
    assert post_video(client, user, clip).status_code == 202


def test_simultaneous_uploads_of_one_user_cannot_slip_past_the_limit(make_app, holds, clip):
    app = make_app(MAX_ACTIVE_VIDEO_JOBS_PER_USER=2, JOB_TEST_HOLD_DIR=str(holds.folder))
    user = register_and_login(app.test_client())
    holds.hold_all()  # no job finishes during the test

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: post_video(app.test_client(), user, clip).status_code, range(6)))

    assert statuses == [202, 202, 429, 429, 429, 429]
    assert len(stored_videos(app)) == 2


def test_synchronous_requests_beyond_the_waiting_slots_get_202_at_once(make_app, holds, clip):
    app = make_app(VIDEO_SYNC_MAX_WAITERS=1, VIDEO_SYNC_TIMEOUT=600, JOB_TEST_HOLD_DIR=str(holds.folder))
    client = app.test_client()
    user = register_and_login(client)
    holds.hold_all()
    answers: dict[str, object] = {}

    def synchronous_upload(name: str) -> None:
        answers[name] = post_video(app.test_client(), user, clip, run_async=False)

    waiting = threading.Thread(target=synchronous_upload, args=("waiting",), daemon=True)
    waiting.start()
    held_job = wait_until(holds.held_jobs, what="the first job to be held")[0]  # its request holds the slot

    second = threading.Thread(target=synchronous_upload, args=("second",), daemon=True)
    second.start()
    second.join(timeout=DEADLINE)  # the first job is still held: only an immediate answer gets here

    assert not second.is_alive(), "the second synchronous request waited instead of answering 202"
    body = answers["second"].get_json()
    assert answers["second"].status_code == 202, body
    assert body["success"] is True and body["status_url"] == f"/api/videos/{body['video_id']}"
    assert waiting.is_alive(), "the first request still waits for its held job"
    holds.release_all()
    waiting.join(timeout=DEADLINE)
    assert answers["waiting"].status_code == 200 and answers["waiting"].get_json()["job_id"] == held_job
    # The slot is free again.
    wait_until(lambda: video_status(client, user, body["video_id"])["status"] == "completed", what="second job")
    assert post_video(client, user, clip, run_async=False).status_code == 200


def test_any_server_start_fails_jobs_of_a_stopped_process_and_leaves_live_ones_alone(tmp_path, engine, holds, clip):
    # No heartbeat sweep during the test (the live process's own sweep would fail the orphan too):
    # what is checked is the start of the second app.
    config = api_config(
        tmp_path, engine, JOB_TEST_HOLD_DIR=str(holds.folder), JOB_HEARTBEAT_SECONDS=3600, JOB_LEASE_SECONDS=60
    )
    live = build_app(config)  # a running server process
    apps = [live]
    try:
        client = live.test_client()
        user = register_and_login(client)
        # A job a stopped process left `processing` an hour ago (it never touched it since).
        live.extensions[BACKEND_KEY], real_backend = HoldingBackend(), live.extensions[BACKEND_KEY]
        orphan = post_video(client, user, clip).get_json()
        live.extensions[BACKEND_KEY] = real_backend
        with live.app_context():
            db.session.execute(
                db.update(Job)
                .where(Job.id == orphan["job_id"])
                .values(status="processing", updated_at=datetime.now(timezone.utc) - timedelta(hours=1))
            )
            db.session.commit()
        # A job the live process is running right now.
        holds.hold_all()
        running = post_video(client, user, clip).get_json()
        holds.wait_held(running["job_id"])

        apps.append(create_app(config))  # another server starts (flask run, gunicorn...): no deepfake-server

        assert video_status(client, user, orphan["video_id"])["status"] == "failed"
        assert "upload the video again" in video_status(client, user, orphan["video_id"])["message"]
        assert video_status(client, user, running["video_id"])["status"] == "processing"
        holds.release_all()
        wait_until(
            lambda: video_status(client, user, running["video_id"])["status"] == "completed",
            what="the live job to complete",
        )
    finally:
        holds.release_all()
        for app in apps:
            dispose_app(app)


def test_a_running_server_fails_jobs_of_a_process_that_just_stopped_within_a_lease(make_app, holds, clip):
    app = make_app(JOB_TEST_HOLD_DIR=str(holds.folder), JOB_HEARTBEAT_SECONDS=0.2, JOB_LEASE_SECONDS=1)
    client = app.test_client()
    user = register_and_login(client)
    holds.hold_all()
    live = post_video(client, user, clip).get_json()  # this process runs it (held before any progress write)
    holds.wait_held(live["job_id"])
    # A job another process was running when it died just now: too fresh for the start-up check.
    app.extensions[BACKEND_KEY], real_backend = HoldingBackend(), app.extensions[BACKEND_KEY]
    orphan = post_video(client, user, clip).get_json()
    app.extensions[BACKEND_KEY] = real_backend
    with app.app_context():
        db.session.execute(db.update(Job).where(Job.id == orphan["job_id"]).values(status="processing"))
        db.session.commit()

    wait_until(
        lambda: video_status(client, user, orphan["video_id"])["status"] == "failed",
        what="the heartbeat sweep to fail the orphan",
    )

    # The live job is older than the orphan, so only its heartbeat kept it from the same sweep.
    assert video_status(client, user, live["video_id"])["status"] == "processing"
    holds.release_all()
    wait_until(lambda: video_status(client, user, live["video_id"])["status"] == "completed", what="the live job")
