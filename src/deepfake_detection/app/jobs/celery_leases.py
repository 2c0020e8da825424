"""Recovering Celery jobs whose worker died (claim, heartbeat and termination live in lifecycle.py).

A `processing` job's row is touched (``updated_at``) at least every heartbeat by the process
running it. A row untouched for a whole lease belongs to a dead worker: a redelivered message
may then take it over, and the reaper requeues it (or fails it after ``max_attempts`` runs).

A `queued` job no worker has claimed for long may have lost its message (Redis restarted without
persistence, or a worker died holding it unacknowledged until the visibility timeout): the reaper
sends it again. Duplicates are harmless (the claim locks the row and skips finished and running
jobs), so the reaper only keeps them few: see ``reap_lost_queued_jobs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .lifecycle import CANCELLED_MESSAGE, give_up_lost_job, set_video_status, terminate
from .models import CANCELLED, PROCESSING, QUEUED, Job

TIME_LIMIT_MESSAGE = "Video detection was stopped: it ran longer than the {seconds}-second limit"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def reap_stale_jobs(*, session: Session, lease_seconds: int, max_attempts: int) -> list[int]:
    """Requeue `processing` jobs whose worker stopped touching them; fail those out of attempts.

    Returns the ids put back to `queued`; the caller sends a task for each.
    """
    cutoff = _now() - timedelta(seconds=lease_seconds)
    stale = (
        session.execute(
            select(Job).where(Job.status == PROCESSING, Job.updated_at < cutoff).with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    requeued = []
    for job in stale:
        if job.started_at is None:
            job.attempts += 1  # the lost run died before the runner started (and counted) it
        if job.cancel_requested:
            terminate(session=session, job=job, status=CANCELLED, message=CANCELLED_MESSAGE)
        elif job.attempts >= max_attempts:
            give_up_lost_job(session=session, job=job)
        else:
            job.status, job.progress, job.updated_at = QUEUED, 0, _now()
            job.message = "The worker running this job stopped; it was queued again"
            set_video_status(session=session, job=job, status=QUEUED)
            requeued.append(job.id)
    session.commit()
    return requeued


def reap_lost_queued_jobs(*, session: Session, untouched_seconds: int, messages_waiting: int | None) -> list[int]:
    """`queued` jobs untouched this long whose message the queue cannot account for; the caller sends each again.

    ``messages_waiting`` is the broker's count of messages waiting in the video queue (None when
    unknown). Messages wait in arrival order, so the waiting ones belong to the newest queued
    jobs: only the oldest ``queued jobs - messages waiting`` are sent again, so a long backlog
    does not grow with duplicates. Each one's ``updated_at`` is bumped, so a job is sent again
    at most once per ``untouched_seconds``. A cancelled one is finished here instead.
    """
    unaccounted = None
    if messages_waiting:
        queued = session.scalar(select(func.count()).select_from(Job).where(Job.status == QUEUED))
        unaccounted = queued - messages_waiting
        if unaccounted <= 0:
            session.rollback()
            return []
    cutoff = _now() - timedelta(seconds=untouched_seconds)
    lost = (
        session.execute(
            select(Job)
            .where(Job.status == QUEUED, Job.updated_at < cutoff)
            .order_by(Job.updated_at, Job.id)
            .limit(unaccounted)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    resent = []
    for job in lost:
        if job.cancel_requested:
            terminate(session=session, job=job, status=CANCELLED, message=CANCELLED_MESSAGE)
        else:
            job.updated_at = _now()
            resent.append(job.id)
    session.commit()
    return resent
