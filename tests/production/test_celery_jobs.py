"""Video jobs end to end: API on PostgreSQL -> Redis broker -> real Celery worker processes."""

from __future__ import annotations

import os
import re
import signal
import threading

import pytest
from sqlalchemy import create_engine, text

from tests.production.api_client import (
    make_video,
    new_user,
    production_app,
    submit_held,
    upload_async,
    video_status,
    wait_for_final,
)
from tests.production.services import wait_until


@pytest.fixture(scope="module")
def api(deployment):
    """One API process of the deployment (sharing only PostgreSQL, Redis and the upload folder with the workers)."""
    # No per-user limit on active jobs: one account uploads 20 videos at once below.
    app = production_app(deployment, MAX_ACTIVE_VIDEO_JOBS_PER_USER=0)
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
        return dict(
            conn.execute(text("SELECT * FROM job WHERE video_id = :v ORDER BY id DESC LIMIT 1"), {"v": video_id})
            .mappings()
            .one()
        )


def test_video_job_runs_on_a_worker_end_to_end(api, workers, tmp_path):
    w1, w2 = workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    fake_id = upload_async(client, headers, make_video(tmp_path, seconds=3, fake=True), model="ensemble")
    real_id = upload_async(client, headers, make_video(tmp_path, seconds=3, fake=False))

    fake = wait_for_final(client, headers, fake_id)
    real = wait_for_final(client, headers, real_id)

    assert fake["status"] == "completed", fake
    assert fake["progress"] == 100
    assert fake["is_fake"] is True and real["is_fake"] is False
    assert fake["frames_analyzed"] == 3 and len(fake["timeline"]) == 3
    # The worker judged the first with every member, frame by frame, and stored the three-way verdict.
    assert fake["model_key"] == "ensemble" and fake["verdict"] == "fake" and len(fake["members"]) == 3
    assert [s["verdict"] for s in fake["segments"]] == ["fake"] and len(fake["timeline"][0]["members"]) == 3
    assert real["verdict"] == "real" and real["segments_text"].startswith("real 0-")
    history = client.get("/api/history", headers=headers).get_json()
    assert {item["content_id"] for item in history["history"]} >= {fake_id, real_id}
    # The work happened in the worker processes, each of which loaded the model once, at its start.
    logs = w1.log() + w2.log()
    for job_id in (fake["job_id"], real["job_id"]):
        pid = re.search(rf"Job {job_id} claimed by pid (\d+)", logs).group(1)
        assert len(re.findall(rf"Pool process {pid} loaded model dima806", logs)) == 1


def test_synchronous_request_waits_for_the_worker(api, workers, tmp_path):
    workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    video = make_video(tmp_path, seconds=2, fake=True)
    with open(video, "rb") as handle:
        response = client.post(
            "/api/detect/video",
            headers=headers,
            content_type="multipart/form-data",
            data={"video": (handle, video.name)},
        )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["is_fake"] is True and body["frames_analyzed"] == 2


def claimed_by(processes, job_id: int, *, attempt_logs_before: int = 0):
    """The worker whose log says it claimed the job, and the pool pid that runs it."""
    pattern = re.compile(rf"Job {job_id} claimed by pid (\d+)")
    for worker in processes:
        pids = pattern.findall(worker.log())
        if len(pids) > attempt_logs_before:
            return worker, int(pids[-1])
    return None


def pool_process_ready(worker, *, other_than: int) -> bool:
    """Whether a pool process other than ``other_than`` has loaded the model in this worker."""
    pids = re.findall(r"Pool process (\d+) loaded model", worker.log())
    return any(int(pid) != other_than for pid in pids) and int(pids[-1]) in worker.pool_pids()


def test_kill_9_of_the_pool_process_mid_job_and_the_job_still_completes(api, workers, db_engine, holds, tmp_path):
    w1, w2 = workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    job_id, video_id = submit_held(api, headers, holds, make_video(tmp_path, seconds=3, fake=True))
    held = holds.wait_held(job_id)  # the runner is provably mid-job, however fast this machine is
    worker, pid = wait_until(lambda: claimed_by([w1, w2], job_id), timeout=30, what="the claiming worker")
    assert pid == held.pid

    os.kill(pid, signal.SIGKILL)
    holds.release(job_id)  # the next attempt runs through

    final = wait_for_final(client, headers, video_id, timeout=120)
    assert final["status"] == "completed", final
    assert final["is_fake"] is True and final["frames_analyzed"] == 3
    row = job_row(db_engine, video_id)
    assert row["attempts"] == 2 and row["progress"] == 100
    assert worker.alive(), "the worker's main process replaces its lost pool process"
    # ...and the replacement, which loads the model before it reports ready however long that takes,
    # is kept (Celery's default 4 s start timeout killed it over and over on a busy machine).
    wait_until(lambda: pool_process_ready(worker, other_than=pid), timeout=120, what="a new pool process")
    assert "Timed out waiting for UP message" not in worker.log()


