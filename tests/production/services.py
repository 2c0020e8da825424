"""Real PostgreSQL, Redis and Celery worker processes for the production-mode tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ci import IN_CI
from tests.support.job_holds import JobHolds

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# A database number of its own; every run also prefixes its keys, so parallel runs never collide.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
WORKER_MODULE = "deepfake_detection.app.jobs.celery_worker"


def service_missing(name: str, exc: Exception):
    """Skip when a service is absent on a developer machine; fail under CI (CI=true)."""
    message = f"{name} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message + " (CI=true: production-mode tests must run)", pytrace=False)
    pytest.skip(message)


def check_postgres() -> None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        service_missing("PostgreSQL", exc)


def check_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        service_missing("Redis", exc)


def create_database(*, template: str | None = None) -> tuple[str, str]:
    """Create a PostgreSQL database (empty, or a copy of ``template``); returns (name, SQLAlchemy URL)."""
    import psycopg

    name = f"deepfake_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_prefix(prefix: str) -> None:
    """Delete every Redis key a test run created under its prefix."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    # Anywhere in the key: the rate limiter puts its own "LIMITS:LIMITER/" in front of the prefix.
    for key in client.scan_iter(match=f"*{prefix}*", count=500):
        client.delete(key)


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (the Celery pool processes of a worker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return children


@dataclass
class ServiceProcess:
    """A worker, beat or API process started by a test, in its own process group."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def pool_pids(self) -> list[int]:
        return child_pids(self.pid)

    def kill_hard(self) -> None:
        """kill -9 the whole worker: main process and pool processes, as when a machine dies."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL what is left of this process group."""
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@dataclass
class Deployment:
    """One production-mode deployment: its database, Redis prefix, shared upload folder and processes."""

    root: Path
    database_url: str
    prefix: str
    extra_env: dict = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def upload_folder(self) -> Path:
        return self.root / "shared-uploads"

    @property
    def holds(self) -> JobHolds:
        """The runner's test-only hold point, shared by the API and every worker of this deployment."""
        return JobHolds(self.root / "holds")

    def settings(self) -> dict:
        """Every setting of this deployment as environment variables (the same for API and workers)."""
        return {
            "DEEPFAKE_MODE": "production",
            "SECRET_KEY": "production-test-secret-key-0123456789abcdef",
            "JWT_SECRET_KEY": "production-test-jwt-secret-0123456789abcdef",
            "DATABASE_URI": self.database_url,
            "REDIS_URL": REDIS_URL,
            "UPLOAD_FOLDER": str(self.upload_folder),
            "CELERY_KEY_PREFIX": self.prefix,
            "REDIS_KEY_PREFIX": self.prefix,
            "RATELIMIT_KEY_PREFIX": self.prefix,
            "RATELIMIT_REGISTER": "1000 per minute",  # every test signs up from 127.0.0.1
            "CELERY_QUEUE": f"{self.prefix}videos",
            "DEEPFAKE_INSTANCE_PATH": str(self.root / "instance"),
            "JOB_HEARTBEAT_SECONDS": "1",
            "JOB_LEASE_SECONDS": "4",
            "JOB_REAPER_INTERVAL": "1",
            "JOB_TIME_LIMIT": "120",
            "JOB_MAX_ATTEMPTS": "3",
            "DEEPFAKE_TORCH_THREADS": "1",
            # Test-only: lets a test hold a job mid-run (jobs are held only when a test asks).
            "JOB_TEST_HOLD_DIR": str(self.root / "holds"),
            **self.extra_env,
        }

    def app_config(self) -> dict:
        """The same settings as a create_app test_config (keys as the Flask config spells them)."""
        env = self.settings()
        config = {k: v for k, v in env.items() if k not in ("DATABASE_URI", "DEEPFAKE_MODE", "DEEPFAKE_INSTANCE_PATH")}
        config.update(
            SQLALCHEMY_DATABASE_URI=env["DATABASE_URI"],
            INSTANCE_PATH=env["DEEPFAKE_INSTANCE_PATH"],
            MODE="production",
            JOBS_BACKEND="celery",
            REVOKED_TOKEN_STORE="redis",
            SMOOTHING_STORE="redis",
            RATELIMIT_STORAGE_URI=REDIS_URL,
        )
        return config

    def _start(self, name: str, args: list[str], *, program: str = "celery", env: dict | None = None) -> ServiceProcess:
        # One log per process started (a restarted worker must not look ready from its old log).
        starts = sum(1 for process in self.processes if process.name == name)
        log_path = self.root / (f"{name}.log" if not starts else f"{name}-{starts + 1}.log")
        # Its own instance folder, as on its own machine: only UPLOAD_FOLDER is shared.
        env = {
            **os.environ,
            **self.settings(),
            "DEEPFAKE_INSTANCE_PATH": str(self.root / f"{name}-instance"),
            **(env or {}),
        }
        command = (
            [sys.executable, "-m", "celery", "-A", WORKER_MODULE, *args]
            if program == "celery"
            else [sys.executable, "-m", program, *args]
        )
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
            )
        handle = ServiceProcess(name=name, process=process, log_path=log_path)
        self.processes.append(handle)
        return handle

    def start_worker(self, name: str, *, concurrency: int = 1, ready_timeout: float = 90) -> ServiceProcess:
        """Start `celery worker` (prefork) and wait until every pool process has loaded the model."""
        worker = self._start(
            name,
            [
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                f"--hostname={name}@%h",
                "--queues",
                self.settings()["CELERY_QUEUE"],
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )

        def ready() -> bool:
            log = worker.log()
            return not worker.alive() or ("ready." in log and log.count(" loaded model ") >= concurrency)

        wait_until(ready, timeout=ready_timeout, what=f"worker {name} to be ready with its model loaded")
        assert worker.alive(), f"worker {name} exited:\n{worker.log()[-4000:]}"
        return worker

    def start_beat(self) -> ServiceProcess:
        """Start `celery beat`, which schedules the reaper of jobs whose worker died."""
        beat = self._start("beat", ["beat", "--loglevel=INFO", "--schedule", str(self.root / "beat-schedule")])
        wait_until(lambda: "beat: Starting" in beat.log() or not beat.alive(), timeout=60, what="beat to start")
        assert beat.alive(), f"beat exited:\n{beat.log()[-4000:]}"
        return beat

    def start_api(self, name: str, *, workers: int = 1, env: dict | None = None) -> tuple[ServiceProcess, str]:
        """Start the API under gunicorn, as the README says; returns the process and its base URL."""
        import socket

        import requests

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        api = self._start(
            name,
            [
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "deepfake_detection.app:create_app()",
            ],
            program="gunicorn",
            env=env,
        )
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert api.alive(), f"gunicorn {name} exited:\n{api.log()[-4000:]}"
            try:
                return requests.get(f"{base}/api/health", timeout=10).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False

        wait_until(healthy, timeout=90, interval=0.2, what=f"API {name} to answer")
        return api, base

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()
