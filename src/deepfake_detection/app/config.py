"""Configuration classes read from the environment (and an optional .env file)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import click
from dotenv import find_dotenv, load_dotenv
from gunicorn.errors import AppImportError

MB = 1024 * 1024


class ConfigurationError(click.ClickException, AppImportError, RuntimeError):
    """Raised when the service cannot start with the configuration it was given.

    Its one-line message is what operators see instead of a traceback: click (`flask ... db upgrade`)
    prints a ClickException as "Error: <message>", and gunicorn prints an AppImportError raised by the app
    factory as the message alone and stops (instead of a traceback per worker boot).
    """


def load_env_file() -> None:
    """Load the .env of the working directory into the environment (variables already set win).

    Called first thing by create_app, before anything reads a setting (the mode, the engine settings),
    so a .env file gives exactly what the environment gives.
    """
    # The .env of the directory the server is started from (not of the installed package).
    load_dotenv(find_dotenv(usecwd=True), override=False)


def _env_int(name: str, default: int) -> int:
    """Read an integer environment variable, failing loudly on garbage."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc


def _env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable as a list."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


class Config:
    """Embedded default: SQLite, in-process jobs, in-memory state."""

    MODE = "embedded"
    SECRET_KEY: str | None = None
    JWT_SECRET_KEY: str | None = None
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(hours=24)
    JWT_TOKEN_LOCATION = ["headers"]
    SQLALCHEMY_DATABASE_URI: str | None = None
    CORS_ORIGINS = ["http://localhost:5173"]
    UPLOAD_FOLDER: str | None = None
    MAX_IMAGE_SIZE = 10 * MB
    MAX_VIDEO_SIZE = 100 * MB
    # Multipart framing around the file; the per-file limits above are what users see.
    UPLOAD_OVERHEAD = 256 * 1024
    JOBS_BACKEND = "inprocess"
    JOB_WORKERS = 1
    VIDEO_SYNC_TIMEOUT = 900
    # Queued + processing video jobs one user may have at once; beyond it uploads get 429. 0 = no limit.
    MAX_ACTIVE_VIDEO_JOBS_PER_USER = 4
    # Synchronous video requests that may wait for their job at once (each holds a server thread);
    # beyond it they get the asynchronous 202 answer. Default: half of WAITRESS_THREADS (8).
    VIDEO_SYNC_MAX_WAITERS = 4
    # TEST-ONLY: a folder through which tests hold a running job at a known point (jobs/hold_point.py).
    # Never set it in a deployment.
    JOB_TEST_HOLD_DIR: str | None = None
    REDIS_URL = "redis://127.0.0.1:6379/0"
    REVOKED_TOKEN_STORE = "database"
    SMOOTHING_STORE = "memory"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_LOGIN = "10 per minute"
    RATELIMIT_REGISTER = "10 per hour"
    # Per-account failed-login throttle (auth/throttle.py): after this many failures of one account in the
    # window, addresses that failed on it wait a delay doubling from LOGIN_THROTTLE_DELAY up to the maximum.
    LOGIN_THROTTLE_FAILURES = 10
    LOGIN_THROTTLE_WINDOW = 900
    LOGIN_THROTTLE_DELAY = 1
    LOGIN_THROTTLE_MAX_DELAY = 900
    RATELIMIT_HEADERS_ENABLED = True
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted; 0 trusts none, since
    # otherwise any client could pick the address the login limiter counts against.
    PROXY_FIX_X_FOR = 0
    CAMERA_DEFAULT_MODEL = "deep-fake-v2"
    # Camera frames older than this many days are deleted (files, detections, history); None keeps them.
    CAMERA_FRAME_RETENTION_DAYS: int | None = None
    # The camera endpoint purges at most one batch per interval per process (see detection/retention.py).
    CAMERA_FRAME_PURGE_INTERVAL = 600
    CAMERA_FRAME_PURGE_BATCH = 100
    # Stored files no row refers to are deleted once older than this (a younger one may belong to a request
    # still committing its row); swept at start and by `sweep-orphan-files` (see detection/retention.py).
    ORPHAN_FILE_GRACE_SECONDS = 3600
    # While the database schema is behind the code, it is looked at again at most this often (seconds).
    SCHEMA_CHECK_INTERVAL = 5
    # An Idempotency-Key of a detection request replays its first answer for this many hours.
    IDEMPOTENCY_KEY_HOURS = 24

    @classmethod
    def from_env(cls) -> dict:
        """Settings taken from environment variables (load_env_file ran first); unset ones keep the default."""
        values: dict = {}
        for name in ("SECRET_KEY", "JWT_SECRET_KEY", "UPLOAD_FOLDER", "REDIS_URL", "JOBS_BACKEND",
                     "REVOKED_TOKEN_STORE", "SMOOTHING_STORE", "RATELIMIT_STORAGE_URI", "RATELIMIT_LOGIN",
                     "RATELIMIT_REGISTER",
                     # production mode: key prefixes so several deployments can share one Redis
                     "REDIS_KEY_PREFIX", "RATELIMIT_KEY_PREFIX", "JOB_TEST_HOLD_DIR"):
            if os.environ.get(name):
                values[name] = os.environ[name]
        if os.environ.get("DATABASE_URI"):
            values["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URI"]
        if os.environ.get("CORS_ORIGINS"):
            values["CORS_ORIGINS"] = _env_list("CORS_ORIGINS", "")
        values["MAX_IMAGE_SIZE"] = _env_int("MAX_IMAGE_SIZE", cls.MAX_IMAGE_SIZE)
        values["MAX_VIDEO_SIZE"] = _env_int("MAX_VIDEO_SIZE", cls.MAX_VIDEO_SIZE)
        values["JOB_WORKERS"] = _env_int("JOB_WORKERS", cls.JOB_WORKERS)
        values["VIDEO_SYNC_TIMEOUT"] = _env_int("VIDEO_SYNC_TIMEOUT", cls.VIDEO_SYNC_TIMEOUT)
        values["MAX_ACTIVE_VIDEO_JOBS_PER_USER"] = _env_int("MAX_ACTIVE_VIDEO_JOBS_PER_USER",
                                                            cls.MAX_ACTIVE_VIDEO_JOBS_PER_USER)
        values["VIDEO_SYNC_MAX_WAITERS"] = _env_int("VIDEO_SYNC_MAX_WAITERS",
                                                    max(1, _env_int("WAITRESS_THREADS", 8) // 2))
        values["PROXY_FIX_X_FOR"] = _env_int("PROXY_FIX_X_FOR", cls.PROXY_FIX_X_FOR)
        for name in ("LOGIN_THROTTLE_FAILURES", "LOGIN_THROTTLE_WINDOW", "LOGIN_THROTTLE_DELAY",
                     "LOGIN_THROTTLE_MAX_DELAY"):
            values[name] = _env_int(name, getattr(cls, name))
        values["CAMERA_FRAME_RETENTION_DAYS"] = _env_int("CAMERA_FRAME_RETENTION_DAYS",
                                                         cls.CAMERA_FRAME_RETENTION_DAYS)
        values["CAMERA_FRAME_PURGE_INTERVAL"] = _env_int("CAMERA_FRAME_PURGE_INTERVAL",
                                                         cls.CAMERA_FRAME_PURGE_INTERVAL)
        values["CAMERA_FRAME_PURGE_BATCH"] = _env_int("CAMERA_FRAME_PURGE_BATCH", cls.CAMERA_FRAME_PURGE_BATCH)
        for name in ("ORPHAN_FILE_GRACE_SECONDS", "SCHEMA_CHECK_INTERVAL", "IDEMPOTENCY_KEY_HOURS"):
            values[name] = _env_int(name, getattr(cls, name))
        return values


class ProductionConfig(Config):
    """Production mode: secrets must be given explicitly (PostgreSQL, Redis, Celery set by env)."""

    MODE = "production"
    JOBS_BACKEND = "celery"
    # Production mode (issue 5): state every API process must agree on lives in Redis (REDIS_URL).
    REVOKED_TOKEN_STORE = "redis"
    SMOOTHING_STORE = "redis"
    RATELIMIT_STORAGE_URI = None  # derived from REDIS_URL by state.limiter_storage_uri


def config_class() -> type[Config]:
    """Pick the configuration class from DEEPFAKE_MODE."""
    mode = os.environ.get("DEEPFAKE_MODE", "embedded").strip().lower()
    if mode == "production":
        return ProductionConfig
    if mode in ("", "embedded", "development"):
        return Config
    raise ConfigurationError(f"DEEPFAKE_MODE must be 'embedded' or 'production', got {mode!r}")


def instance_secret(instance_path: str | Path, name: str) -> str:
    """Return the secret kept in the instance folder, generating a strong one at first use."""
    path = Path(instance_path) / f"{name.lower()}.secret"
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = secrets.token_urlsafe(64)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written owner-only: anyone who reads it can mint tokens.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def finalise_secrets(config: dict, instance_path: str) -> None:
    """Fill SECRET_KEY / JWT_SECRET_KEY from the instance folder, or refuse in production mode."""
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        if config.get(name):
            continue
        if config.get("MODE") == "production":
            raise ConfigurationError(
                f"{name} must be set explicitly in production mode (DEEPFAKE_MODE=production)"
            )
        config[name] = instance_secret(instance_path, name)
