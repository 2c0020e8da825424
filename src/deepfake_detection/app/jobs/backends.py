"""Job backends: ``submit(job_id)`` and ``cancel(job_id)``; the in-process one runs a thread pool."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from ...settings import JobsEnv
from ..extensions import db
from . import sync_waits
from .celery_backend import CeleryBackend
from .lifecycle import touch_jobs
from .runner import run_video_job
from .service import fail_interrupted_jobs

BACKEND_KEY = "deepfake_jobs"
log = logging.getLogger(__name__)
# In-process jobs: how often a live process touches the jobs it holds, and how long a job may stay
# untouched before it counts as left behind by a stopped process (the same settings as Celery's).
DEFAULT_HEARTBEAT_SECONDS = JobsEnv.model_fields["JOB_HEARTBEAT_SECONDS"].default
LEASE_HEARTBEATS = 6


def inprocess_lease(config) -> tuple[float, float]:
    """(heartbeat, lease) seconds of in-process jobs: JOB_HEARTBEAT_SECONDS and JOB_LEASE_SECONDS."""
    heartbeat = float(config.get("JOB_HEARTBEAT_SECONDS") or DEFAULT_HEARTBEAT_SECONDS)
    lease = float(config.get("JOB_LEASE_SECONDS") or heartbeat * LEASE_HEARTBEATS)
    return heartbeat, lease


def recover_interrupted_jobs(app: Flask) -> int:
    """Fail the in-process jobs no live process holds any more (see fail_interrupted_jobs).

    Safe in every process at every start: jobs of live processes are touched and left alone.
    Before the database is migrated (no job table yet) there is nothing to recover: 0.
    """
    _, lease = inprocess_lease(app.config)
    with app.app_context():
        try:
            count = fail_interrupted_jobs(session=db.session, lease_seconds=lease)
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.debug("No interrupted jobs recovered (database not ready: %s)", exc.__class__.__name__)
            return 0
        finally:
            db.session.remove()
    if count:
        log.warning("Marked %d interrupted job(s) as failed", count)
    return count


class InProcessBackend:
    """Runs jobs on a small thread pool inside the web process (the embedded default).

    A heartbeat thread touches every job this process holds (queued on its pool or running) and
    fails jobs untouched for a lease: those of a process that stopped (killed, restarted, a
    `flask run` reload), whatever server runs the app and however many processes share the database.
    """

    def __init__(self, app: Flask, *, workers: int) -> None:
        self._app = app
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="deepfake-job")
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._heartbeat, self._lease = inprocess_lease(app.config)
        self._stop = threading.Event()
        self._beating_pid: int | None = None
        self._beat_thread: threading.Thread | None = None

    def ensure_heartbeat(self) -> None:
        """Start the heartbeat thread in this process, once (again after a fork, which keeps no threads).

        Called on every request and submit, not at create_app: an app that never serves (a CLI
        command, a migration script) starts no thread.
        """
        if self._beating_pid == os.getpid():
            return
        with self._lock:
            if self._beating_pid == os.getpid() or self._stop.is_set():
                return
            self._beating_pid = os.getpid()
            self._beat_thread = threading.Thread(target=self._beat, name="deepfake-job-heartbeat", daemon=True)
            self._beat_thread.start()

    def _beat(self) -> None:
        """Touch this process's jobs, then fail the jobs nobody touches, every heartbeat."""
        while not self._stop.wait(self._heartbeat):
            with self._lock:
                held = [job_id for job_id, future in self._futures.items() if not future.done()]
            with self._app.app_context():
                try:
                    touch_jobs(session=db.session, job_ids=held)
                    fail_interrupted_jobs(session=db.session, lease_seconds=self._lease)
                except SQLAlchemyError:  # a database hiccup (or not migrated yet): the next beat retries
                    db.session.rollback()
                    log.debug("Job heartbeat failed", exc_info=True)
                finally:
                    db.session.remove()

    def submit(self, job_id: int) -> None:
        """Queue the job on the pool."""
        self.ensure_heartbeat()
        future = self._executor.submit(run_video_job, job_id, app=self._app)
        with self._lock:
            self._futures = {k: f for k, f in self._futures.items() if not f.done()}
            self._futures[job_id] = future

    def cancel(self, job_id: int) -> None:
        """Drop a job that has not started; a running one sees cancel_requested and stops itself."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.cancel()

    def wait(self, job_id: int, timeout: float) -> None:
        """Block until the job's thread is done (or timeout)."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            wait_futures([future], timeout=timeout)

    def shutdown(self) -> None:
        """Stop accepting jobs and wait for running ones."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._beat_thread is not None and self._beating_pid == os.getpid():
            self._beat_thread.join(timeout=30)


def init_app(app: Flask) -> None:
    """Create the configured backend (and the bound on synchronous waits) for this app."""
    sync_waits.init_app(app)
    if BACKEND_KEY in app.extensions:
        return
    kind = app.config["JOBS_BACKEND"]
    if kind == "inprocess":
        # In-process jobs die with their process: fail those a stopped one left, at every start.
        recover_interrupted_jobs(app)
        backend = InProcessBackend(app, workers=app.config["JOB_WORKERS"])
        app.extensions[BACKEND_KEY] = backend
        app.before_request(backend.ensure_heartbeat)
    elif kind == "celery":
        app.extensions[BACKEND_KEY] = CeleryBackend(app)
    else:
        raise ValueError(f"JOBS_BACKEND must be 'inprocess' or 'celery', got {kind!r}")


def get_backend():
    """The job backend of the current app."""
    return current_app.extensions[BACKEND_KEY]
