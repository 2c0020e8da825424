"""Request ids, the access log and the log of unhandled errors, through the real WSGI stack."""

from __future__ import annotations

import logging
import re

from .helpers import assert_error

ACCESS_LOGGER = "deepfake_detection.app.request_log"


def test_an_unhandled_error_is_logged_with_its_traceback_and_request_id(make_app, caplog):
    caplog.set_level(logging.INFO)
    # make_app runs the migrations, as the server does at start: Alembic's logging set-up used to
    # disable every existing logger there, so the error below was never logged.
    app = make_app(TESTING=False)

    def explode():
        raise RuntimeError("boom in a view")

    app.add_url_rule("/api/explode", "explode", explode)
    response = app.test_client().get("/api/explode?token=do-not-log")
    body = assert_error(response, 500)
    request_id = body["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and response.headers["X-Request-ID"] == request_id
    assert "boom" not in response.get_data(as_text=True)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert errors[0].request_id == request_id and request_id in errors[0].getMessage()
    assert "Traceback (most recent call last)" in caplog.text and "RuntimeError: boom in a view" in caplog.text
    access = [record for record in caplog.records if record.name == ACCESS_LOGGER]
    assert len(access) == 1 and access[0].request_id == request_id
    assert re.fullmatch(r"GET /api/explode 500 [0-9.]+ ms user=-", access[0].getMessage())


def test_every_request_has_an_id_and_one_access_line(client, user, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    response = client.get("/api/history?page=1&per_page=5", headers={**user.headers, "X-Request-ID": "trace-42"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "trace-42"
    [line] = [record for record in caplog.records if record.name == ACCESS_LOGGER]
    assert line.request_id == "trace-42"
    assert re.fullmatch(rf"GET /api/history 200 [0-9.]+ ms user={user.id}", line.getMessage())

    caplog.clear()
    # An id that could forge log lines or headers is replaced by a fresh one.
    response = client.get("/api/health", headers={"X-Request-ID": "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert_error(client.get("/api/nowhere"), 404)
    statuses = [record.getMessage().split()[2] for record in caplog.records if record.name == ACCESS_LOGGER]
    assert statuses == ["200", "404"]
