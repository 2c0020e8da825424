"""The app's configuration: the declared settings (deepfake_detection.settings) turned into Flask's config."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from dotenv import find_dotenv, load_dotenv
from gunicorn.errors import AppImportError

from ..settings import ApiEnv, DeclaredEnv, EngineEnv, InvalidSettings, JobsEnv, ServerEnv, flask_key


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


@dataclass(frozen=True)
class DeclaredSettings:
    """Every declared variable, validated once (see deepfake_detection.settings)."""

    api: ApiEnv
    jobs: JobsEnv
    server: ServerEnv
    engine: EngineEnv


def _overrides(group: type[DeclaredEnv], test_config: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``test_config`` (Flask keys) that set this group's variables."""
    return {
        name: test_config[key]
        for name, field in group.model_fields.items()
        if (key := flask_key(name, field)) is not None and key in test_config
    }


def load_settings(test_config: Mapping[str, Any] | None = None) -> DeclaredSettings:
    """Validate every declared variable of the environment (load_env_file ran first), ``test_config`` winning.

    An invalid value raises ConfigurationError naming the variable and what it must be.
    """
    test_config = test_config or {}
    groups: dict[str, DeclaredEnv] = {}
    refused: list[str] = []
    for name, group in (("api", ApiEnv), ("jobs", JobsEnv), ("server", ServerEnv), ("engine", EngineEnv)):
        try:
            groups[name] = group.read(**_overrides(group, test_config))
        except InvalidSettings as exc:
            refused.append(str(exc))  # every bad value in one message, not one per start
    if refused:
        raise ConfigurationError("; ".join(refused))
    return DeclaredSettings(**groups)


def flask_config(settings: DeclaredSettings, cls: type[Config]) -> dict[str, Any]:
    """Flask's config from the declared settings; an unset one takes the mode's default (``cls``) if it has one."""
    values: dict[str, Any] = {}
    for group in (settings.api, settings.jobs):
        for name, field in type(group).model_fields.items():
            key = flask_key(name, field)
            if key is not None:
                value = getattr(group, name)
                values[key] = getattr(cls, key, None) if value is None else value
    values["CORS_ORIGINS"] = [item.strip() for item in settings.api.CORS_ORIGINS.split(",") if item.strip()]
    if values["VIDEO_SYNC_MAX_WAITERS"] is None:
        # Each waiting request holds a server thread: half of them may wait.
        values["VIDEO_SYNC_MAX_WAITERS"] = max(1, settings.server.WAITRESS_THREADS // 2)
    return values


class Config:
    """Embedded default: SQLite, in-process jobs, in-memory state.

    Only what no variable sets, and the defaults that depend on the mode; every variable is declared in
    deepfake_detection.settings.
    """

    MODE = "embedded"
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(hours=24)
    JWT_TOKEN_LOCATION = ["headers"]
    # Multipart framing around the file; the per-file limits (MAX_IMAGE_SIZE...) are what users see.
    UPLOAD_OVERHEAD = 256 * 1024
    JOBS_BACKEND = "inprocess"
    REVOKED_TOKEN_STORE = "database"
    SMOOTHING_STORE = "memory"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    CAMERA_DEFAULT_MODEL = "deep-fake-v2"


class ProductionConfig(Config):
    """Production mode: secrets must be given explicitly (PostgreSQL, Redis, Celery set by env)."""

    MODE = "production"
    JOBS_BACKEND = "celery"
    # Production mode (issue 5): state every API process must agree on lives in Redis (REDIS_URL).
    REVOKED_TOKEN_STORE = "redis"
    SMOOTHING_STORE = "redis"
    RATELIMIT_STORAGE_URI = None  # derived from REDIS_URL by state.limiter_storage_uri


def config_class(mode: str) -> type[Config]:
    """The configuration class of a DEEPFAKE_MODE (already validated: embedded, development or production)."""
    return ProductionConfig if mode == "production" else Config


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
            raise ConfigurationError(f"{name} must be set explicitly in production mode (DEEPFAKE_MODE=production)")
        config[name] = instance_secret(instance_path, name)
