"""Domain errors: one table maps them to HTTP, every error answer carries a code, services never speak HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deepfake_detection.app as app_package
from deepfake_detection.app import domain_errors
from deepfake_detection.app.errors import STATUS_BY_ERROR, status_of

from .helpers import assert_error, register_and_login

APP_DIR = Path(app_package.__file__).parent
# Modules below the views: they raise domain errors and never name an HTTP status.
SERVICE_MODULES = sorted(
    [
        *APP_DIR.glob("*/service.py"),
        *APP_DIR.glob("jobs/*.py"),
        APP_DIR / "request_parsing.py",
        APP_DIR / "detection" / "validation.py",
        APP_DIR / "detection" / "retention.py",
    ]
)
HTTP_STATUSES = {400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 502, 503, 504}


def test_the_table_gives_every_domain_error_a_status():
    for cls in domain_errors.subclasses():
        assert cls in STATUS_BY_ERROR, f"{cls.__name__} has no HTTP status in errors.STATUS_BY_ERROR"


def test_every_domain_error_has_its_own_code_that_names_it_again():
    codes = [cls.code for cls in domain_errors.subclasses()]
    assert len(codes) == len(set(codes))
    for cls in domain_errors.subclasses():
        again = domain_errors.from_code(cls.code, "message")
        assert type(again) is cls and status_of(again) == STATUS_BY_ERROR[cls]
    assert status_of(domain_errors.from_code("no such code", "m")) == 500


def test_a_narrower_code_keeps_the_status_of_its_class():
    assert status_of(domain_errors.NotFound("Video not found", code="video_not_found")) == 404


@pytest.mark.parametrize("module", SERVICE_MODULES, ids=lambda path: str(path.relative_to(APP_DIR)))
def test_services_and_job_code_raise_domain_errors_not_http(module):
    tree = ast.parse(module.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            assert name not in ("ApiError", "error_status", "abort"), f"{module.name}:{node.lineno} uses {name}"
        if isinstance(node, ast.ImportFrom):
            assert node.module != "errors", f"{module.name} imports the HTTP error module"
        if isinstance(node, ast.Raise):
            statuses = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and type(n.value) is int]
            assert not set(statuses) & HTTP_STATUSES, f"{module.name}:{node.lineno} raises with an HTTP status"
        if isinstance(node, ast.keyword) and node.arg and "status" in node.arg:
            value = node.value
            assert not (isinstance(value, ast.Constant) and value.value in HTTP_STATUSES), (
                f"{module.name}:{node.lineno} passes HTTP status {value.value}"
            )


def test_every_kind_of_error_answer_carries_a_code(make_app):
    app = make_app(RATELIMIT_REGISTER="2 per minute", LOGIN_THROTTLE_FAILURES=1, LOGIN_THROTTLE_DELAY=600)
    client = app.test_client()
    user = register_and_login(client)
    answers = {
        # werkzeug (routing), Flask-JWT-Extended, request parsing, services, views
        "not_found": client.get("/api/no-such-endpoint"),
        "method_not_allowed": client.put("/api/health"),
        "token_missing": client.get("/api/auth/me"),
        "token_invalid": client.get("/api/auth/me", headers={"Authorization": "Bearer nonsense"}),
        "invalid_input": client.post("/api/auth/login", data="not json"),
        "username_taken": client.post(
            "/api/auth/register",
            json={"username": user.username, "email": "other@example.com", "password": "Another-Password-77"},
        ),
        "video_not_found": client.get("/api/videos/999999", headers=user.headers),
        "invalid_credentials": client.post("/api/auth/login", json={"username": user.username, "password": "wrong"}),
    }
    for expected, response in answers.items():
        body = assert_error(response, response.status_code)
        assert body["code"] == expected.replace("video_not_found", "not_found"), (expected, body)
    # Flask-Limiter: the sign-up limit (2 per minute) is spent by the two registrations above.
    limited = client.post(
        "/api/auth/register",
        json={"username": "third", "email": "third@example.com", "password": "Another-Password-77"},
    )
    assert assert_error(limited, 429)["code"] == "rate_limited"
    # The login throttle: one failure (above) is the limit here.
    throttled = client.post("/api/auth/login", json={"username": user.username, "password": "wrong"})
    assert assert_error(throttled, 429)["code"] == "login_throttled" and throttled.headers["Retry-After"]
