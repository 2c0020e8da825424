"""The API test suite (tests/api) run again on PostgreSQL, with revoked tokens, camera smoothing and
rate limits in Redis, as production mode runs it (video jobs stay in-process here; Celery has its own tests).

Every ``test_*`` module of tests/api is imported and its tests collected here; only the app fixtures
differ: each app gets a fresh PostgreSQL database (migrated by the API's own start-up) and its own
Redis key prefix.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid

import pytest

import tests.api
from tests.api.helpers import api_config, build_app, dispose_app
from tests.production import services


def _import_api_tests() -> None:
    """Bring every test and fixture of tests/api into this module (the app fixtures below replace theirs)."""
    for info in pkgutil.iter_modules(tests.api.__path__):
        if not info.name.startswith(("test_", "conftest")):
            continue
        module = importlib.import_module(f"tests.api.{info.name}")
        for name, value in vars(module).items():
            is_fixture = type(value).__name__ == "FixtureFunctionDefinition"
            if (name.startswith("test_") and callable(value)) or is_fixture:
                globals()[name if name not in globals() else f"{info.name}__{name}"] = value


_import_api_tests()


# Tests whose assertions are about SQLite itself; tests/production/conftest.py skips them here.
SQLITE_SPECIFIC = {
    "test_no_file_without_row_when_the_database_write_fails": "makes the write fail with a SQLite trigger",
    "test_health_reports_database_and_models": "expects the database backend to be reported as sqlite",
    "test_running_job_stops_mid_analysis_when_cancel_is_requested": "sets the cancel flag with a SQLite trigger",
    "test_a_get_requests_transaction_leaves_the_write_lock_free_and_a_post_takes_it": "about SQLite's write lock",
    "test_reads_and_logins_answer_while_another_connection_holds_the_write_lock": "about SQLite's write lock",
    "test_on_sqlite_no_rival_registration_gets_between_the_check_and_the_insert": "about SQLite's write lock",
    "test_a_write_in_a_get_request_fails_at_once_with_a_clear_error": "about SQLite's deferred transactions",
    "test_passwords_are_hashed_and_checked_while_the_write_lock_is_free": "about SQLite's write lock",
    "test_a_restart_on_a_migrated_sqlite_database_keeps_foreign_keys_on": "about SQLite's foreign_keys pragma",
}


@pytest.fixture(scope="module")
def migrated_template(postgres, tmp_path_factory):
    """A PostgreSQL database migrated once; each app gets a copy (CREATE DATABASE ... TEMPLATE)."""
    from flask_migrate import upgrade

    from deepfake_detection.app import create_app
    from deepfake_detection.app.extensions import db

    name, url = services.create_database()
    root = tmp_path_factory.mktemp("template")
    app = create_app(api_config(root, None, SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        upgrade()
        db.engine.dispose()  # a template must have no open connection when it is copied
    yield name
    services.drop_database(name)


@pytest.fixture
def make_app(tmp_path, engine, migrated_template, redis_service):
    """Like tests/api's factory, on a fresh PostgreSQL database and a Redis prefix per app."""
    made = []

    def _make(**overrides):
        sub = tmp_path / f"app{len(made)}"
        sub.mkdir()
        name, url = services.create_database(template=migrated_template)
        prefix = f"dftest-{uuid.uuid4().hex[:10]}:"
        made.append((None, name, prefix))
        production_state = {
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": services.REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "REVOKED_TOKEN_STORE": "redis",
            "SMOOTHING_STORE": "redis",
            "RATELIMIT_STORAGE_URI": services.REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
        }
        app = build_app(api_config(sub, engine, **{**production_state, **overrides}))
        made[-1] = (app, name, prefix)
        return app

    yield _make
    for app, name, prefix in made:
        if app is not None:
            dispose_app(app)
        services.drop_database(name)
        services.flush_prefix(prefix)


def test_the_api_apps_here_really_use_postgresql_and_redis(app):
    from deepfake_detection.app.extensions import db
    from deepfake_detection.app.state import revoked_tokens, smoothing_store

    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert type(revoked_tokens()).__name__ == "RedisRevokedTokenStore"
        assert type(smoothing_store()).__name__ == "RedisSmoothingStore"
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://")
