"""Worker entry point: ``celery -A deepfake_detection.app.jobs.celery_worker worker``.

Builds the Flask app from the environment (same variables as the API: DATABASE_URI, REDIS_URL,
UPLOAD_FOLDER, HF_HOME...) and exposes its Celery app as ``celery``. Each pool process loads the
default model once when it starts, so the first job does not pay for it.
"""

from __future__ import annotations

import logging
import os
import time

from celery.signals import worker_process_init

from .. import create_app
from ..config import ConfigurationError
from ..engine_ext import get_engine
from ..extensions import db
from .celery_app import create_celery

log = logging.getLogger(__name__)

try:
    flask_app = create_app()
except ConfigurationError as exc:
    # Celery prints a traceback for any exception of the app module; SystemExit passes with one line.
    raise SystemExit(f"Configuration error: {exc}") from None
celery = create_celery(flask_app)


@worker_process_init.connect
def load_model_once(**_kwargs) -> None:
    """In each new pool process: fresh database connections, then the default model and face detector."""
    with flask_app.app_context():
        # Connections inherited from the parent must not be shared across the fork.
        db.engine.dispose(close=False)
        engine = get_engine(flask_app)
        started = time.perf_counter()
        try:
            engine.classifier(None)
            engine.face_detector()
        except Exception:  # a missing model fails each job with its clear message instead of the worker
            log.exception("Could not preload the default model; jobs will report the error")
            return
        log.info("Pool process %s loaded model %s in %.1f s", os.getpid(), engine.default_model_key,
                 time.perf_counter() - started)
