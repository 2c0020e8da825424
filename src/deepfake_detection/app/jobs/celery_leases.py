"""Who runs a job under Celery: claim it, keep proving it is alive, and recover it when its worker dies.

A `processing` job's row is touched (``updated_at``) at least every heartbeat by the process
running it. A row untouched for a whole lease belongs to a dead worker: a redelivered message
may then take it over, and the reaper requeues it (or fails it after ``max_attempts`` runs).

A `queued` job no worker has claimed for long may have lost its message (Redis restarted without
persistence, or a worker died holding it unacknowledged until the visibility timeout): the reaper
sends it again. Duplicates are harmless (the claim locks the row and skips finished and running
jobs), so the reaper only keeps them few: see ``reap_lost_queued_jobs``.
"""

from __future__ import annotations

import enum
import threading
from datetime import datetime, timedelta, timezone

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..extensions import db
from .models import CANCELLED, FAILED, PROCESSING, QUEUED, TERMINAL_STATUSES, Job
from .service import finish_job, set_video_status

WORKER_LOST_MESSAGE = (
    "Video detection gave up after {attempts} attempt(s): the worker running it stopped each time "
    "(killed, out of memory, or its machine went away)"
)
TIME_LIMIT_MESSAGE = "Video detection was stopped: it ran longer than the {seconds}-second limit"


class Claim(enum.Enum):
    """What a task should do with the job it was handed."""

    RUN = "run"  # this task now owns the job
    BUSY = "busy"  # a live process runs it; look again after a lease
    DONE = "done"  # finished, cancelled, deleted, or just failed for too many attempts


def _now() -> datetime:
    return datetime.now(timezone.utc)


def claim_job(*, session: Session, job_id: int, lease_seconds: int, max_attempts: int) -> Claim:
    """Take a job for this process unless a live one holds it; fails it when attempts are spent."""
    job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return Claim.DONE
    now = _now()
    if job.status == PROCESSING and _as_utc(job.updated_at) > now - timedelta(seconds=lease_seconds):
        session.rollback()
        return Claim.BUSY
    if job.cancel_requested:
        _finish(session, job, CANCELLED, "Cancelled by the user")
        return Claim.DONE
    if job.status == PROCESSING and job.started_at is None:
        # Taking over from a run that died between its claim and the runner's start (where the
        # runner counts attempts): count that run here.
        job.attempts += 1
    if job.attempts >= max_attempts:
        _finish(session, job, FAILED, WORKER_LOST_MESSAGE.format(attempts=job.attempts), error_status=500)
        return Claim.DONE
    # Marked ours in the same locked transaction, so a duplicate delivery sees a fresh lease; the
    # runner sets started_at again when it really starts.
    job.status, job.updated_at, job.started_at = PROCESSING, now, None
    session.commit()
    return Claim.RUN


def fail_job(*, session: Session, job_id: int, message: str, error_status: int = 500) -> bool:
    """End a job that is not finished yet as `failed` with a message; False when it had finished."""
    job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return False
    _finish(session, job, FAILED, message, error_status=error_status)
    return True


def job_status(*, session: Session, job_id: int) -> str | None:
    """The job's current status (None when it was deleted)."""
    status = session.execute(select(Job.status).where(Job.id == job_id)).scalar_one_or_none()
    session.rollback()
    return status


def reap_stale_jobs(*, session: Session, lease_seconds: int, max_attempts: int) -> list[int]:
    """Requeue `processing` jobs whose worker stopped touching them; fail those out of attempts.

    Returns the ids put back to `queued`; the caller sends a task for each.
    """
    cutoff = _now() - timedelta(seconds=lease_seconds)
    stale = session.execute(
        select(Job).where(Job.status == PROCESSING, Job.updated_at < cutoff)
        .with_for_update(skip_locked=True)
    ).scalars().all()
    requeued = []
    for job in stale:
        if job.started_at is None:
            job.attempts += 1  # the lost run died before the runner started (and counted) it
        if job.cancel_requested:
            finish_job(session=session, job=job, status=CANCELLED, message="Cancelled by the user")
        elif job.attempts >= max_attempts:
            finish_job(session=session, job=job, status=FAILED,
                       message=WORKER_LOST_MESSAGE.format(attempts=job.attempts), error_status=500)
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
    lost = session.execute(
        select(Job).where(Job.status == QUEUED, Job.updated_at < cutoff)
        .order_by(Job.updated_at, Job.id).limit(unaccounted).with_for_update(skip_locked=True)
    ).scalars().all()
    resent = []
    for job in lost:
        if job.cancel_requested:
            finish_job(session=session, job=job, status=CANCELLED, message="Cancelled by the user")
        else:
            job.updated_at = _now()
            resent.append(job.id)
    session.commit()
    return resent


class Heartbeat:
    """Touches a running job's row every few seconds from a background thread."""

    def __init__(self, *, app: Flask, job_id: int, interval: float):
        self._app, self._job_id, self._interval = app, job_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _beat(self) -> None:
        table = Job.__table__
        with self._app.app_context():
            while not self._stop.wait(self._interval):
                try:
                    # Its own short transaction: the runner's session must not see half of it.
                    with db.engine.begin() as conn:
                        conn.execute(update(table).where(table.c.id == self._job_id, table.c.status == PROCESSING)
                                     .values(updated_at=_now()))
                except Exception:  # a database hiccup must not kill the job; the next beat retries
                    self._app.logger.warning("Heartbeat of job %s failed", self._job_id, exc_info=True)


def _as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _finish(session: Session, job: Job, status: str, message: str, *, error_status: int | None = None) -> None:
    """Terminal status and commit."""
    finish_job(session=session, job=job, status=status, message=message, error_status=error_status)
    session.commit()
