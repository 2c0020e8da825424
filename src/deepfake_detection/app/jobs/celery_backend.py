"""The production job backend: video jobs become Celery tasks on the Redis broker."""

from __future__ import annotations

from flask import Flask

from .celery_app import TASK_DETECT_VIDEO, TASK_DETECT_VIDEO_BATCH, create_celery


class CeleryBackend:
    """``submit``/``cancel`` for jobs run by Celery workers on any machine."""

    def __init__(self, app: Flask) -> None:
        self._celery = create_celery(app)

    def submit(self, job_id: int) -> None:
        """Send the job's task; the committed Job row is all a worker needs (plus the shared upload folder)."""
        self._celery.send_task(TASK_DETECT_VIDEO, args=[job_id])

    def submit_batch(self, job_ids: list[int]) -> None:
        """Send several jobs as one task, run one after another by a single worker."""
        if job_ids:
            self._celery.send_task(TASK_DETECT_VIDEO_BATCH, args=[list(job_ids)])

    def cancel(self, job_id: int) -> None:
        """Nothing to send: ``cancel_requested`` on the row stops a running job and skips a queued one.

        The row is the single source of truth, so a cancel reaches the job wherever it runs and
        survives a redelivery; revoking by task id would only reach workers online right now.
        """
