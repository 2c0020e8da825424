"""Every environment variable the service reads, declared once: type, default, limits and meaning.

Four groups: ``EngineEnv`` (DEEPFAKE_* engine knobs and HF_*), ``ApiEnv`` (the Flask API), ``JobsEnv``
(job limits, Celery) and ``ServerEnv`` (``deepfake-server``). Each is a pydantic-settings model; values
are validated once, and an invalid one raises ``InvalidSettings`` naming the variable and what it must be.
The README's configuration tables are rendered from these declarations:

    python -m deepfake_detection.settings --markdown           # print the tables
    python -m deepfake_detection.settings --write-readme README.md

This module is plain Python (no Flask): the engine builds its ``EngineSettings`` from ``EngineEnv``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

MB = 1024 * 1024

# The mapping the next model built reads its variables from (os.environ unless a caller gives another).
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("deepfake_settings_environment", default=None)


class InvalidSettings(ValueError):
    """A variable has a value its declaration refuses; the message names it and what it must be."""


def _shown(text: str) -> dict:
    """Field metadata: the default as the README shows it, when the declared one says too little."""
    return {"shown_default": text}


def _flask_key(name: str | None) -> dict:
    """Field metadata: the Flask config key the variable feeds when not its own name (None: none, read apart)."""
    return {"flask_key": name}


class MappingEnvSource(PydanticBaseSettingsSource):
    """The declared variables found in a mapping (os.environ by default), named exactly as declared."""

    def _environment(self) -> Mapping[str, str]:
        env = _ENVIRONMENT.get()
        return os.environ if env is None else env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._environment().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        env = self._environment()
        # Unset and blank are the same: the default applies (as every reader here always did).
        return {
            name: value
            for name in self.settings_cls.model_fields
            if isinstance(value := env.get(name), str) and value.strip()
        }


class DeclaredEnv(BaseSettings):
    """Variables named exactly as declared; unknown ones ignored; blank ones keep the default."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", validate_default=False)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Overrides given to the constructor win over the variables; no .env file of its own
        # (create_app loads .env into the environment first, so it gives exactly what the environment gives).
        return init_settings, MappingEnvSource(settings_cls)

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None, **overrides: Any):
        """The group's values from ``env`` (default os.environ), ``overrides`` winning; InvalidSettings if bad."""
        token = _ENVIRONMENT.set(env)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise InvalidSettings(describe_errors(exc)) from None
        finally:
            _ENVIRONMENT.reset(token)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class EngineEnv(DeclaredEnv):
    """Engine configuration (README "Engine configuration")."""

    HF_HOME: Path | None = Field(
        None,
        description="HuggingFace cache the models are read from and downloaded to (read by huggingface_hub itself too)",
        json_schema_extra=_shown("`~/.cache/huggingface`"),
    )
    HF_HUB_CACHE: Path | None = Field(
        None, description="the hub cache itself, when not `HF_HOME/hub`", json_schema_extra=_shown("`$HF_HOME/hub`")
    )
    DEEPFAKE_MODEL_CACHE: Path | None = Field(None, description="overrides the hub cache directory for the engine")
    HF_HUB_OFFLINE: bool = Field(
        False,
        description="never touch the network; missing models raise"
        " `ModelUnavailableError` (`DEEPFAKE_OFFLINE` does the same)",
    )
    DEEPFAKE_OFFLINE: bool = Field(False, description="same as `HF_HUB_OFFLINE`, for the engine only")
    DEEPFAKE_DEFAULT_MODEL: str = Field("dima806", min_length=1, description="model used when a request names none")
    DEEPFAKE_EXTRA_MODELS: str = Field(
        "",
        description="extra models, JSON list or `key=id_or_path[@revision]` items",
        json_schema_extra=_shown("(none)"),
    )
    DEEPFAKE_ENSEMBLE_MEMBERS: str = Field(
        "",
        description="model keys the `ensemble` combines, comma-separated (empty: every model with cached weights)",
        json_schema_extra=_shown("(every available model)"),
    )
    DEEPFAKE_ROBUSTNESS: bool = Field(
        False, description="robustness self-test (JPEG and rescale variants of each crop) on images by default"
    )
    DEEPFAKE_ENSEMBLE_BAND: str = Field(
        "0.35,0.65",
        description="`low,high`: a combined fake probability within this closed band is `uncertain`"
        " (0 <= low <= 0.5 <= high <= 1)",
    )
    DEEPFAKE_ENSEMBLE_SPREAD: float = Field(
        0.5,
        gt=0,
        le=1,
        description="members on both sides of 0.5 whose probabilities differ by at least this make the verdict"
        " `uncertain`",
    )
    DEEPFAKE_ENSEMBLE_WEIGHTS: str = Field(
        "",
        description="`key=weight` items, comma-separated: each member's weight in the combination"
        " (default 1; 0 = reported, no say)",
        json_schema_extra=_shown("(all 1)"),
    )
    DEEPFAKE_MODEL_REVISIONS: str = Field(
        "", description="`key=revision` pins for any model", json_schema_extra=_shown("(none)")
    )
    DEEPFAKE_DEVICE: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto`, `cpu` or `cuda`")
    DEEPFAKE_PRECISION: Literal["auto", "fp32", "bf16", "bf16-autocast", "fp16", "int8"] = Field(
        "auto",
        description="`auto` = fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16, else fp32; `fp32` forces fp32;"
        " `bf16`, `bf16-autocast`; `int8` (CPU only, opt-in: Linear layers dynamically quantized, faster, a looser"
        ' match with fp32, see "Engine: speed and memory")',
    )
    DEEPFAKE_BACKEND: Literal["auto", "pytorch", "onnxruntime", "openvino"] = Field(
        "auto",
        description="inference runtime; `auto` (with `DEEPFAKE_PRECISION=auto`, on CPU) = OpenVINO static int8, else"
        " ONNX Runtime static int8, else PyTorch, each fast path admitted only by its agreement self-check"
        ' (see "Engine: backends"); `pytorch`, `onnxruntime`, `openvino` force one (falling back to PyTorch fp32)',
    )
    DEEPFAKE_AGREEMENT_MAX_GAP: float = Field(
        0.02,
        gt=0,
        le=1,
        description="largest fake-probability difference against fp32 a fast backend may show on the self-check"
        " images (any differing verdict refuses it too)",
    )
    DEEPFAKE_PREPARED_CACHE: Path | None = Field(
        None,
        description="where prepared fast models (ONNX export, int8, self-check) are kept",
        json_schema_extra=_shown("`<model cache>/deepfake-prepared`"),
    )
    DEEPFAKE_TORCH_THREADS: int = Field(
        0,
        ge=0,
        description="CPU threads for inference (`0`: torch's default)",
        json_schema_extra=_shown("(torch default)"),
    )
    DEEPFAKE_TUNE_ALLOCATOR: bool = Field(
        True,
        description="on CPU, let glibc malloc keep large freed blocks for"
        " reuse (`mallopt`, process-wide) instead of returning every activation to"
        " the OS; `0` leaves malloc alone",
    )
    DEEPFAKE_BATCH_SIZE: int = Field(
        8, ge=1, description="images (faces) per forward pass (int8 always uses 1, see below)"
    )
    DEEPFAKE_BATCH_WINDOW_MS: float = Field(
        5.0,
        ge=0,
        le=1000,
        description="image and camera requests for the same model arriving within this many ms of the first"
        " share one forward pass (up to the model's batch size; results do not depend on the batch);"
        " `0` = every request runs its own pass",
    )
    DEEPFAKE_FACE_DETECTION: bool = Field(True, description="`0` classifies whole images only")
    DEEPFAKE_FACE_ENHANCE: bool = Field(True, description="CLAHE on face crops")
    DEEPFAKE_FACE_MARGIN: float = Field(
        0.25, ge=0, description="margin added around each face (fraction of its size, each side)"
    )
    DEEPFAKE_FACE_MIN_SCORE: float = Field(0.7, ge=0, le=1, description="face detector confidence threshold")
    DEEPFAKE_MAX_FACES: int = Field(8, ge=1, description="faces classified per image or frame (most confident first)")
    DEEPFAKE_MAX_IMAGE_PIXELS: int = Field(
        40_000_000, ge=1, description="larger images are refused (decompression bombs)"
    )
    DEEPFAKE_MAX_VIDEO_PIXELS: int = Field(
        3840 * 2160,
        ge=1,
        description="videos with larger frames (3840x2160 ="
        " 4K UHD) are refused: checked on the size the container declares, before"
        " any frame is decoded, and on every decoded frame",
    )
    DEEPFAKE_WORK_MAX_SIDE: int = Field(
        2048,
        ge=0,
        description="images and video frames with a longer side are"
        " analysed reduced to this long side (JPEGs decoded at 1/2, 1/4 or 1/8 scale,"
        " other formats shrunk right after decoding, video frames scaled while"
        " converted to RGB); width, height and face boxes are still reported in"
        " original pixels; `0` = full size",
    )
    DEEPFAKE_MAX_LARGE_DECODES: int = Field(
        2, ge=1, description="decodes of images over 8.3 megapixels that run at once in a process; further ones wait"
    )
    DEEPFAKE_VIDEO_SAMPLE_FPS: float = Field(
        1.0, gt=0, description="sampled frames per second of video", json_schema_extra=_shown("`1`")
    )
    DEEPFAKE_VIDEO_MAX_FRAMES: int = Field(
        300, ge=1, description="cap on sampled frames; longer videos are sampled evenly"
    )
    DEEPFAKE_VIDEO_PREFETCH: Literal["auto"] | bool = Field(
        "auto",
        description="decode and face-detect the next frames in a background thread while the model runs;"
        " `auto` = only when torch's threads leave a CPU free (on a machine whose CPUs all run torch it competes"
        " instead of overlapping)",
    )
    DEEPFAKE_CAMERA_WINDOW: int = Field(5, ge=1, description="frames in the camera smoothing window")
    DEEPFAKE_CAMERA_HYSTERESIS: float = Field(
        0.05, ge=0, lt=0.5, description="hysteresis around 0.5 for the smoothed camera verdict"
    )
    DEEPFAKE_CAMERA_TTL: int = Field(600, ge=1, description="seconds an idle camera session's smoothing state is kept")

    _lowercase = field_validator(
        "DEEPFAKE_DEVICE", "DEEPFAKE_PRECISION", "DEEPFAKE_BACKEND", "DEEPFAKE_VIDEO_PREFETCH", mode="before"
    )(_lower)

    @field_validator("DEEPFAKE_DEFAULT_MODEL", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("DEEPFAKE_ENSEMBLE_BAND")
    @classmethod
    def _band(cls, value: str) -> str:
        ensemble_band(value)
        return value

    @field_validator("DEEPFAKE_ENSEMBLE_WEIGHTS")
    @classmethod
    def _weights(cls, value: str) -> str:
        ensemble_weights(value)
        return value


def ensemble_band(text: str) -> tuple[float, float]:
    """DEEPFAKE_ENSEMBLE_BAND as (low, high); ValueError unless 0 <= low <= 0.5 <= high <= 1."""
    parts = [p.strip() for p in text.split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        low = high = math.nan
    if not 0.0 <= low <= 0.5 <= high <= 1.0:
        raise ValueError("two numbers low,high with 0 <= low <= 0.5 <= high <= 1 (e.g. 0.35,0.65)")
    return low, high


def ensemble_weights(text: str) -> dict[str, float]:
    """DEEPFAKE_ENSEMBLE_WEIGHTS as {key: weight}; ValueError on a malformed item or a weight that is not >= 0."""
    weights: dict[str, float] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, number = (part.strip() for part in item.partition("="))
        try:
            weight = float(number) if sep and key else math.nan
        except ValueError:
            weight = math.nan
        if not (math.isfinite(weight) and weight >= 0.0):
            raise ValueError("comma-separated key=weight items, each weight a number >= 0 (e.g. dima806=2)")
        weights[key] = weight
    return weights


class ApiEnv(DeclaredEnv):
    """The Flask API (README "API configuration"); the Flask config key is the variable's name unless noted."""

    SECRET_KEY: str | None = Field(
        None,
        description="when unset, a strong random value is generated at first start"
        " and kept (mode 600) in the instance folder, so tokens survive restarts;"
        " **required** in production mode",
        json_schema_extra=_shown("generated"),
    )
    JWT_SECRET_KEY: str | None = Field(
        None, description="the key signing the tokens; like `SECRET_KEY`", json_schema_extra=_shown("generated")
    )
    DEEPFAKE_MODE: Literal["embedded", "production", "development"] = Field(
        "embedded",
        description="`production` refuses to start without explicit secrets and defaults jobs to Celery"
        " (`development` is `embedded`)",
        json_schema_extra=_flask_key(None),
    )
    DEEPFAKE_INSTANCE_PATH: str | None = Field(
        None,
        description="instance folder: database, secrets, uploads. In production mode there is no default:"
        " without it nothing is created in the working directory, and `DATABASE_URI` and `UPLOAD_FOLDER` must be set",
        json_schema_extra={**_shown("`./instance`"), **_flask_key(None)},
    )
    DATABASE_URI: str | None = Field(
        None,
        description="any SQLAlchemy URL (e.g. `postgresql+psycopg://...`)",
        json_schema_extra={
            **_shown("`sqlite:///<instance>/deepfake_detection.db`"),
            **_flask_key("SQLALCHEMY_DATABASE_URI"),
        },
    )
    UPLOAD_FOLDER: str | None = Field(
        None, description="stored media", json_schema_extra=_shown("`<instance>/uploads`")
    )
    MAX_IMAGE_SIZE: int = Field(10 * MB, ge=1, description="upload limit in bytes for images (camera frames too)")
    MAX_VIDEO_SIZE: int = Field(100 * MB, ge=1, description="upload limit in bytes for videos")
    CALIBRATION_MAX_FILES: int = Field(
        2000, ge=1, description="labelled images one calibration upload may hold (real and fake together)"
    )
    CALIBRATION_MAX_UPLOAD_SIZE: int = Field(
        200 * MB, ge=1, description="upload limit in bytes for one calibration upload (each image: `MAX_IMAGE_SIZE`)"
    )
    CORS_ORIGINS: str = Field("http://localhost:5173", description="comma-separated origins allowed on `/api/*`")
    JOBS_BACKEND: Literal["inprocess", "celery"] | None = Field(
        None,
        description="`inprocess` (threads) or `celery`",
        json_schema_extra=_shown("`inprocess`; production: `celery`"),
    )
    JOB_WORKERS: int = Field(1, ge=1, description="threads of the in-process job pool")
    VIDEO_SYNC_TIMEOUT: int = Field(
        900, ge=0, description="seconds a synchronous video request waits before answering 202"
    )
    VIDEO_SYNC_MAX_WAITERS: int | None = Field(
        None,
        ge=0,
        description="synchronous video requests that may wait at once per process; the others get 202 +"
        " `status_url` at once (`0`: all of them). Under gunicorn, set it below `--threads`",
        json_schema_extra=_shown("half of `WAITRESS_THREADS` (`4`)"),
    )
    MAX_ACTIVE_VIDEO_JOBS_PER_USER: int = Field(
        4,
        ge=0,
        description="queued + processing videos per user; beyond it uploads get 429 with `Retry-After` (`0`: no limit)",
    )
    JOB_TEST_HOLD_DIR: str | None = Field(
        None,
        description="**tests only**, never in a deployment: a folder through"
        " which tests hold a running job at a known point (`app/jobs/hold_point.py`)",
    )
    REDIS_URL: str = Field("redis://127.0.0.1:6379/0", description="Redis for production mode")
    REVOKED_TOKEN_STORE: Literal["database", "memory", "redis"] | None = Field(
        None,
        description="where logout revocations live: `database`, `memory` (or `redis`)",
        json_schema_extra=_shown("`database`; production: `redis`"),
    )
    SMOOTHING_STORE: Literal["memory", "redis"] | None = Field(
        None,
        description="where camera smoothing state lives: `memory` or `redis` (shared by every API process)",
        json_schema_extra=_shown("`memory`; production: `redis`"),
    )
    RATELIMIT_LOGIN: str = Field("10 per minute", description="failed login attempts per client address")
    RATELIMIT_REGISTER: str = Field(
        "10 per hour", description="sign-up attempts per client address (400s do not count)"
    )
    LOGIN_THROTTLE_FAILURES: int = Field(
        10,
        ge=1,
        description="per-account throttle: failed logins of one account"
        " within the window before addresses that failed on it must wait",
    )
    LOGIN_THROTTLE_WINDOW: int = Field(900, ge=1, description="that window (s)")
    LOGIN_THROTTLE_DELAY: int = Field(
        1, ge=1, description="that wait (s): doubles with each further failure, up to the maximum"
    )
    LOGIN_THROTTLE_MAX_DELAY: int = Field(900, ge=1, description="the longest wait (s)")
    RATELIMIT_STORAGE_URI: str | None = Field(
        None,
        description="Flask-Limiter storage (`redis://...` to share between processes)",
        json_schema_extra=_shown("`memory://`; production: `REDIS_URL`"),
    )
    RATELIMIT_KEY_PREFIX: str | None = Field(
        None,
        description="key prefix of the rate limits and the login throttle in a shared Redis",
        json_schema_extra=_shown("none"),
    )
    REDIS_KEY_PREFIX: str | None = Field(
        None,
        description="key prefix of the revoked tokens and smoothing state in"
        " Redis (and of the queue, see `CELERY_QUEUE`)",
        json_schema_extra=_shown("`deepfake:`"),
    )
    PROXY_FIX_X_FOR: int = Field(
        0,
        ge=0,
        description="reverse proxies (load balancers) in front of the app whose `X-Forwarded-For` is trusted"
        " (werkzeug `ProxyFix`), so the client address - and the login limit - is the real client's, not the"
        " proxy's. Set exactly the number of hops: more lets clients pick their own address by sending the header,"
        " fewer makes all clients share the proxy's limit. `0` trusts none",
    )
    CAMERA_FRAME_RETENTION_DAYS: int | None = Field(
        None,
        ge=1,
        description="camera frames older than this many days are deleted with their detection and history"
        " item (see above)",
        json_schema_extra=_shown("(unset: keep)"),
    )
    CAMERA_FRAME_PURGE_INTERVAL: int = Field(
        600,
        ge=0,
        description="the camera endpoint's opportunistic purge: at most one batch per interval (s) per process",
    )
    CAMERA_FRAME_PURGE_BATCH: int = Field(100, ge=1, description="frames deleted per purge batch")
    ORPHAN_FILE_GRACE_SECONDS: int = Field(
        3600,
        ge=0,
        description='stored files without a row are swept only when older than this (see "Files left by'
        ' a crash"); `0` only when no other process writes to `UPLOAD_FOLDER`',
    )
    SCHEMA_CHECK_INTERVAL: int = Field(
        5, ge=0, description="while the database schema is behind the code, seconds between checks"
    )
    IDEMPOTENCY_KEY_HOURS: int = Field(24, ge=1, description="how long an `Idempotency-Key` replays its first answer")

    @field_validator("DEEPFAKE_INSTANCE_PATH", "DATABASE_URI", "UPLOAD_FOLDER", "JOB_TEST_HOLD_DIR", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        # Code may pass a Path (create_app's test_config); the Flask config keeps text.
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _join_origins(cls, value: Any) -> Any:
        # Code passes a list (create_app's test_config); the environment a comma-separated string.
        return ",".join(value) if isinstance(value, (list, tuple)) else value

    @field_validator("DEEPFAKE_MODE", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return _lower(value) or "embedded"


class JobsEnv(DeclaredEnv):
    """Job limits and Celery (README "Production mode"); JOB_HEARTBEAT/LEASE apply to in-process jobs too."""

    JOB_TIME_LIMIT: int = Field(
        1800,
        ge=1,
        description="limit (s) per job; the pool process is killed, the job ends `failed`",
    )
    JOB_MAX_ATTEMPTS: int = Field(
        3, ge=1, description="runs of one job (each lost worker counts) before it ends `failed`"
    )
    JOB_HEARTBEAT_SECONDS: float = Field(
        10,
        gt=0,
        description="how often a running job touches its row (in-process jobs too)",
        json_schema_extra=_shown("`10`"),
    )
    JOB_LEASE_SECONDS: float | None = Field(
        None,
        gt=0,
        description="untouched this long = its worker is dead (in-process jobs too: left by a stopped"
        " process, the job ends `failed`)",
        json_schema_extra=_shown("6 heartbeats"),
    )
    JOB_REAPER_INTERVAL: int = Field(60, ge=1, description="seconds between reaper sweeps (celery beat)")
    JOB_VISIBILITY_TIMEOUT: int | None = Field(
        None,
        ge=1,
        description="Redis redelivers an unacknowledged message after this",
        json_schema_extra=_shown("time limit + 300"),
    )
    JOB_QUEUED_RESEND_SECONDS: int | None = Field(
        None,
        ge=1,
        description="a `queued` job untouched this long whose message is not waiting in the queue is sent"
        " again by the reaper",
        json_schema_extra=_shown("2 leases"),
    )
    JOB_WORKER_START_TIMEOUT: int = Field(
        300,
        ge=1,
        description="seconds a new pool process may take to load the"
        " model before Celery kills it (`worker_proc_alive_timeout`)",
    )
    CELERY_BROKER_URL: str | None = Field(None, description="broker", json_schema_extra=_shown("`REDIS_URL`"))
    CELERY_RESULT_BACKEND: str | None = Field(None, description="result store", json_schema_extra=_shown("`REDIS_URL`"))
    CELERY_QUEUE: str | None = Field(
        None,
        description="queue of the video tasks; `<prefix>` is `CELERY_KEY_PREFIX`, else `REDIS_KEY_PREFIX` if"
        " set, else empty, so deployments sharing one Redis never take each other's tasks. Workers consume it without"
        " `--queues`",
        json_schema_extra=_shown("`<prefix>deepfake-videos`"),
    )
    CELERY_KEY_PREFIX: str | None = Field(
        None,
        description="prefix of every Celery key, so several deployments can share one Redis",
        json_schema_extra=_shown("none"),
    )
    DEEPFAKE_TEST_PRELOAD_DELAY: float = Field(
        0,
        ge=0,
        description="**tests only**: seconds each worker pool process"
        " waits before loading the model (stands in for a real-size model)",
    )


class ServerEnv(DeclaredEnv):
    """`deepfake-server` (its command-line options win over these)."""

    HOST: str = Field("127.0.0.1", description="where `deepfake-server` listens (`--host`)")
    PORT: int = Field(5000, ge=1, le=65535, description="its port (`--port`)")
    WAITRESS_THREADS: int = Field(8, ge=1, description="its request threads (`--threads`)")
    WAITRESS_CONNECTION_LIMIT: int = Field(
        1000,
        ge=1,
        description="connections `deepfake-server` holds open at once"
        " (`--connection-limit`); waitress's own default, 100, let 110 trickling"
        " clients take it offline",
    )
    WAITRESS_CHANNEL_TIMEOUT: int = Field(
        60, ge=1, description="seconds an idle keep-alive connection is kept (`--channel-timeout`)"
    )
    WAITRESS_HEADER_TIMEOUT: float = Field(
        20.0,
        gt=0,
        description="a request whose line and headers take longer than"
        " this many seconds is cut off (`--header-timeout`); also the body's grace"
        " time",
        json_schema_extra=_shown("`20`"),
    )
    WAITRESS_MIN_BODY_RATE: int = Field(
        500,
        ge=0,
        description="bytes/s a body must average after that grace time, or"
        " it is cut off (`--min-body-rate`; `0` turns the check off)",
    )
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="`deepfake-server`'s log level (`--log-level`); `INFO` logs one line per request"
    )

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


# README tables: marker name -> the groups rendered between <!-- settings:NAME:start/end -->.
README_TABLES: dict[str, tuple[type[DeclaredEnv], ...]] = {
    "engine": (EngineEnv,),
    "api": (ApiEnv, ServerEnv),
    "jobs": (JobsEnv,),
}
GROUPS: tuple[type[DeclaredEnv], ...] = (EngineEnv, ApiEnv, JobsEnv, ServerEnv)

_WHAT = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_type": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "1 or 0 (or true/false, yes/no, on/off)",
    "bool_type": "1 or 0 (or true/false, yes/no, on/off)",
    "string_type": "text",
    "string_too_short": "non-empty",
    "path_type": "a path",
}


