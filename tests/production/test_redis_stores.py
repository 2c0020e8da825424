"""The Redis state stores against the real Redis: values round-trip and expire when they should."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from deepfake_detection.app.state.redis_stores import RedisRevokedTokenStore, RedisSmoothingStore, limiter_storage_uri
from tests.production.services import REDIS_URL, wait_until


def test_smoothing_state_round_trips_and_expires_after_its_ttl(redis_prefix):
    store = RedisSmoothingStore(REDIS_URL, prefix=redis_prefix)
    state = {"probabilities": [0.2, 0.9], "is_fake": False, "mean": 0.55}

    store.save("user-1:tab-1", state, ttl_seconds=1)

    assert store.load("user-1:tab-1") == state
    assert store.load("user-2:tab-1") is None
    wait_until(lambda: store.load("user-1:tab-1") is None, timeout=5, what="the session to expire")


def test_revoked_token_is_refused_until_it_would_have_expired(redis_prefix):
    store = RedisRevokedTokenStore(REDIS_URL, prefix=redis_prefix)
    now = datetime.now(timezone.utc)

    store.revoke("jti-long", now + timedelta(hours=24))
    store.revoke("jti-short", now + timedelta(seconds=1))
    store.revoke("jti-past", now - timedelta(seconds=5))  # already expired: nothing to remember

    assert store.is_revoked("jti-long") and store.is_revoked("jti-short")
    assert not store.is_revoked("jti-past") and not store.is_revoked("jti-unknown")
    wait_until(lambda: not store.is_revoked("jti-short"), timeout=5, what="the revocation to lapse")
    assert store.is_revoked("jti-long")


def test_another_prefix_sees_nothing(redis_prefix):
    expires_at = datetime.now(timezone.utc) + timedelta(hours=1)
    RedisRevokedTokenStore(REDIS_URL, prefix=redis_prefix).revoke("jti", expires_at)
    assert not RedisRevokedTokenStore(REDIS_URL, prefix=redis_prefix + "other:").is_revoked("jti")


def test_limiter_storage_uri_follows_redis_url():
    assert limiter_storage_uri("redis://cache.internal:6379/2") == "redis://cache.internal:6379/2"
    assert limiter_storage_uri("unix:///run/redis.sock") == "redis+unix:///run/redis.sock"
