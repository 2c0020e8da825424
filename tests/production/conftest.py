"""Fixtures of the production-mode tests: fresh PostgreSQL databases, a Redis prefix, worker processes."""

from __future__ import annotations

import uuid

import pytest

from tests.production import services

pytestmark = pytest.mark.production


def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder as a production-mode test; skip the SQLite-only API tests.

    An API test that takes no app from ``make_app`` (a deepfake-server subprocess on its own SQLite file,
    the schemathesis app, a scan of the source) runs exactly as in tests/api, so its second run in
    test_api_on_postgres.py is deselected: only ``make_app`` differs there.
    """
    twins = []
    for item in items:
        path = str(item.fspath).replace("\\", "/")
        if "tests/production/" not in path:
            continue
        item.add_marker(pytest.mark.production)
        if path.endswith("test_api_on_postgres.py"):
            if item.function.__module__.startswith("tests.api.") and "make_app" not in item.fixturenames:
                twins.append(item)
                continue
            reason = getattr(item.module, "SQLITE_SPECIFIC", {}).get(item.originalname)
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"SQLite-specific: {reason}"))
    if twins:
        config.hook.pytest_deselected(items=twins)
        deselected = set(twins)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture(scope="session")
def postgres():
    """PostgreSQL must answer (skip without it, fail under CI)."""
    services.check_postgres()


@pytest.fixture(scope="session")
def redis_service():
    """Redis must answer (skip without it, fail under CI)."""
    services.check_redis()


@pytest.fixture
def fresh_database(postgres):
    """An empty PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    name, url = services.create_database()
    yield url
    services.drop_database(name)


@pytest.fixture
def redis_prefix(redis_service):
    """A Redis key prefix of this test alone, cleaned afterwards."""
    prefix = f"dftest-{uuid.uuid4().hex[:10]}:"
    yield prefix
    services.flush_prefix(prefix)


def migrate(deployment: services.Deployment) -> None:
    """Apply the migrations to the deployment's database, as `flask db upgrade` does."""
    from flask_migrate import upgrade

    from deepfake_detection.app import create_app

    app = create_app(deployment.app_config())
    with app.app_context():
        upgrade()
        from deepfake_detection.app.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="module")
def deployment(request, tmp_path_factory, tiny_hf_home):
    """A migrated PostgreSQL database, a Redis prefix and a shared upload folder for one test module.

    A module may set ``DEPLOYMENT_ENV`` (a dict of settings) to change limits for its workers.
    """
    services.check_postgres()
    services.check_redis()
    name, url = services.create_database()
    prefix = f"dftest-{uuid.uuid4().hex[:10]}:"
    dep = services.Deployment(
        root=tmp_path_factory.mktemp("deployment"),
        database_url=url,
        prefix=prefix,
        extra_env=dict(getattr(request.module, "DEPLOYMENT_ENV", {})),
    )
    try:
        migrate(dep)
        yield dep
    finally:
        dep.stop_all()
        services.drop_database(name)  # WITH (FORCE) closes connections this process still pools
        services.flush_prefix(prefix)


@pytest.fixture
def holds(deployment):
    """The deployment's job hold point; whatever a test held is let go when it ends."""
    holds = deployment.holds
    yield holds
    holds.release_all()
