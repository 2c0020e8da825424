"""Job records: create, submit, read, cancel, wait, and recover after a restart (status changes: lifecycle.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..detection.models import Video
from ..domain_errors import Internal, LimitReached, Unavailable
from . import lifecycle
from .models import ACTIVE_STATUSES, CANCELLED, FAILED, QUEUED, TERMINAL_STATUSES, Job

log = logging.getLogger(__name__)
# Seconds a client over its active-job limit is asked to wait: about one short clip's analysis.
ACTIVE_JOBS_RETRY_AFTER = 30


def create_job(*, session: Session, user_id: int, video_id: int, model_key: str | None) -> Job:
    """Add a queued video job to the caller's transaction."""
    job = Job(kind="video", user_id=user_id, video_id=video_id, model_key=model_key, status=QUEUED, progress=0)
    session.add(job)
    session.flush()
    return job


def check_active_job_limit(*, session: Session, user_id: int, limit: int, lock: bool = False) -> None:
    """429 (with Retry-After) when the user already has ``limit`` queued or processing jobs; 0 = no limit.

    With ``lock`` the user's row is locked first (PostgreSQL FOR UPDATE; on SQLite every write
    transaction is already exclusive, see database.py), so concurrent uploads of one user are
    counted one after another and cannot both slip under the limit. The caller's transaction
    then inserts the new job and commits.
    """
    if limit <= 0:
        return
    if lock:
        session.execute(select(User.id).where(User.id == user_id).with_for_update())
    active = session.execute(
        select(func.count(Job.id)).where(Job.user_id == user_id, Job.status.in_(ACTIVE_STATUSES))
    ).scalar_one()
    if active >= limit:
        raise LimitReached(
            f"You already have {active} videos being analysed (the limit is {limit}); "
            "wait for one to finish before uploading another",
            code="active_job_limit",
            retry_after=ACTIVE_JOBS_RETRY_AFTER,
        )


class JobBackend(Protocol):
    """What the services use of a job backend (in-process or Celery)."""

    def submit(self, job_id: int) -> None: ...

    def cancel(self, job_id: int) -> None: ...


def submit(*, session: Session, backend: JobBackend, job_id: int, video_id: int) -> None:
    """Hand a job to the backend; if it cannot be queued, fail it (Unavailable) rather than leave it queued for ever."""
    try:
        backend.submit(job_id)
    except Exception:
        log.exception("Could not queue job %s", job_id)
        lifecycle.fail_job(
            session=session, job_id=job_id, message="The job queue is not available", error_code=Unavailable.code
        )
        raise Unavailable(
            "The job queue is not available; try again later",
            details={"video_id": video_id, "job_id": job_id, "status": FAILED},
        ) from None


def job_for_video(*, session: Session, video_id: int) -> Job | None:
    """The latest job of a video."""
    return session.execute(
        select(Job).where(Job.video_id == video_id).order_by(Job.id.desc()).limit(1)
    ).scalar_one_or_none()


def request_cancel(*, session: Session, job: Job) -> bool:
    """Ask a job to stop; a queued job is cancelled at once. False when it had already finished."""
    session.rollback()
    locked = lifecycle.locked_job(session=session, job_id=job.id)
    if locked is None or locked.status in TERMINAL_STATUSES:
        session.rollback()
        return False
    locked.cancel_requested = True
    if locked.status == QUEUED:
        lifecycle.terminate(
            session=session, job=locked, status=CANCELLED, message=lifecycle.CANCELLED_BEFORE_START_MESSAGE
        )
    session.commit()
    return True


def wait_for_job(
    *, session: Session, job_id: int, timeout: float, waiter: Callable[[int, float], object] | None = None
) -> Job | None:
    """Block until the job reaches a terminal status or ``timeout`` passes; returns the fresh row.

    ``waiter(job_id, timeout)`` (the in-process backend) blocks without polling; other backends
    are polled through the database.
    """
    deadline = time.monotonic() + timeout
    if waiter is not None:
        waiter(job_id, timeout)
    while True:
        # End any open transaction so the read sees the runner's latest commit.
        session.rollback()
        job = session.get(Job, job_id, populate_existing=True)
        if job is None or job.status in TERMINAL_STATUSES or time.monotonic() >= deadline:
            session.rollback()
            return job
        session.rollback()
        time.sleep(0.2)


INTERRUPTED_MESSAGE = "Interrupted: the server stopped or restarted while it ran; upload the video again"


def fail_interrupted_jobs(*, session: Session, lease_seconds: float) -> int:
    """Mark jobs left queued/processing by a stopped process as failed; returns how many.

    The in-process backend touches every job it holds at least every heartbeat (see
    backends.InProcessBackend), so a job untouched for ``lease_seconds`` belongs to no live
    process; the jobs of other live processes sharing the database are left alone.
    """
    now = datetime.now(timezone.utc)
    stale = (Job.status.in_(ACTIVE_STATUSES), Job.updated_at < now - timedelta(seconds=lease_seconds))
    # One statement, so a job touched or finished meanwhile is not caught.
    failed = session.execute(
        update(Job)
        .where(*stale)
        .values(
            status=FAILED,
            message=INTERRUPTED_MESSAGE,
            error_code=Internal.code,
            finished_at=now,
            updated_at=now,
        )
        .returning(Job.id, Job.video_id)
    ).all()
    video_ids = [video_id for _, video_id in failed if video_id is not None]
    if video_ids:
        session.execute(update(Video).where(Video.id.in_(video_ids)).values(processing_status=FAILED))
    session.commit()
    return len(failed)
