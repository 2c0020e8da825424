"""Celery tasks: one per video job, and the reaper of jobs whose worker died."""

from __future__ import annotations

import logging
import os

from celery import Celery, shared_task
from celery.exceptions import TimeLimitExceeded
from flask import current_app

from ..extensions import db
from .celery_config import TASK_DETECT_VIDEO, TASK_REAP_STALE_JOBS, job_limits
from .celery_leases import TIME_LIMIT_MESSAGE, reap_lost_queued_jobs, reap_stale_jobs
from .lifecycle import Claim, Heartbeat, claim_job, fail_job
from .runner import run_video_job

log = logging.getLogger(__name__)


def _run_claimed(job_id: int) -> str:
    """Claim the job and run it under a heartbeat; returns its outcome or 'busy'."""
    app = current_app._get_current_object()
    limits = job_limits(app.config)
    try:
        claim = claim_job(
            session=db.session, job_id=job_id, lease_seconds=limits.lease_seconds, max_attempts=limits.max_attempts
        )
    finally:
        db.session.remove()
    if claim is Claim.DONE:
        return "skipped"
    if claim is Claim.BUSY:
        return "busy"
    # Operators (and the tests) find which process ran a job from this line.
    log.info("Job %s claimed by pid %s", job_id, os.getpid())
    with Heartbeat(app=app, job_id=job_id, interval=limits.heartbeat_seconds):
        return run_video_job(job_id, app=app)


def _on_failure(self, exc, task_id, args, kwargs, einfo):
    """Task.on_failure: after the time limit killed the pool process, fail its job clearly.

    Runs in the worker's main process, outside the task body, hence its own app context. A lost
    worker (WorkerLostError) is not handled here: its message is requeued and the lease decides.
    """
    if not isinstance(exc, TimeLimitExceeded):
        return
    app = self.app.flask_app
    with app.app_context():
        limits = job_limits(app.config)
        try:
            fail_job(session=db.session, job_id=args[0], message=TIME_LIMIT_MESSAGE.format(seconds=limits.time_limit))
        finally:
            db.session.remove()


@shared_task(bind=True, name=TASK_DETECT_VIDEO, max_retries=None, on_failure=_on_failure)
def detect_video(self, job_id: int) -> str:
    """Run one video job; when a live worker still holds it, look again after a lease."""
    outcome = _run_claimed(job_id)
    if outcome == "busy":
        raise self.retry(countdown=job_limits(current_app.config).lease_seconds)
    return outcome


def messages_waiting(celery: Celery) -> int | None:
    """Messages waiting in the video queue, as the broker counts them (None when it cannot say)."""
    try:
        with celery.connection_for_read() as connection:
            # Not passive: kombu's Redis transport checks a queue's existence without the global key
            # prefix (and Redis drops an empty list), so a passive declare reports it missing.
            return connection.default_channel.queue_declare(queue=celery.conf.task_default_queue).message_count
    except Exception:
        log.warning("Could not count the messages waiting in the queue", exc_info=True)
        return None


@shared_task(bind=True, name=TASK_REAP_STALE_JOBS)
def reap_stale_jobs_task(self) -> list[int]:
    """Requeue (or fail) jobs whose worker stopped heartbeating, and send lost queued jobs again; run by beat."""
    limits = job_limits(current_app.config)
    waiting = messages_waiting(self.app)
    try:
        # Queued jobs first: the ones requeued below have no message yet and must not count as lost.
        resent = reap_lost_queued_jobs(
            session=db.session, untouched_seconds=limits.queued_resend_seconds, messages_waiting=waiting
        )
        requeued = reap_stale_jobs(
            session=db.session, lease_seconds=limits.lease_seconds, max_attempts=limits.max_attempts
        )
    finally:
        db.session.remove()
    for job_id in requeued:
        log.warning("Job %s lost its worker; queued again", job_id)
        detect_video.delay(job_id)
    for job_id in resent:
        log.warning("Job %s waited %s s with no message in the queue; sent again", job_id, limits.queued_resend_seconds)
        detect_video.delay(job_id)
    return requeued + resent
