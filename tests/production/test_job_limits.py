"""A job over the time limit ends `failed` with a clear message."""

from __future__ import annotations

import pytest

from tests.production.api_client import make_video, new_user, production_app, store_jobs, upload_async, wait_for_final

# A 2 s limit, and long videos sampled in full (1600 frames take this engine 5 s or more here).
DEPLOYMENT_ENV = {"JOB_TIME_LIMIT": "2", "DEEPFAKE_VIDEO_MAX_FRAMES": "2000"}


@pytest.fixture(scope="module")
def api(deployment):
    return production_app(deployment)


@pytest.fixture(scope="module")
def worker(deployment):
    return deployment.start_worker("strict")


def test_a_job_over_the_time_limit_ends_failed_with_a_message(api, worker, tmp_path):
    client = api.test_client()
    headers = new_user(client)
    # 1600 sampled frames: several times the 2 s limit even for the tiny model.
    video_id = upload_async(client, headers, make_video(tmp_path, seconds=800, fps=2, size=(640, 360)))

    final = wait_for_final(client, headers, video_id, timeout=60)

    assert final["status"] == "failed"
    assert final["message"] == "Video detection was stopped: it ran longer than the 2-second limit"



def test_a_batch_over_the_time_limit_fails_the_running_job_and_requeues_the_rest(api, worker, tmp_path):
    from deepfake_detection.app.jobs.backends import get_backend

    client = api.test_client()
    headers = new_user(client)
    long_clip = make_video(tmp_path, seconds=800, fps=2, size=(640, 360))
    job_ids, video_ids = store_jobs(api, headers, [long_clip, make_video(tmp_path, seconds=2, fake=True)])
    with api.app_context():
        get_backend().submit_batch(job_ids)

    long_job, short_job = (wait_for_final(client, headers, video_id) for video_id in video_ids)

    assert long_job["status"] == "failed" and "2-second limit" in long_job["message"]
    assert short_job["status"] == "completed" and short_job["is_fake"] is True
