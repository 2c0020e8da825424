"""A job whose worker keeps dying, or that cannot be queued, ends `failed` with a clear message."""

from __future__ import annotations

import os
import signal

import pytest

from tests.production.api_client import (
    make_video,
    new_user,
    production_app,
    submit_held,
    upload_async,
    wait_for_final,
)
from tests.production.services import wait_until
from tests.production.test_celery_jobs import claimed_by

# One run per job; beat runs the reaper.
DEPLOYMENT_ENV = {"JOB_MAX_ATTEMPTS": "1"}


@pytest.fixture(scope="module")
def api(deployment):
    return production_app(deployment)


@pytest.fixture(scope="module")
def worker(deployment):
    worker = deployment.start_worker("single-attempt")
    deployment.start_beat()
    return worker


def test_a_job_whose_worker_keeps_dying_ends_failed_with_a_message(api, worker, holds, tmp_path):
    client = api.test_client()
    headers = new_user(client)
    job_id, video_id = submit_held(api, headers, holds, make_video(tmp_path, seconds=3))
    held = holds.wait_held(job_id)  # the runner has started and counted the attempt
    _, pid = wait_until(lambda: claimed_by([worker], job_id), timeout=30, what="the claim")
    assert pid == held.pid and held.attempt == 1

    os.kill(pid, signal.SIGKILL)

    final = wait_for_final(client, headers, video_id, timeout=60)
    assert final["status"] == "failed"
    assert "gave up after 1 attempt" in final["message"]


def test_a_job_that_cannot_be_queued_ends_failed_at_once(deployment, tmp_path):
    # Nothing listens on port 1: the broker is down when the API tries to queue the job.
    api = production_app(deployment, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    client = api.test_client()
    headers = new_user(client)
    video_id = upload_async(client, headers, make_video(tmp_path, seconds=2))

    status = client.get(f"/api/videos/{video_id}", headers=headers).get_json()["video"]

    assert status["status"] == "failed" and "could not be queued" in status["message"]
