"""API test fixtures: a fresh app per test (own instance folder, SQLite file, uploads) on the real migrations."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from .helpers import UserSession, api_config, build_app, dispose_app, register_and_login


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory, engine) -> Path:
    """A SQLite file migrated once by the API's own start-up (build_app); each app's file starts as a copy."""
    root = tmp_path_factory.mktemp("migrated-sqlite")
    dispose_app(build_app(api_config(root, engine)))
    return root / "api.db"


@pytest.fixture
def make_app(tmp_path, engine, migrated_sqlite):
    """Factory for apps with config overrides; every app is disposed after the test."""
    apps = []

    def _make(**overrides):
        sub = tmp_path / f"app{len(apps)}"
        sub.mkdir()
        config = api_config(sub, engine, **overrides)
        if config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{sub / 'api.db'}":
            # Running all migrations takes longer than the rest of a typical test; start-up still runs
            # `upgrade` on the copy (a no-op at the head revision) and recovers jobs as on any start.
            with closing(sqlite3.connect(migrated_sqlite)) as source, closing(sqlite3.connect(sub / "api.db")) as copy:
                source.backup(copy)
        app = build_app(config)
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
