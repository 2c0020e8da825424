"""One job lifecycle for every backend: claim, start, progress, heartbeat, complete, cancel and fail.

Every step that changes a job's status reads the row under its lock (PostgreSQL FOR UPDATE; on
SQLite every write transaction is exclusive, see database.py) and leaves a finished job alone, so
the runner, a Celery time limit, the reapers and a user's cancel cannot overwrite each other's
terminal status. A failed or cancelled job records a domain error code (app/domain_errors.py),
never an HTTP status.
"""

from __future__ import annotations

import enum
import threading
from datetime import datetime, timedelta, timezone

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..detection.models import Video
from ..domain_errors import Cancelled, Internal
from ..extensions import db
from .models import ACTIVE_STATUSES, CANCELLED, COMPLETED, FAILED, PROCESSING, TERMINAL_STATUSES, Job

WORKER_LOST_MESSAGE = (
    "Video detection gave up after {attempts} attempt(s): the worker running it stopped each time "
    "(killed, out of memory, or its machine went away)"
)
CANCELLED_MESSAGE = "Cancelled by the user"
CANCELLED_BEFORE_START_MESSAGE = "Cancelled before it started"


class Claim(enum.Enum):
    """What a task should do with the job it was handed."""

    RUN = "run"  # this task now owns the job
    BUSY = "busy"  # a live process runs it; look again after a lease
    DONE = "done"  # finished, cancelled, deleted, or just failed for too many attempts


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def locked_job(*, session: Session, job_id: int) -> Job | None:
    """The job's fresh row, locked until the caller's transaction ends (None when it was deleted)."""
    return session.execute(
        select(Job).where(Job.id == job_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def set_video_status(*, session: Session, job: Job, status: str) -> None:
    """Mirror a job status on its video."""
    if job.video_id is not None:
        session.execute(update(Video).where(Video.id == job.video_id).values(processing_status=status))


def terminate(*, session: Session, job: Job, status: str, message: str | None, error_code: str | None = None) -> None:
    """Put a locked (or new) job and its video in a terminal status; the caller commits."""
    if status == CANCELLED and error_code is None:
        error_code = Cancelled.code
    job.status, job.message, job.error_code = status, message, error_code
    job.finished_at = _now()
    set_video_status(session=session, job=job, status=status)


def give_up_lost_job(*, session: Session, job: Job) -> None:
    """Fail a job whose worker stopped on every attempt (the caller holds its row lock and commits)."""
    terminate(
        session=session,
        job=job,
        status=FAILED,
        message=WORKER_LOST_MESSAGE.format(attempts=job.attempts),
        error_code=Internal.code,
    )


def finish_job(
    *, session: Session, job_id: int, status: str, message: str | None, error_code: str | None = None
) -> bool:
    """End a job that is not finished yet, in its own transaction; False when it had finished or is gone."""
    session.rollback()  # a fresh transaction: on SQLite an older read snapshot could not write
    job = locked_job(session=session, job_id=job_id)
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return False
    terminate(session=session, job=job, status=status, message=message, error_code=error_code)
    session.commit()
    return True


def fail_job(*, session: Session, job_id: int, message: str, error_code: str = Internal.code) -> bool:
    """End a job that is not finished yet as `failed` with a message and a domain error code."""
    return finish_job(session=session, job_id=job_id, status=FAILED, message=message, error_code=error_code)


def cancel_job(*, session: Session, job_id: int, message: str = CANCELLED_MESSAGE) -> bool:
    """End a job that is not finished yet as `cancelled`."""
    return finish_job(session=session, job_id=job_id, status=CANCELLED, message=message)


def claim_job(*, session: Session, job_id: int, lease_seconds: float, max_attempts: int) -> Claim:
    """Take a job for this process unless a live one holds it; fails it when attempts are spent (Celery)."""
    job = locked_job(session=session, job_id=job_id)
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return Claim.DONE
    now = _now()
    if job.status == PROCESSING and _as_utc(job.updated_at) > now - timedelta(seconds=lease_seconds):
        session.rollback()
        return Claim.BUSY
    if job.cancel_requested:
        terminate(session=session, job=job, status=CANCELLED, message=CANCELLED_MESSAGE)
        session.commit()
        return Claim.DONE
    if job.status == PROCESSING and job.started_at is None:
        # Taking over from a run that died between its claim and the runner's start (where the
        # runner counts attempts): count that run here.
        job.attempts += 1
    if job.attempts >= max_attempts:
        give_up_lost_job(session=session, job=job)
        session.commit()
        return Claim.DONE
    # Marked ours in the same locked transaction, so a duplicate delivery sees a fresh lease; the
    # runner sets started_at again when it really starts.
    job.status, job.updated_at, job.started_at = PROCESSING, now, None
    session.commit()
    return Claim.RUN


def start_job(*, session: Session, job: Job, video: Video) -> None:
    """Mark a locked job (and its video) as running and count the attempt; the caller commits."""
    job.status, job.started_at, job.attempts, job.progress = PROCESSING, _now(), job.attempts + 1, 0
    video.processing_status = PROCESSING


def complete_job(*, session: Session, job: Job) -> None:
    """Mark a locked job completed, in the transaction that stores its result; the caller commits."""
    job.status, job.progress, job.message, job.error_code = COMPLETED, 100, None, None
    job.finished_at = _now()


def report_progress(*, session: Session, job_id: int, percent: int) -> None:
    """Record a running job's progress (which also proves it is alive) in one short transaction."""
    session.execute(
        update(Job).where(Job.id == job_id, Job.status == PROCESSING).values(progress=percent, updated_at=_now())
    )
    session.commit()


def cancel_requested(*, session: Session, job_id: int) -> bool:
    """Whether the job should stop: asked to, or deleted (nobody is waiting for the result any more)."""
    requested = session.execute(select(Job.cancel_requested).where(Job.id == job_id)).scalar()
    session.rollback()
    return requested is None or bool(requested)


def job_status(*, session: Session, job_id: int) -> str | None:
    """The job's current status (None when it was deleted)."""
    status = session.execute(select(Job.status).where(Job.id == job_id)).scalar_one_or_none()
    session.rollback()
    return status


def touch_jobs(*, session: Session, job_ids: list[int]) -> None:
    """Prove that a live process still holds these active jobs (their ``updated_at`` is the lease)."""
    if job_ids:
        session.execute(
            update(Job).where(Job.id.in_(job_ids), Job.status.in_(ACTIVE_STATUSES)).values(updated_at=_now())
        )
    session.commit()


class Heartbeat:
    """Touches a running job's row every few seconds from a background thread (Celery workers)."""

    def __init__(self, *, app: Flask, job_id: int, interval: float):
        self._app, self._job_id, self._interval = app, job_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _beat(self) -> None:
        table = Job.__table__
        with self._app.app_context():
            while not self._stop.wait(self._interval):
                try:
                    # Its own short transaction: the runner's session must not see half of it.
                    with db.engine.begin() as conn:
                        conn.execute(
                            update(table)
                            .where(table.c.id == self._job_id, table.c.status == PROCESSING)
                            .values(updated_at=_now())
                        )
                except Exception:  # a database hiccup must not kill the job; the next beat retries
                    self._app.logger.warning("Heartbeat of job %s failed", self._job_id, exc_info=True)
