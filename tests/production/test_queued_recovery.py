"""A queued job is never stuck behind a dead worker: warming workers take no work, lost messages are sent again."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
import redis
from sqlalchemy import create_engine, text

from deepfake_detection.app.jobs.celery_app import create_celery
from deepfake_detection.app.jobs.celery_config import TASK_DETECT_VIDEO
from tests.production.api_client import make_video, new_user, production_app, store_jobs, upload_async, wait_for_final
from tests.production.services import REDIS_URL, wait_until

DEPLOYMENT_ENV = {
    # Redis hands a held message back only after an hour here: recovery must not wait for that.
    "JOB_VISIBILITY_TIMEOUT": "3600",
    # No queue named: it is derived from the key prefix, and the workers below get no --queues.
    "CELERY_QUEUE": "",
}
# Longer than any test here: a worker started with it never gets a warm pool process.
NEVER_WARM = 600


@pytest.fixture(scope="module")
def api(deployment):
    return production_app(deployment)


@pytest.fixture(scope="module")
def celery_app(api):
    """The deployment's Celery app, in this process (to ask workers and read the queue's name)."""
    return create_celery(api)


@pytest.fixture(scope="module")
def db_engine(deployment):
    engine = create_engine(deployment.database_url)
    yield engine
    engine.dispose()


def start_worker(deployment, name: str, *, preload_delay: float = 0, warm: bool = True):
    """`celery worker` as the README starts it (no --queues); waits for `ready.` and, if ``warm``, the model."""
    worker = deployment._start(
        name,
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--hostname={name}@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env={"DEEPFAKE_TEST_PRELOAD_DELAY": str(preload_delay)},
    )

    def ready() -> bool:
        log = worker.log()
        return not worker.alive() or ("ready." in log and (not warm or " loaded model " in log))

    wait_until(ready, timeout=120, what=f"worker {name} to be ready")
    assert worker.alive(), f"worker {name} exited:\n{worker.log()[-4000:]}"
    return worker


def running(deployment, name: str, start):
    """The deployment's live process of that name, started with ``start()`` when there is none."""
    return next((p for p in deployment.processes if p.name == name and p.alive()), None) or start()


def answers_ping(celery_app, name: str) -> bool:
    """The worker's main process answered a control command (from the loop that also fetches tasks)."""
    replies = celery_app.control.ping(timeout=1.0)
    return any(host.startswith(f"{name}@") for reply in replies for host in reply)


def video_tasks_waiting(deployment, celery_app) -> int:
    """Video task messages waiting in the deployment's queue in Redis (its key carries the global prefix)."""
    client = redis.Redis.from_url(REDIS_URL)
    messages = client.lrange(deployment.prefix + celery_app.conf.task_default_queue, 0, -1)
    return sum(1 for message in messages if json.loads(message)["headers"]["task"] == TASK_DETECT_VIDEO)


def job_of(db_engine, video_id: int) -> dict:
    with db_engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM job WHERE video_id = :v"), {"v": video_id}).mappings().one())


def test_a_worker_killed_while_loading_the_model_leaves_its_job_to_another_worker(
    api, celery_app, deployment, db_engine, tmp_path
):
    cold = start_worker(deployment, "cold", preload_delay=NEVER_WARM, warm=False)
    client = api.test_client()
    headers = new_user(client)
    video_id = upload_async(client, headers, make_video(tmp_path, seconds=2, fake=True))
    # Two control round trips after the job was sent: the cold worker's event loop has had every
    # chance to fetch its message by then.
    for _ in range(2):
        wait_until(lambda: answers_ping(celery_app, "cold"), timeout=30, what="the cold worker to answer")
    waiting_when_killed = video_tasks_waiting(deployment, celery_app)
    # The reaper (beat) from now on, as in production; not earlier: the cold worker would then have
    # fetched one of its tasks instead of the job.
    running(deployment, "beat", deployment.start_beat)

    cold.kill_hard()  # during the warm-up: out of memory, a crash loop, a deploy
    warm = start_worker(deployment, "warm")

    final = wait_for_final(client, headers, video_id, timeout=90)
    assert final["status"] == "completed" and final["is_fake"] is True, final
    assert waiting_when_killed == 1, "the cold worker took the job before it could run it"
    assert job_of(db_engine, video_id)["attempts"] == 1
    assert f"Job {final['job_id']} claimed" in warm.log()
    assert celery_app.conf.task_default_queue == f"{deployment.prefix}deepfake-videos"


def test_a_queued_job_whose_message_was_lost_is_sent_again_by_the_reaper(api, deployment, db_engine, tmp_path):
    running(deployment, "beat", deployment.start_beat)
    worker = running(deployment, "warm", lambda: start_worker(deployment, "warm"))
    client = api.test_client()
    headers = new_user(client)
    # Stored and committed as `queued`, but its message never reaches Redis (as after a Redis restart
    # without persistence, or a worker that died between fetching a message and recording it).
    (job_id,), (video_id,) = store_jobs(api, headers, [make_video(tmp_path, seconds=2, fake=False)])

    # JOB_QUEUED_RESEND_SECONDS is 2 leases (8 s here), plus at most one reaper interval (1 s).
    final = wait_for_final(client, headers, video_id, timeout=60)

    assert final["status"] == "completed" and final["is_fake"] is False, final
    row = job_of(db_engine, video_id)
    assert row["attempts"] == 1
    assert len(re.findall(rf"Job {job_id} claimed by pid", worker.log())) == 1


def test_a_pool_process_replaced_after_a_crash_may_take_longer_than_4_s_to_load(deployment):
    # Celery kills a new pool process that has not reported within worker_proc_alive_timeout (4 s by
    # default); with a slow model load every replacement would be killed in turn.
    worker = start_worker(deployment, "slow-start", preload_delay=6)
    (pool_pid,) = worker.pool_pids()

    os.kill(pool_pid, signal.SIGKILL)

    wait_until(
        lambda: worker.log().count(" loaded model ") >= 2 or "Timed out waiting for UP" in worker.log(),
        timeout=120,
        what="the replacement pool process to load the model",
    )
    assert "Timed out waiting for UP" not in worker.log(), worker.log()[-3000:]
    assert worker.alive()
