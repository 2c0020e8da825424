"""Claims, leases and the reaper on PostgreSQL, step by step (no worker: the rows tell the story)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from deepfake_detection.app.engine_ext import get_engine
from deepfake_detection.app.extensions import db
from deepfake_detection.app.jobs.celery_leases import reap_stale_jobs
from deepfake_detection.app.jobs.lifecycle import Claim, claim_job
from deepfake_detection.app.jobs.models import Job
from tests.production.api_client import make_video, new_user, production_app


@pytest.fixture(scope="module")
def api(deployment):
    return production_app(deployment)


@pytest.fixture
def job_id(api, tmp_path):
    """A queued video job stored through the service (not sent to any broker)."""
    from deepfake_detection.app.detection.service import store_video_upload

    client = api.test_client()
    user_id = client.get("/api/auth/me", headers=new_user(client)).get_json()["user"]["id"]
    with api.app_context(), open(make_video(tmp_path, seconds=1), "rb") as stream:
        _, job = store_video_upload(
            session=db.session,
            engine=get_engine(api),
            upload_root=api.config["UPLOAD_FOLDER"],
            user_id=user_id,
            stream=stream,
            original_name="clip.mp4",
            model_key="dima806",
            limit=api.config["MAX_VIDEO_SIZE"],
        )
        db.session.remove()
        return job.id


def age(job_id: int, seconds: int, **values) -> None:
    """Pretend the job's row was last touched ``seconds`` ago."""
    stamp = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    db.session.execute(update(Job).where(Job.id == job_id).values(updated_at=stamp, **values))
    db.session.commit()


def row(job_id: int) -> Job:
    db.session.rollback()
    return db.session.get(Job, job_id, populate_existing=True)


def test_a_fresh_claim_holds_the_job_until_its_lease_runs_out(api, job_id):
    with api.app_context():
        assert claim_job(session=db.session, job_id=job_id, lease_seconds=30, max_attempts=3) is Claim.RUN
        assert claim_job(session=db.session, job_id=job_id, lease_seconds=30, max_attempts=3) is Claim.BUSY
        age(job_id, 60)
        # The first run died before the runner started (and counted) it: the takeover counts it.
        assert claim_job(session=db.session, job_id=job_id, lease_seconds=30, max_attempts=3) is Claim.RUN
        assert row(job_id).attempts == 1 and row(job_id).status == "processing"


def test_the_reaper_requeues_a_lost_job_then_fails_it_when_attempts_are_spent(api, job_id):
    with api.app_context():
        age(job_id, 60, status="processing", attempts=1, started_at=datetime.now(timezone.utc))
        assert reap_stale_jobs(session=db.session, lease_seconds=30, max_attempts=2) == [job_id]
        assert row(job_id).status == "queued" and "queued again" in row(job_id).message

        age(job_id, 60, status="processing", attempts=2, started_at=datetime.now(timezone.utc))
        assert reap_stale_jobs(session=db.session, lease_seconds=30, max_attempts=2) == []
        job = row(job_id)
        assert job.status == "failed" and job.message.startswith("Video detection gave up after 2 attempt(s)")
        assert claim_job(session=db.session, job_id=job_id, lease_seconds=30, max_attempts=2) is Claim.DONE


def test_a_cancelled_job_is_never_claimed(api, job_id):
    with api.app_context():
        db.session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
        db.session.commit()
        assert claim_job(session=db.session, job_id=job_id, lease_seconds=30, max_attempts=3) is Claim.DONE
        assert row(job_id).status == "cancelled"