def test_kill_9_of_a_whole_worker_mid_job_and_another_worker_completes_it(api, workers, db_engine, holds, tmp_path):
    w1, w2 = workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    job_id, video_id = submit_held(api, headers, holds, make_video(tmp_path, seconds=3))
    holds.wait_held(job_id)
    worker, _ = wait_until(lambda: claimed_by([w1, w2], job_id), timeout=30, what="the claiming worker")
    survivor = w2 if worker is w1 else w1

    worker.kill_hard()  # main process and pool process, as if the machine went away
    holds.release(job_id)

    final = wait_for_final(client, headers, video_id, timeout=120)
    assert final["status"] == "completed", final
    assert final["is_fake"] is False and final["frames_analyzed"] == 3
    assert job_row(db_engine, video_id)["attempts"] == 2
    assert claimed_by([survivor], job_id), "the surviving worker finished the job"


def test_twenty_concurrent_jobs_over_two_workers_all_complete_without_lost_rows(
    api, workers, db_engine, holds, tmp_path
):
    w1, w2 = workers("w1", "w2")
    headers = new_user(api.test_client())
    # The first job is held on one worker (concurrency 1, prefetch 1: it takes nothing else meanwhile),
    # so the other worker provably gets work, however fast either of them is.
    first_job, first_video = submit_held(api, headers, holds, make_video(tmp_path, seconds=2, fake=True))
    holds.wait_held(first_job)
    clips = [make_video(tmp_path, seconds=2, fake=i % 2 == 1) for i in range(19)]
    video_ids: list[int] = []
    lock = threading.Lock()

    def upload(chunk):
        client = api.test_client()
        for clip in chunk:
            video_id = upload_async(client, headers, clip)
            with lock:
                video_ids.append(video_id)

    threads = [threading.Thread(target=upload, args=(clips[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(video_ids)) == 19
    client = api.test_client()
    wait_until(
        lambda: any(video_status(client, headers, v)["status"] == "completed" for v in video_ids),
        timeout=120,
        interval=0.2,
        what="a job to complete on the other worker",
    )
    holds.release(first_job)
    video_ids.append(first_video)

    finals = {video_id: wait_for_final(client, headers, video_id, timeout=180) for video_id in video_ids}

    assert all(v["status"] == "completed" for v in finals.values()), finals
    assert sorted(v["is_fake"] for v in finals.values()) == [False] * 10 + [True] * 10
    with db_engine.connect() as conn:
        params = {"ids": video_ids}
        jobs = conn.execute(text("SELECT status, attempts FROM job WHERE video_id = ANY(:ids)"), params).all()
        history = conn.execute(
            text("SELECT count(*) FROM detection_history WHERE detection_type = 'video' AND content_id = ANY(:ids)"),
            params,
        ).scalar()
    assert len(jobs) == 20 and {tuple(j) for j in jobs} == {("completed", 1)}
    assert history == 20
    claimed = {w.name: len([j for j in video_ids if claimed_by([w], job_row(db_engine, j)["id"])]) for w in (w1, w2)}
    assert sum(claimed.values()) == 20 and min(claimed.values()) >= 1, claimed


def test_cancel_reaches_a_job_running_on_a_worker(api, workers, holds, tmp_path):
    workers("w1", "w2")
    client = api.test_client()
    headers = new_user(client)
    job_id, video_id = submit_held(api, headers, holds, make_video(tmp_path, seconds=3))
    holds.wait_held(job_id)  # running on a worker, and it stays running until cancelled

    response = client.post(f"/api/videos/{video_id}/cancel", headers=headers)

    assert response.status_code == 200, response.get_json()
    final = wait_for_final(client, headers, video_id, timeout=60)
    assert final["status"] == "cancelled" and final["progress"] < 100
