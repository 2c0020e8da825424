"""API test helpers: app configuration, users through the API, the JSON error assertion."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

SECRET = "test-secret-key-" + "s" * 48
JWT_SECRET = "test-jwt-secret-" + "j" * 48
PASSWORD = "Correct-Horse-Battery-9"
_names = itertools.count(1)


def api_config(tmp_path, engine=None, **overrides) -> dict:
    """Test configuration: everything under tmp_path, fixed secrets, generous login and sign-up limits."""
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'api.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SECRET_KEY": SECRET,
        "JWT_SECRET_KEY": JWT_SECRET,
        "RATELIMIT_LOGIN": "1000 per minute",
        "RATELIMIT_REGISTER": "1000 per minute",
        "JOBS_BACKEND": "inprocess",
        "VIDEO_SYNC_TIMEOUT": 120,
    }
    if engine is not None:
        config["DETECTION_ENGINE"] = engine
    config.update(overrides)
    return config


def build_app(config: dict):
    """create_app + the same start-up as deepfake-server (migrations, job recovery)."""
    from deepfake_detection.app import create_app
    from deepfake_detection.app.serve import prepare

    app = create_app(config)
    prepare(app)
    return app


def dispose_app(app) -> None:
    """Stop job threads and close database connections."""
    from deepfake_detection.app.extensions import db
    from deepfake_detection.app.jobs.backends import BACKEND_KEY

    backend = app.extensions.get(BACKEND_KEY)
    if hasattr(backend, "shutdown"):
        backend.shutdown()
    with app.app_context():
        db.engine.dispose()


@dataclass
class UserSession:
    """A registered, logged-in user."""

    id: int
    username: str
    email: str
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def register_and_login(client, username: str | None = None) -> UserSession:
    """Register a new user through the API and log in."""
    username = username or f"user{next(_names)}"
    email = f"{username}@example.com"
    response = client.post("/api/auth/register", json={"username": username, "email": email, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return UserSession(id=body["user"]["id"], username=username, email=email, token=body["access_token"])


def assert_error(response, status: int) -> dict:
    """The response is the JSON error shape with this status; returns the body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    # A stable machine-readable code on every error answer: clients branch on it, never on the message.
    assert isinstance(body.get("code"), str) and body["code"], body
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "/tmp/" not in text and "<html" not in text.lower()
    return body
