"""A job over the time limit ends `failed` with a clear message."""

from __future__ import annotations

import pytest

from tests.production.api_client import make_video, new_user, production_app, store_jobs, wait_for_final

# A time limit the held jobs below certainly outlast (the hold point keeps them running until the
# limit kills them), and a short clip runs well within, even on a slow shared machine.
TIME_LIMIT = 10
DEPLOYMENT_ENV = {"JOB_TIME_LIMIT": str(TIME_LIMIT)}
LIMIT_MESSAGE = f"Video detection was stopped: it ran longer than the {TIME_LIMIT}-second limit"


@pytest.fixture(scope="module")
def api(deployment):
    return production_app(deployment)


@pytest.fixture(scope="module")
def worker(deployment):
    return deployment.start_worker("strict")


def test_a_job_over_the_time_limit_ends_failed_with_a_message(api, worker, holds, tmp_path):
    from deepfake_detection.app.jobs.backends import get_backend

    client = api.test_client()
    headers = new_user(client)
    (job_id,), (video_id,) = store_jobs(api, headers, [make_video(tmp_path, seconds=3)])
    holds.hold(job_id)  # held mid-run until the time limit kills it
    with api.app_context():
        get_backend().submit(job_id)

    final = wait_for_final(client, headers, video_id, timeout=TIME_LIMIT + 90)

    assert final["status"] == "failed"
    assert final["message"] == LIMIT_MESSAGE
