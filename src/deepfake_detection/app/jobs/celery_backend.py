"""The production job backend: video jobs become Celery tasks on the Redis broker."""

from __future__ import annotations

import logging

from flask import Flask

from ..domain_errors import Unavailable
from ..extensions import db
from .celery_app import create_celery
from .celery_config import TASK_DETECT_VIDEO
from .lifecycle import fail_job

log = logging.getLogger(__name__)


class CeleryBackend:
    """``submit``/``cancel`` for jobs run by Celery workers on any machine."""

    def __init__(self, app: Flask) -> None:
        self._celery = create_celery(app)

    def submit(self, job_id: int) -> None:
        """Send the job's task; the committed Job row is all a worker needs (plus the shared upload folder).

        When the broker is unreachable the job ends `failed` instead of waiting forever.
        """
        try:
            self._celery.send_task(
                TASK_DETECT_VIDEO, args=[job_id], retry_policy={"max_retries": 3, "interval_step": 0.5}
            )
        except Exception:
            log.exception("Could not queue job %s", job_id)
            fail_job(
                session=db.session,
                job_id=job_id,
                error_code=Unavailable.code,
                message="The job could not be queued: the job broker is unreachable; try again later",
            )

    def cancel(self, job_id: int) -> None:
        """Nothing to send: ``cancel_requested`` on the row stops a running job and skips a queued one.

        The row is the single source of truth, so a cancel reaches the job wherever it runs and
        survives a redelivery; revoking by task id would only reach workers online right now.
        """
