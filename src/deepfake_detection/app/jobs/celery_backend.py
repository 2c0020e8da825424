"""The production job backend: video jobs become Celery tasks on the Redis broker."""

from __future__ import annotations

import logging

from flask import Flask

from ..extensions import db
from .celery_app import TASK_DETECT_VIDEO, TASK_DETECT_VIDEO_BATCH, create_celery
from .celery_leases import fail_job

log = logging.getLogger(__name__)


class CeleryBackend:
    """``submit``/``cancel`` for jobs run by Celery workers on any machine."""

    def __init__(self, app: Flask) -> None:
        self._celery = create_celery(app)

    def submit(self, job_id: int) -> None:
        """Send the job's task; the committed Job row is all a worker needs (plus the shared upload folder)."""
        self._send(TASK_DETECT_VIDEO, [job_id], job_ids=[job_id])

    def submit_batch(self, job_ids: list[int]) -> None:
        """Send several jobs as one task, run one after another by a single worker."""
        if job_ids:
            self._send(TASK_DETECT_VIDEO_BATCH, [list(job_ids)], job_ids=list(job_ids))

    def _send(self, task: str, args: list, *, job_ids: list[int]) -> None:
        """Publish a task; when the broker is unreachable the jobs end `failed` instead of waiting forever."""
        try:
            self._celery.send_task(task, args=args, retry_policy={"max_retries": 3, "interval_step": 0.5})
        except Exception:
            log.exception("Could not queue job(s) %s", job_ids)
            for job_id in job_ids:
                fail_job(session=db.session, job_id=job_id, error_status=503,
                         message="The job could not be queued: the job broker is unreachable; try again later")

    def cancel(self, job_id: int) -> None:
        """Nothing to send: ``cancel_requested`` on the row stops a running job and skips a queued one.

        The row is the single source of truth, so a cancel reaches the job wherever it runs and
        survives a redelivery; revoking by task id would only reach workers online right now.
        """
