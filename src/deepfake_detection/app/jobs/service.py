"""Job records: create, read, cancel, wait, and recover after a restart."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import ApiError
from .models import ACTIVE_STATUSES, CANCELLED, FAILED, QUEUED, TERMINAL_STATUSES, Job

log = logging.getLogger(__name__)


def create_job(*, session: Session, user_id: int, video_id: int, model_key: str | None) -> Job:
    """Add a queued video job to the caller's transaction."""
    job = Job(kind="video", user_id=user_id, video_id=video_id, model_key=model_key, status=QUEUED, progress=0)
    session.add(job)
    session.flush()
    return job


def submit(*, session: Session, backend, job_id: int, video_id: int) -> None:
    """Hand a job to the backend; if it cannot be queued, fail it (503) rather than leave it queued for ever."""
    try:
        backend.submit(job_id)
    except Exception:
        log.exception("Could not queue job %s", job_id)
        fail_job(session=session, job_id=job_id, message="The job queue is not available", error_status=503)
        raise ApiError(503, "The job queue is not available; try again later",
                       extra={"video_id": video_id, "job_id": job_id, "status": FAILED}) from None


def job_for_video(*, session: Session, video_id: int) -> Job | None:
    """The latest job of a video."""
    return session.execute(
        select(Job).where(Job.video_id == video_id).order_by(Job.id.desc()).limit(1)
    ).scalar_one_or_none()


def request_cancel(*, session: Session, job: Job) -> bool:
    """Ask a job to stop; a queued job is cancelled at once. False when it had already finished."""
    if job.status in TERMINAL_STATUSES:
        return False
    job.cancel_requested = True
    if job.status == QUEUED:
        finish_job(session=session, job=job, status=CANCELLED, message="Cancelled before it started")
    session.commit()
    return True


def wait_for_job(*, session: Session, job_id: int, timeout: float, waiter=None) -> Job | None:
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


def fail_job(*, session: Session, job_id: int, message: str, error_status: int = 500) -> None:
    """Put a job that cannot run into the failed status (and its video)."""
    session.rollback()
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return
    finish_job(session=session, job=job, status=FAILED, message=message, error_status=error_status)
    session.commit()


def fail_interrupted_jobs(*, session: Session) -> int:
    """Mark jobs left queued/processing by a stopped process as failed; returns how many."""
    now = datetime.now(timezone.utc)
    ids = list(session.execute(select(Job.id).where(Job.status.in_(ACTIVE_STATUSES))).scalars())
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids)).values(
            status=FAILED, message="Interrupted by a server restart; upload the video again",
            error_status=500, finished_at=now, updated_at=now))
        from ..detection.models import Video

        session.execute(update(Video).where(Video.id.in_(
            select(Job.video_id).where(Job.id.in_(ids)))).values(processing_status=FAILED))
    session.commit()
    return len(ids)


def finish_job(*, session: Session, job: Job, status: str, message: str | None,
               error_status: int | None = None) -> None:
    """Put a job and its video in a terminal status (the caller commits)."""
    job.status, job.message, job.error_status = status, message, error_status
    job.finished_at = datetime.now(timezone.utc)
    set_video_status(session=session, job=job, status=status)


def set_video_status(*, session: Session, job: Job, status: str) -> None:
    """Mirror a job status on its video."""
    from ..detection.models import Video

    if job.video_id is not None:
        session.execute(update(Video).where(Video.id == job.video_id).values(processing_status=status))
