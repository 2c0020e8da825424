"""Redis implementations of the shared state, so every API process on every machine agrees.

Selected by configuration (see ``state.init_app``): camera smoothing windows and revoked
tokens live under one key prefix in the Redis of ``REDIS_URL``; rate-limit counters go to the
same Redis through Flask-Limiter's own ``redis://`` storage (``limiter_storage_uri``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import redis

DEFAULT_PREFIX = "deepfake:"


def redis_client(redis_url: str) -> redis.Redis:
    """A Redis client with short timeouts: a dead Redis must fail a request, not hang it."""
    return redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=5,
        socket_timeout=5,
        health_check_interval=30,
        decode_responses=True,
    )


class RedisSmoothingStore:
    """Camera smoothing state per session key, as JSON with an expiry (the engine's SmoothingStore)."""

    def __init__(self, redis_url: str, *, prefix: str = DEFAULT_PREFIX, client: redis.Redis | None = None):
        self._redis = client or redis_client(redis_url)
        self._prefix = f"{prefix}smoothing:"

    def load(self, key: str) -> dict | None:
        """The saved state of a session, or None when absent or expired."""
        raw = self._redis.get(self._prefix + key)
        return None if raw is None else json.loads(raw)

    def save(self, key: str, state: dict, ttl_seconds: int) -> None:
        """Store the state; Redis drops it after ``ttl_seconds`` without a new frame."""
        self._redis.set(self._prefix + key, json.dumps(state), ex=max(1, int(ttl_seconds)))


class RedisRevokedTokenStore:
    """Revoked JWT ids as keys that expire when the token would have (the RevokedTokenStore protocol)."""

    def __init__(self, redis_url: str, *, prefix: str = DEFAULT_PREFIX, client: redis.Redis | None = None):
        self._redis = client or redis_client(redis_url)
        self._prefix = f"{prefix}revoked:"

    def revoke(self, jti: str, expires_at: datetime) -> None:
        """Remember the id until ``expires_at``; an already expired token needs no entry."""
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=timezone.utc)
        seconds = int((expires_at - datetime.now(timezone.utc)).total_seconds()) + 1
        if seconds > 0:
            self._redis.set(self._prefix + jti, "1", ex=seconds)

    def is_revoked(self, jti: str) -> bool:
        """True when the id was revoked and has not expired yet."""
        return bool(self._redis.exists(self._prefix + jti))


def limiter_storage_uri(redis_url: str) -> str:
    """Flask-Limiter storage URI sharing the counters of every API process through Redis."""
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {redis_url!r}")
    # The limits library spells a Unix socket as redis+unix://.
    return "redis+unix://" + redis_url[len("unix://") :] if redis_url.startswith("unix://") else redis_url
