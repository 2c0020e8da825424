"""Worker entry point: ``celery -A deepfake_detection.app.jobs.celery_worker worker``.

Builds the Flask app from the environment (same variables as the API: DATABASE_URI, REDIS_URL,
UPLOAD_FOLDER, HF_HOME...) and exposes its Celery app as ``celery``. Each pool process loads the
default model once when it starts, so the first job does not pay for it.

A worker takes no work before it can run it. Celery's main process starts fetching messages as
soon as it logs ``ready.``, while its pool processes may still be loading the model (20-45 s with
real-size models); a message fetched then waits in the main process, and if the worker dies it
stays unacknowledged in Redis until the visibility timeout (half an hour). So the consumer step
``ConsumeWhenPoolIsWarm`` lets the main process fetch a message only while fewer tasks are reserved
than there are pool processes that finished loading (billiard's WORKER_UP message comes after
``worker_process_init``). Until then the messages stay in the queue for any warm worker. This was
chosen over loading the model in the main process before the fork (torch's OpenMP threads, once
used by the parent, can hang in forked children) and over rejecting tasks in cold pool processes
(the message would still sit in the dying main process first).
"""

from __future__ import annotations

import logging
import os
import time
from types import MethodType

from celery import bootsteps
from celery.signals import worker_process_init
from celery.worker import state as worker_state

from .. import create_app
from ..config import ConfigurationError
from ..engine_ext import get_engine
from ..extensions import db
from .celery_app import create_celery

log = logging.getLogger(__name__)

# Test-only: seconds each pool process waits before loading the model, to stand in for the load
# time of real-size models (tests/production/test_queued_recovery.py). Never set it in production.
TEST_PRELOAD_DELAY_VARIABLE = "DEEPFAKE_TEST_PRELOAD_DELAY"

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
        delay = flask_app.config[TEST_PRELOAD_DELAY_VARIABLE]
        if delay > 0:
            log.info(
                "Pool process %s waits %.1f s before loading the model (%s, test only)",
                os.getpid(),
                delay,
                TEST_PRELOAD_DELAY_VARIABLE,
            )
            time.sleep(delay)
        try:
            loaded = engine.warm_up()
        except Exception:  # a missing model fails each job with its clear message instead of the worker
            log.exception("Could not preload the default model; jobs will report the error")
            return
        log.info(
            "Pool process %s loaded model %s in %.1f s", os.getpid(), ", ".join(loaded), time.perf_counter() - started
        )


def warm_pool_processes(pool) -> int:
    """Pool processes that finished starting (model loaded) and are still alive.

    The prefork pool (AsynPool) indexes a process's input queue only once the process has sent
    WORKER_UP, which it does after ``worker_process_init``; other pools count all their processes.
    """
    started = getattr(getattr(pool, "_pool", None), "_fileno_to_inq", None)
    return pool.num_processes if started is None else len(started)


class ConsumeWhenPoolIsWarm(bootsteps.StartStopStep):
    """Consumer step: fetch a task only when a pool process that has loaded the model is free for it."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c) -> None:
        """Wrap the channel's credit check (asked before every fetch) with the warm-process count."""
        qos = c.task_consumer.channel.qos
        has_credit = qos.can_consume

        def can_consume(_qos) -> bool:
            return len(worker_state.reserved_requests) < warm_pool_processes(c.pool) and has_credit()

        qos.can_consume = MethodType(can_consume, qos)


celery.steps["consumer"].add(ConsumeWhenPoolIsWarm)
