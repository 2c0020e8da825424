"""Video jobs end to end: API on PostgreSQL -> Redis broker -> real Celery worker processes."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.production.api_client import make_video, new_user, production_app, upload_async, video_status, wait_for_final
from tests.production.services import wait_until


@pytest.fixture(scope="module")
def api(deployment):
    """One API process of the deployment (it shares nothing with the workers but PostgreSQL, Redis and the upload folder)."""
    app = production_app(deployment)
    assert app.config["JOBS_BACKEND"] == "celery"
    return app


@pytest.fixture(scope="module")
def workers(deployment):
    """Two worker processes and beat (the reaper), started once for the module; restarted if a test killed one."""
    running = {}

    def ensure(*names):
        for name in names:
            if name not in running or not running[name].alive():
                running[name] = deployment.start_worker(name)
        return [running[name] for name in names]

    ensure("w1", "w2")
    running["beat"] = deployment.start_beat()
    return ensure


@pytest.fixture(scope="module")
def db_engine(deployment):
    engine = create_engine(deployment.database_url)
    yield engine
    engine.dispose()


def job_row(db_engine, video_id: int) -> dict:
    with db_engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM job WHERE video_id = :v ORDER BY id DESC LIMIT 1"),
                                 {"v": video_id}).mappings().one())


def test_video_job_runs_on_a_worker_end_to_end(api, workers, tmp_path):
    w1, w2 = workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    fake_id = upload_async(client, headers, make_video(tmp_path, seconds=3, fake=True))
    real_id = upload_async(client, headers, make_video(tmp_path, seconds=3, fake=False))

    fake = wait_for_final(client, headers, fake_id)
    real = wait_for_final(client, headers, real_id)

    assert fake["status"] == "completed", fake
    assert fake["progress"] == 100
    assert fake["is_fake"] is True and real["is_fake"] is False
    assert fake["frames_analyzed"] == 3 and len(fake["timeline"]) == 3
    history = client.get("/api/history", headers=headers).get_json()
    assert {item["content_id"] for item in history["history"]} >= {fake_id, real_id}
    # The work happened in the worker processes, not in this (API) process.
    assert (w1.log() + w2.log()).count("deepfake.detect_video[") >= 2


def test_synchronous_request_waits_for_the_worker(api, workers, tmp_path):
    workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    video = make_video(tmp_path, seconds=2, fake=True)
    with open(video, "rb") as handle:
        response = client.post("/api/detect/video", headers=headers, content_type="multipart/form-data",
                               data={"video": (handle, video.name)})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["is_fake"] is True and body["frames_analyzed"] == 2
