"""A database whose migrations were forgotten: health says so (503) and requests answer 503 naming the command."""

from __future__ import annotations

import logging

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from deepfake_detection.app.extensions import db
from tests.support import media

from .helpers import PASSWORD, api_config, assert_error, dispose_app

COMMAND = "flask --app deepfake_detection.app:create_app db upgrade"


def _empty_database(make_app):
    """An app whose database has no tables (as before the operator ran the migrations)."""
    app = make_app(SCHEMA_CHECK_INTERVAL=0)
    with app.app_context():
        downgrade(revision="base")
        db.engine.dispose()
    return app


def test_health_and_requests_name_the_upgrade_command_on_an_empty_database(make_app):
    app = _empty_database(make_app)
    client = app.test_client()

    health = client.get("/api/health")
    assert health.status_code == 503
    body = health.get_json()
    assert body["success"] is False and body["status"] == "error" and body["schema"]["ok"] is False
    assert COMMAND in body["message"] and body["command"] == COMMAND

    register = client.post(
        "/api/auth/register", json={"username": "early", "email": "early@example.com", "password": PASSWORD}
    )
    refused = assert_error(register, 503)
    assert COMMAND in refused["message"] and "out of date" in refused["message"]
    assert_error(client.post("/api/auth/login", json={"username": "early", "password": PASSWORD}), 503)
    assert client.get("/api/openapi.json").status_code == 200  # static, needs no table

    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert client.get("/api/health").status_code == 200
    assert (
        client.post(
            "/api/auth/register", json={"username": "later", "email": "later@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )


def test_a_table_missing_behind_a_current_revision_answers_503_not_500(make_app):
    app = make_app()
    client = app.test_client()
    assert client.get("/api/health").status_code == 200  # the guard now trusts the schema
    with app.app_context():
        db.session.execute(text("DROP TABLE idempotency_key"))
        db.session.commit()
    answer = client.post(
        "/api/auth/register", json={"username": "someone", "email": "someone@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 201  # does not touch the missing table
    token = client.post("/api/auth/login", json={"username": "someone", "password": PASSWORD}).get_json()
    frame = client.post(
        "/api/detect/camera",
        json={"image": media.face_data_url()},
        headers={"Authorization": f"Bearer {token['access_token']}", "Idempotency-Key": "k"},
    )
    body = assert_error(frame, 503)
    assert COMMAND in body["message"]


def _start_logs(tmp_path, engine, caplog, **kwargs):
    """Records logged by create_app on a fresh (never migrated) SQLite database."""
    from deepfake_detection.app import create_app

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="deepfake_detection.app.startup"):
        app = create_app(api_config(tmp_path, engine), **kwargs)
    dispose_app(app)
    return [r for r in caplog.records if r.name == "deepfake_detection.app.startup"]


def test_a_fresh_database_is_announced_not_warned_about_when_deepfake_server_migrates_it(tmp_path, engine, caplog):
    [record] = _start_logs(tmp_path / "server", engine, caplog, upgrade_follows=True)
    assert record.levelno == logging.INFO
    assert "no tables yet: creating them" in record.getMessage() and "out of date" not in record.getMessage()


def test_a_fresh_database_without_deepfake_server_warns_that_the_tables_must_be_created(tmp_path, engine, caplog):
    [record] = _start_logs(tmp_path / "gunicorn", engine, caplog)
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "no tables yet" in message and COMMAND in message and "out of date" not in message
