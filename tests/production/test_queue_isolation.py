"""Deployments sharing one Redis never take each other's tasks: the queue is named after the key prefix."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from deepfake_detection.app.jobs.celery_config import TASK_DETECT_VIDEO, celery_settings, video_queue
from deepfake_detection.app.jobs.celery_tasks import messages_waiting
from tests.production import services

PREFIX_SETTINGS = ("CELERY_QUEUE", "CELERY_KEY_PREFIX", "REDIS_KEY_PREFIX")


@pytest.fixture(autouse=True)
def no_prefix_in_the_environment(monkeypatch):
    """The settings are read from the config, else the environment: only the config counts here."""
    for name in PREFIX_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def celery_for(config: dict) -> Celery:
    app = Celery(f"deployment-{uuid.uuid4().hex[:6]}", set_as_current=False)
    app.conf.update(celery_settings(config))
    return app


def routed_queue(app: Celery) -> str:
    return app.amqp.router.route({}, TASK_DETECT_VIDEO)["queue"].name


def test_the_queue_is_named_after_the_deployments_key_prefix():
    assert video_queue({}) == "deepfake-videos"
    assert video_queue({"CELERY_KEY_PREFIX": "site-a:"}) == "site-a:deepfake-videos"
    assert video_queue({"REDIS_KEY_PREFIX": "site-b:"}) == "site-b:deepfake-videos"
    assert video_queue({"CELERY_KEY_PREFIX": "c:", "REDIS_KEY_PREFIX": "r:"}) == "c:deepfake-videos"
    assert video_queue({"CELERY_QUEUE": "mine", "CELERY_KEY_PREFIX": "site-a:"}) == "mine"


def test_two_deployments_with_different_prefixes_route_to_different_queues():
    site_a = celery_for({"REDIS_URL": services.REDIS_URL, "CELERY_KEY_PREFIX": "site-a:"})
    site_b = celery_for({"REDIS_URL": services.REDIS_URL, "CELERY_KEY_PREFIX": "site-b:"})

    assert routed_queue(site_a) == "site-a:deepfake-videos"
    assert routed_queue(site_b) == "site-b:deepfake-videos"


@pytest.fixture
def two_prefixes(redis_service):
    prefixes = [f"dftest-{uuid.uuid4().hex[:10]}:" for _ in range(2)]
    yield prefixes
    for prefix in prefixes:
        services.flush_prefix(prefix)


def test_deployments_told_apart_only_by_redis_key_prefix_do_not_share_tasks(two_prefixes):
    # The trap: REDIS_KEY_PREFIX set per deployment, CELERY_KEY_PREFIX forgotten, so every Celery key
    # (queues included) is unprefixed in the shared Redis.
    site_a, site_b = (
        celery_for({"REDIS_URL": services.REDIS_URL, "REDIS_KEY_PREFIX": prefix}) for prefix in two_prefixes
    )

    site_a.send_task(TASK_DETECT_VIDEO, args=[1])

    assert messages_waiting(site_a) == 1
    assert messages_waiting(site_b) == 0, "site B's workers would take site A's task"