def _what(error: dict) -> str:
    """What the value must be, in words, for one pydantic error."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _WHAT:
        return _WHAT[kind]
    if kind == "greater_than_equal":
        return f"{ctx['ge']:g} or more"
    if kind == "greater_than":
        return f"more than {ctx['gt']:g}"
    if kind == "less_than_equal":
        return f"{ctx['le']:g} or less"
    if kind == "less_than":
        return f"less than {ctx['lt']:g}"
    if kind == "literal_error":
        return f"one of {ctx['expected']}"
    if kind == "value_error":  # our own validators say what the value must be
        return str(ctx["error"])
    return error["msg"][0].lower() + error["msg"][1:]


def describe_errors(exc: ValidationError) -> str:
    """One line naming each refused variable, what it must be and what it was."""
    seen: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        # A union (e.g. auto or a yes/no) reports one error per member: list each requirement once.
        what = _what(error)
        if what not in seen.setdefault(name, []):
            seen[name].append(what)
        values[name] = error.get("input")
    return "; ".join(f"{name} must be {' or '.join(whats)}, got {values[name]!r}" for name, whats in seen.items())


def flask_key(name: str, field: FieldInfo) -> str | None:
    """The Flask config key a declared variable feeds."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get("flask_key", name)


def shown_default(field: FieldInfo) -> str:
    """The default as the README shows it."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown_default" in extra:
        return extra["shown_default"]
    default = field.default
    if default is None:
        return "(unset)"
    if isinstance(default, bool):
        return f"`{int(default)}`"
    return f"`{default}`"


def markdown_table(groups: tuple[type[DeclaredEnv], ...]) -> str:
    """The README table (variable | default | meaning) of the given groups."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for group in groups:
        for name, field in group.model_fields.items():
            lines.append(f"| `{name}` | {shown_default(field)} | {field.description} |")
    return "\n".join(lines)


def _marker_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- settings:{name}:start -->\n).*?(\n<!-- settings:{name}:end -->)", re.DOTALL)


def render_readme(text: str) -> str:
    """``text`` (the README) with every marked settings table regenerated from the declarations."""
    for name, groups in README_TABLES.items():
        pattern = _marker_pattern(name)
        if not pattern.search(text):
            raise InvalidSettings(f"the README has no <!-- settings:{name}:start/end --> markers")
        text = pattern.sub(lambda match, groups=groups: match.group(1) + markdown_table(groups) + match.group(2), text)
    return text


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--markdown", "show", is_flag=True, help="Print each settings table in Markdown.")
@click.option(
    "--write-readme",
    "readme",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Regenerate the marked settings tables of this README in place.",
)
def main(show: bool, readme: Path | None) -> None:
    """Render the declared settings (the README's configuration tables)."""
    if readme is not None:
        readme.write_text(render_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    if show or readme is None:
        for name, groups in README_TABLES.items():
            click.echo(f"<!-- settings:{name} -->\n{markdown_table(groups)}\n")


if __name__ == "__main__":
    main()
