"""run_video_job(job_id): the work of a video job, called by every backend."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from flask import Flask, current_app
from sqlalchemy import select, update

from ..extensions import db
from .models import CANCELLED, COMPLETED, FAILED, PROCESSING, TERMINAL_STATUSES, Job
from .service import finish_job
from .hold_point import hold_if_requested

log = logging.getLogger(__name__)
# Progress is written at most this often; the engine may report every frame.
PROGRESS_INTERVAL = 0.5
# How often the cancel flag is read from the database (config JOB_CANCEL_CHECK_SECONDS).
CANCEL_CHECK_INTERVAL = 0.25


def run_video_job(job_id: int, *, app: Flask | None = None) -> str:
    """Analyse the job's video and record the outcome; always leaves the job in a terminal status.

    Each database step is its own short transaction: on SQLite every transaction holds the write
    lock, and the analysis in between can take minutes.
    """
    app = app or current_app._get_current_object()
    with app.app_context():
        try:
            return _run(job_id, app)
        except Exception:
            log.exception("Video job %s crashed", job_id)
            db.session.rollback()
            _finish(job_id, FAILED, "Video detection failed unexpectedly", error_status=500)
            return FAILED
        finally:
            db.session.remove()


def _run(job_id: int, app: Flask) -> str:
    from ...engine import DetectionCancelled, EngineError
    from ..detection.models import Video
    from ..detection.service import api_error_from_engine, complete_video
    from ..engine_ext import get_engine
    from ..storage.service import absolute_path

    session = db.session
    job = session.get(Job, job_id)
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return job.status if job else "missing"
    video = session.get(Video, job.video_id) if job.video_id else None
    if video is None:
        session.rollback()
        _finish(job_id, FAILED, "The video was deleted before it was analysed", error_status=404)
        return FAILED
    if job.cancel_requested:
        session.rollback()
        _finish(job_id, CANCELLED, "Cancelled before it started")
        return CANCELLED
    now = datetime.now(timezone.utc)
    job.status, job.started_at, job.attempts, job.progress = PROCESSING, now, job.attempts + 1, 0
    video.processing_status = PROCESSING
    model_key, video_id = job.model_key, video.id
    upload_root = app.config["UPLOAD_FOLDER"]
    cancel_interval = float(app.config.get("JOB_CANCEL_CHECK_SECONDS", CANCEL_CHECK_INTERVAL))
    path = absolute_path(upload_root=upload_root, relative=video.file_path)
    attempt = job.attempts
    hold_dir = app.config.get("JOB_TEST_HOLD_DIR")
    session.commit()

    last_write = [0.0]
    last_check = [0.0]
    reached_hold_point = [False]

    def progress(done: int, total: int) -> None:
        if not reached_hold_point[0]:
            # Test-only (JOB_TEST_HOLD_DIR): the first report proves the analysis has started.
            reached_hold_point[0] = True
            if hold_if_requested(hold_dir, job_id, attempt=attempt, cancelled=should_cancel):
                raise DetectionCancelled()
        now_mono = time.monotonic()
        if total <= 0 or (now_mono - last_write[0] < PROGRESS_INTERVAL and done < total):
            return
        last_write[0] = now_mono
        # Capped at 99: 100 means the result is stored, which happens below.
        percent = min(99, int(done * 100 / total))
        session.execute(update(Job).where(Job.id == job_id, Job.status == PROCESSING)
                        .values(progress=percent, updated_at=datetime.now(timezone.utc)))
        session.commit()

    def should_cancel() -> bool:
        now_mono = time.monotonic()
        if now_mono - last_check[0] < cancel_interval:
            return False
        last_check[0] = now_mono
        requested = session.execute(select(Job.cancel_requested).where(Job.id == job_id)).scalar()
        session.rollback()
        # A deleted job or video counts as cancelled: nobody is waiting for the result.
        return requested is None or bool(requested)

    try:
        verdict = get_engine(app).detect_video(path, model_key=model_key, progress=progress,
                                               should_cancel=should_cancel)
    except DetectionCancelled:
        session.rollback()
        _finish(job_id, CANCELLED, "Cancelled by the user")
        return CANCELLED
    except EngineError as exc:
        session.rollback()
        error = api_error_from_engine(exc)
        _finish(job_id, FAILED, error.message, error_status=error.status)
        return FAILED

    job = session.get(Job, job_id, populate_existing=True)
    video = session.get(Video, video_id, populate_existing=True)
    if job is None or video is None:
        session.rollback()
        return CANCELLED
    if job.cancel_requested:
        session.rollback()
        _finish(job_id, CANCELLED, "Cancelled by the user")
        return CANCELLED
    complete_video(session=session, upload_root=upload_root, video=video, verdict=verdict)
    job.status, job.progress, job.message = COMPLETED, 100, None
    job.finished_at = datetime.now(timezone.utc)
    session.commit()
    return COMPLETED


def _finish(job_id: int, status: str, message: str | None, *, error_status: int | None = None) -> None:
    """Put a job (and its video) in a terminal status in one short transaction."""
    session = db.session
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        session.rollback()
        return
    finish_job(session=session, job=job, status=status, message=message, error_status=error_status)
    session.commit()
