"""The reaper's choice of `queued` jobs to send again, on PostgreSQL (no worker: the rows tell the story)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from deepfake_detection.app.extensions import db
from deepfake_detection.app.jobs.celery_leases import reap_lost_queued_jobs
from deepfake_detection.app.jobs.models import Job
from tests.production.api_client import make_video, new_user, production_app, store_jobs


@pytest.fixture(scope="module")
def api(deployment):
    return production_app(deployment)


@pytest.fixture
def queued_jobs(api, tmp_path):
    """Three queued jobs (no message sent), last touched 300, 200 and 100 s ago; cancelled afterwards."""
    headers = new_user(api.test_client())
    job_ids, _ = store_jobs(api, headers, [make_video(tmp_path, seconds=1) for _ in range(3)])
    with api.app_context():
        for job_id, seconds_ago in zip(job_ids, (300, 200, 100)):
            stamp = datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
            db.session.execute(update(Job).where(Job.id == job_id).values(updated_at=stamp))
        db.session.commit()
        yield job_ids
        db.session.execute(update(Job).where(Job.id.in_(job_ids)).values(status="cancelled"))
        db.session.commit()
        db.session.remove()


def resend(*, untouched_seconds: int = 60, messages_waiting: int | None) -> list[int]:
    return reap_lost_queued_jobs(
        session=db.session, untouched_seconds=untouched_seconds, messages_waiting=messages_waiting
    )


def test_only_the_oldest_jobs_the_queue_cannot_account_for_are_sent_again(api, queued_jobs):
    oldest, middle, newest = queued_jobs
    with api.app_context():
        # Two messages wait in the queue: they belong to the two newest jobs.
        assert resend(messages_waiting=2) == [oldest]
        # Its new message waits too now: nothing is left unaccounted for.
        assert resend(messages_waiting=3) == []
        # Sent again means touched: not again before another interval, whatever the broker says.
        assert resend(messages_waiting=None) == [middle, newest]


def test_without_a_count_from_the_broker_every_job_untouched_for_the_interval_is_sent_again(api, queued_jobs):
    oldest, middle, newest = queued_jobs
    with api.app_context():
        assert resend(untouched_seconds=150, messages_waiting=None) == [oldest, middle]
        assert resend(untouched_seconds=50, messages_waiting=0) == [newest]


def test_a_cancelled_queued_job_is_finished_instead_of_sent_again(api, queued_jobs):
    oldest = queued_jobs[0]
    with api.app_context():
        stamp = datetime.now(timezone.utc) - timedelta(seconds=300)  # (any update touches updated_at)
        db.session.execute(update(Job).where(Job.id == oldest).values(cancel_requested=True, updated_at=stamp))
        db.session.commit()
        assert resend(untouched_seconds=250, messages_waiting=None) == []
        assert db.session.get(Job, oldest, populate_existing=True).status == "cancelled"
