"""API test fixtures: a fresh app per test (own instance folder, SQLite file, uploads), real migrations."""

from __future__ import annotations

import pytest

from .helpers import UserSession, api_config, build_app, dispose_app, register_and_login


@pytest.fixture
def make_app(tmp_path, engine):
    """Factory for apps with config overrides; every app is disposed after the test."""
    apps = []

    def _make(**overrides):
        sub = tmp_path / f"app{len(apps)}"
        sub.mkdir()
        app = build_app(api_config(sub, engine, **overrides))
        apps.append(app)
        return app

    yield _make
    for app in apps:
        dispose_app(app)


@pytest.fixture
def app(make_app):
    """A fresh app with the tiny models."""
    return make_app()


@pytest.fixture
def client(app):
    """Flask test client (the full WSGI stack)."""
    return app.test_client()


@pytest.fixture
def user(client) -> UserSession:
    """A logged-in user of the default app."""
    return register_and_login(client)


@pytest.fixture
def other_user(client) -> UserSession:
    """A second logged-in user of the default app."""
    return register_and_login(client)
