"""Job backends: ``submit(job_id)`` and ``cancel(job_id)``; the in-process one runs a thread pool."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from flask import Flask, current_app

BACKEND_KEY = "deepfake_jobs"


class InProcessBackend:
    """Runs jobs on a small thread pool inside the web process (the embedded default)."""

    def __init__(self, app: Flask, *, workers: int) -> None:
        self._app = app
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="deepfake-job")
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        """Queue the job on the pool."""
        from .runner import run_video_job

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
        self._executor.shutdown(wait=True, cancel_futures=True)


def init_app(app: Flask) -> None:
    """Create the configured backend for this app."""
    if BACKEND_KEY in app.extensions:
        return
    kind = app.config["JOBS_BACKEND"]
    if kind == "inprocess":
        app.extensions[BACKEND_KEY] = InProcessBackend(app, workers=app.config["JOB_WORKERS"])
    elif kind == "celery":
        from .celery_backend import CeleryBackend  # added by production mode

        app.extensions[BACKEND_KEY] = CeleryBackend(app)
    else:
        raise ValueError(f"JOBS_BACKEND must be 'inprocess' or 'celery', got {kind!r}")


def get_backend():
    """The job backend of the current app."""
    return current_app.extensions[BACKEND_KEY]
