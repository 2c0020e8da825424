"""run_video_job(job_id): the work of a video job, called by every backend."""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app

from ..detection.models import Video
from ..detection.service import analyse_stored_video, complete_video, domain_error_from_engine
from ..domain_errors import Cancelled, Internal, NotFound
from ..engine_ext import get_engine
from ..extensions import db
from ..storage.service import absolute_path
from . import lifecycle
from .hold_point import hold_if_requested
from .models import CANCELLED, COMPLETED, FAILED, TERMINAL_STATUSES

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
            lifecycle.fail_job(
                session=db.session,
                job_id=job_id,
                message="Video detection failed unexpectedly",
                error_code=Internal.code,
            )
            return FAILED
        finally:
            db.session.remove()


def _run(job_id: int, app: Flask) -> str:
    session = db.session
    job = lifecycle.locked_job(session=session, job_id=job_id)
    if job is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return job.status if job else "missing"
    video = session.get(Video, job.video_id) if job.video_id else None
    if video is None:
        lifecycle.fail_job(
            session=session,
            job_id=job_id,
            message="The video was deleted before it was analysed",
            error_code=NotFound.code,
        )
        return FAILED
    if job.cancel_requested:
        lifecycle.cancel_job(session=session, job_id=job_id, message=lifecycle.CANCELLED_BEFORE_START_MESSAGE)
        return CANCELLED
    lifecycle.start_job(session=session, job=job, video=video)
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
                raise Cancelled(lifecycle.CANCELLED_MESSAGE)
        now_mono = time.monotonic()
        if total <= 0 or (now_mono - last_write[0] < PROGRESS_INTERVAL and done < total):
            return
        last_write[0] = now_mono
        # Capped at 99: 100 means the result is stored, which happens below.
        lifecycle.report_progress(session=session, job_id=job_id, percent=min(99, int(done * 100 / total)))

    def should_cancel() -> bool:
        now_mono = time.monotonic()
        if now_mono - last_check[0] < cancel_interval:
            return False
        last_check[0] = now_mono
        return lifecycle.cancel_requested(session=session, job_id=job_id)

    try:
        verdict = analyse_stored_video(
            session=session,
            engine=get_engine(app),
            path=path,
            model_key=model_key,
            progress=progress,
            should_cancel=should_cancel,
        )
    except Exception as exc:
        error = domain_error_from_engine(exc)
        if isinstance(error, Cancelled):
            lifecycle.cancel_job(session=session, job_id=job_id)
            return CANCELLED
        if error is None:
            raise  # not an engine error but a bug: run_video_job logs it and fails the job
        lifecycle.fail_job(session=session, job_id=job_id, message=error.message, error_code=error.code)
        return FAILED

    session.rollback()
    job = lifecycle.locked_job(session=session, job_id=job_id)
    video = session.get(Video, video_id, populate_existing=True)
    if job is None or video is None or job.status in TERMINAL_STATUSES:
        session.rollback()
        return job.status if job is not None and video is not None else CANCELLED
    if job.cancel_requested:
        lifecycle.terminate(session=session, job=job, status=CANCELLED, message=lifecycle.CANCELLED_MESSAGE)
        session.commit()
        return CANCELLED
    complete_video(session=session, upload_root=upload_root, video=video, verdict=verdict)
    lifecycle.complete_job(session=session, job=job)
    session.commit()
    return COMPLETED
