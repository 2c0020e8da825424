"""State that production mode moves to Redis, behind small interfaces with embedded implementations.

- camera smoothing: the engine's ``SmoothingStore`` protocol (``load``/``save``)
- revoked tokens: ``RevokedTokenStore`` (``revoke``/``is_revoked``)
- rate-limit counters: a Flask-Limiter storage URI

``init_app`` builds the configured implementations once per app into ``app.extensions``.
"""

from __future__ import annotations

from flask import Flask, current_app

from .interfaces import RevokedTokenStore
from .memory import DatabaseRevokedTokenStore, InMemoryRevokedTokenStore, new_smoothing_store
from .redis_stores import RedisRevokedTokenStore, RedisSmoothingStore
from .redis_stores import limiter_storage_uri as redis_storage_uri

SMOOTHING_KEY = "deepfake_smoothing_store"
REVOKED_KEY = "deepfake_revoked_tokens"


def limiter_storage_uri(config) -> str:
    """Storage URI for Flask-Limiter counters (memory:// embedded, redis:// in production)."""
    if config.get("RATELIMIT_STORAGE_URI"):
        return config["RATELIMIT_STORAGE_URI"]
    if config.get("MODE") == "production":  # production mode: counters shared by all API processes
        return redis_storage_uri(config["REDIS_URL"])
    return "memory://"


def init_app(app: Flask) -> None:
    """Create the state stores for this app, honouring any given in the test config."""
    kind = app.config["REVOKED_TOKEN_STORE"]
    if REVOKED_KEY not in app.extensions:
        if kind == "memory":
            app.extensions[REVOKED_KEY] = InMemoryRevokedTokenStore()
        elif kind == "database":
            app.extensions[REVOKED_KEY] = DatabaseRevokedTokenStore()
        elif kind == "redis":
            app.extensions[REVOKED_KEY] = RedisRevokedTokenStore(
                app.config["REDIS_URL"], prefix=app.config.get("REDIS_KEY_PREFIX") or "deepfake:"
            )
        else:
            raise ValueError(f"REVOKED_TOKEN_STORE must be memory, database or redis, got {kind!r}")
    if SMOOTHING_KEY not in app.extensions:
        if app.config.get("SMOOTHING_STORE") == "redis":
            app.extensions[SMOOTHING_KEY] = RedisSmoothingStore(
                app.config["REDIS_URL"], prefix=app.config.get("REDIS_KEY_PREFIX") or "deepfake:"
            )
        else:
            app.extensions[SMOOTHING_KEY] = new_smoothing_store()


def smoothing_store():
    """The camera smoothing store of the current app."""
    return current_app.extensions[SMOOTHING_KEY]


def revoked_tokens() -> RevokedTokenStore:
    """The revoked-token store of the current app."""
    return current_app.extensions[REVOKED_KEY]
