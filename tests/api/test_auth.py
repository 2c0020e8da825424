"""Auth endpoints: register, login, me, logout, token failures, rate limit, secrets."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from sqlalchemy import event

from deepfake_detection.app import create_app
from deepfake_detection.app.config import ConfigurationError
from deepfake_detection.app.extensions import db

from .helpers import JWT_SECRET, PASSWORD, assert_error, register_and_login


def test_register_answers_the_documented_shape(client):
    response = client.post(
        "/api/auth/register", json={"username": "john_doe", "email": "john@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True
    assert body["message"] == "User registered successfully"
    assert body["user"]["username"] == "john_doe"
    assert body["user"]["email"] == "john@example.com"
    assert isinstance(body["user"]["id"], int)
    assert "password" not in str(body) and "password_hash" not in body["user"]


@pytest.mark.parametrize(
    "password, expected",
    [
        ("short1!", "at least 8"),
        ("password123", "too common"),
        ("qwertyuiop", "too common"),
        ("aaaaaaaaaaaa", "repeated"),
        ("x" * 129, "at most"),
    ],
)
def test_register_rejects_weak_passwords_with_a_clear_message(client, password, expected):
    body = assert_error(
        client.post("/api/auth/register", json={"username": "weak", "email": "weak@example.com", "password": password}),
        400,
    )
    assert expected in body["message"]
    assert "password" in body["errors"]


def test_register_rejects_password_equal_to_username(client):
    body = assert_error(
        client.post(
            "/api/auth/register",
            json={"username": "longusername", "email": "l@example.com", "password": "longusername"},
        ),
        400,
    )
    assert "username" in body["message"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "abc", "password": PASSWORD}, "email"),
        ({"username": "abc", "email": "a@example.com"}, "password"),
        ({"username": "a b", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "abc", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": 12345, "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "abc", "email": "a@example.com", "password": 12345678}, "password"),
    ],
)
def test_register_validates_each_field(client, payload, field):
    body = assert_error(client.post("/api/auth/register", json=payload), 400)
    assert field in body["errors"]


@pytest.mark.parametrize(
    "email",
    [
        '"><img src=x onerror=alert(1)>@x.co',
        '"><img/src=x/onerror=alert(1)>@x.co',
        "<script>alert(1)</script>@x.co",
        'a"onmouseover="alert(1)@x.co',
        "john@example.com<img src=x>",
        "john@ex<b>ample.com",
        "a b@x.co",
        "user@localhost",
        "a@b",
    ],
)
def test_register_refuses_emails_with_markup_or_bad_syntax(client, email):
    body = assert_error(
        client.post("/api/auth/register", json={"username": "marked", "email": email, "password": PASSWORD}), 400
    )
    assert list(body["errors"]) == ["email"]


def test_register_stores_emails_normalized_and_lower_cased(client):
    response = client.post(
        "/api/auth/register", json={"username": "normal", "email": " John.Doe+tag@Example.COM ", "password": PASSWORD}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"]["email"] == "john.doe+tag@example.com"
    login = client.post("/api/auth/login", json={"username": "JOHN.DOE+TAG@example.com", "password": PASSWORD})
    assert login.status_code == 200


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
        ("", "application/json"),
        ("username=a&password=b", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_json_bodies_are_400(client, data, content_type):
    for path in ("/api/auth/register", "/api/auth/login"):
        assert_error(client.post(path, data=data, content_type=content_type), 400)


def test_duplicate_username_and_email_are_409(client):
    register_and_login(client, "taken")
    body = assert_error(
        client.post("/api/auth/register", json={"username": "TAKEN", "email": "new@example.com", "password": PASSWORD}),
        409,
    )
    assert "Username" in body["message"]
    body = assert_error(
        client.post(
            "/api/auth/register", json={"username": "fresh", "email": "Taken@Example.com", "password": PASSWORD}
        ),
        409,
    )
    assert "Email" in body["message"]


def test_login_returns_token_and_user(client):
    session = register_and_login(client, "alice")
    response = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True
    assert body["user"] == {
        "id": session.id,
        "username": "alice",
        "email": "alice@example.com",
        "created_at": body["user"]["created_at"],
        "is_admin": False,  # added: an account is never an administrator by signing up
    }
    claims = pyjwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(session.id)
    assert claims["exp"] - claims["iat"] == 24 * 3600


def test_login_by_email_works(client):
    register_and_login(client, "bob")
    response = client.post("/api/auth/login", json={"username": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "login", ["MixedCase", "mixedcase", "MIXEDCASE", "mixedcase@example.com", "MixedCase@Example.COM", " mixedcase "]
)
def test_login_ignores_case_of_username_and_email(client, login):
    session = register_and_login(client, "MixedCase")
    response = client.post("/api/auth/login", json={"username": login, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["id"] == session.id


def test_on_sqlite_no_rival_registration_gets_between_the_check_and_the_insert(app):
    """The check and the insert share one write-locked transaction; the IntegrityError branch is for
    databases with real races (tests/production/test_registration_race.py runs one on PostgreSQL)."""
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    rival = {}

    def rival_tries_to_insert_first(conn, cursor, statement, parameters, context, executemany):
        if rival or not re.match(r'\s*INSERT INTO "?user"? ', statement):
            return
        other = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=0)
        try:
            other.execute(
                'INSERT INTO "user" (username, email, password_hash, created_at) '
                "VALUES ('RACER', 'other@example.com', 'x', '2026-01-01 00:00:00')"
            )
            other.commit()
            rival["outcome"] = "inserted"
        except sqlite3.OperationalError as exc:
            rival["outcome"] = str(exc)
        finally:
            other.close()

    event.listen(engine, "before_cursor_execute", rival_tries_to_insert_first)
    try:
        response = client.post(
            "/api/auth/register", json={"username": "Racer", "email": "racer@example.com", "password": PASSWORD}
        )
    finally:
        event.remove(engine, "before_cursor_execute", rival_tries_to_insert_first)
    assert rival["outcome"] == "database is locked"
    assert response.status_code == 201


def test_wrong_password_and_unknown_user_are_the_same_401(client):
    register_and_login(client, "carol")
    wrong = assert_error(client.post("/api/auth/login", json={"username": "carol", "password": "nope-nope"}), 401)
    unknown = assert_error(client.post("/api/auth/login", json={"username": "nobody", "password": "nope-nope"}), 401)
    assert wrong["message"] == unknown["message"]


def test_me_returns_the_user(client, user):
    response = client.get("/api/auth/me", headers=user.headers)
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == user.username


def test_logout_revokes_the_token_and_survives_a_restart(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    session = register_and_login(client)
    assert client.post("/api/auth/logout", headers=session.headers).status_code == 200
    body = assert_error(client.get("/api/auth/me", headers=session.headers), 401)
    assert "revoked" in body["message"]
    # A second app on the same database (a restart) still refuses it.
    restarted = create_app({**app.config, "DETECTION_ENGINE": None})
    assert_error(restarted.test_client().get("/api/auth/me", headers=session.headers), 401)
    # Logging in again gives a working token.
    response = client.post("/api/auth/login", json={"username": session.username, "password": PASSWORD})
    token = response.get_json()["access_token"]
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def _token(app, *, secret: str, expires_delta: timedelta | None = None, sub: str = "1", **claims) -> str:
    now = int(time.time())
    payload = {
        "sub": sub,
        "iat": now,
        "nbf": now,
        "jti": f"t{now}{sub}",
        "type": "access",
        "fresh": False,
        "exp": now + int((expires_delta or timedelta(hours=1)).total_seconds()),
        **claims,
    }
    return pyjwt.encode(payload, secret, algorithm="HS256")


def test_expired_tampered_and_foreign_tokens_are_401(client, user, app):
    expired = _token(app, secret=JWT_SECRET, sub=str(user.id), expires_delta=timedelta(seconds=-10))
    body = assert_error(client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"}), 401)
    assert "expired" in body["message"]

    foreign = _token(app, secret="someone-elses-secret-" + "x" * 40, sub=str(user.id))
    assert_error(client.get("/api/auth/me", headers={"Authorization": f"Bearer {foreign}"}), 401)

    header, payload, signature = user.token.split(".")
    other = _token(app, secret="whatever" * 8, sub="999").split(".")[1]
    tampered = ".".join([header, other, signature])
    assert_error(client.get("/api/auth/me", headers={"Authorization": f"Bearer {tampered}"}), 401)

    none_alg = pyjwt.encode({"sub": str(user.id), "exp": int(time.time()) + 60}, None, algorithm="none")
    assert_error(client.get("/api/auth/me", headers={"Authorization": f"Bearer {none_alg}"}), 401)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer not.a.jwt", "Token x"])
def test_missing_or_malformed_authorization_is_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    for method, path in (
        ("get", "/api/auth/me"),
        ("get", "/api/history"),
        ("get", "/api/stats"),
        ("post", "/api/auth/logout"),
        ("post", "/api/detect/image"),
    ):
        assert_error(getattr(client, method)(path, headers=headers), 401)


def test_token_of_a_user_that_does_not_exist_is_401(client):
    ghost = _token(None, secret=JWT_SECRET, sub="4242")
    assert_error(client.get("/api/auth/me", headers={"Authorization": f"Bearer {ghost}"}), 401)


def test_failed_logins_are_rate_limited_with_json_429(make_app):
    client = make_app(RATELIMIT_LOGIN="3 per minute").test_client()
    session = register_and_login(client, "limited")
    for _ in range(4):  # successful logins do not count
        assert client.post("/api/auth/login", json={"username": "limited", "password": PASSWORD}).status_code == 200
    for _ in range(3):
        assert_error(client.post("/api/auth/login", json={"username": "limited", "password": "wrong-pass"}), 401)
    response = client.post("/api/auth/login", json={"username": "limited", "password": PASSWORD})
    body = assert_error(response, 429)
    assert "3 per 1 minute" in body["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert session.token


def _failed_login(client, forwarded_for: str):
    """A wrong-password login arriving with this X-Forwarded-For header."""
    return client.post(
        "/api/auth/login",
        json={"username": "nobody", "password": "wrong-pass"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_behind_a_trusted_proxy_the_login_limit_counts_per_real_client(make_app):
    client = make_app(RATELIMIT_LOGIN="2 per minute", PROXY_FIX_X_FOR=1).test_client()
    # The proxy appends the address it saw; what the client wrote before it is not believed.
    for spoofed in ("1.1.1.1, 203.0.113.7", "2.2.2.2, 203.0.113.7"):
        assert_error(_failed_login(client, spoofed), 401)
    assert_error(_failed_login(client, "3.3.3.3, 203.0.113.7"), 429)
    # Another client behind the same proxy has its own allowance.
    assert_error(_failed_login(client, "198.51.100.4"), 401)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(make_app):
    client = make_app(RATELIMIT_LOGIN="2 per minute").test_client()
    for address in ("1.1.1.1", "2.2.2.2"):
        assert_error(_failed_login(client, address), 401)
    assert_error(_failed_login(client, "3.3.3.3"), 429)


def _addresses(count: int) -> list[str]:
    """Client addresses of this test alone (limit counters may outlive a test in a shared Redis)."""
    base = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    start = secrets.randbelow(200)
    return [f"{base}.{start + index}" for index in range(count)]


def _login(client, username: str, password: str, address: str):
    return client.post(
        "/api/auth/login", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def _sign_up(client, username: str, address: str, *, password: str = PASSWORD):
    return client.post(
        "/api/auth/register",
        environ_base={"REMOTE_ADDR": address},
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )


def test_sign_ups_are_limited_per_address_with_json_429(make_app):
    client = make_app(RATELIMIT_REGISTER="3 per hour").test_client()
    address, other_address = _addresses(2)
    # Refused input costs nothing and does not count.
    assert_error(_sign_up(client, "weakling", address, password="password123"), 400)
    for index in range(3):
        assert _sign_up(client, f"signup{index}", address).status_code == 201
    response = _sign_up(client, "signup3", address)
    body = assert_error(response, 429)
    assert "3 per 1 hour" in body["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert _sign_up(client, "signup3", other_address).status_code == 201


def test_wrong_passwords_from_many_addresses_are_mostly_refused_and_the_owner_still_logs_in(make_app):
    failures = 3
    client = make_app(LOGIN_THROTTLE_FAILURES=failures, LOGIN_THROTTLE_DELAY=600).test_client()
    victim = register_and_login(client, "victim")
    *attackers, owner_address = _addresses(13)
    responses = [_login(client, "victim", f"guess-{index}", attackers[index % 12]) for index in range(108)]
    statuses = [response.status_code for response in responses]
    assert set(statuses) == {401, 429}
    # Each address gets its password checked until the account has `failures` failures, then once at most.
    assert statuses.count(401) <= failures + len(attackers), statuses
    refused = responses[-1]
    body = assert_error(refused, 429)
    assert "failed logins" in body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    # Even the right password is not checked from an address that guessed...
    assert_error(_login(client, "victim", PASSWORD, attackers[0]), 429)
    # ...but the owner, from an address of their own, logs in during the throttle.
    response = _login(client, "victim@example.com", PASSWORD, owner_address)
    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == victim.id


def test_unknown_names_are_throttled_exactly_like_accounts(make_app):
    client = make_app(LOGIN_THROTTLE_FAILURES=2, LOGIN_THROTTLE_DELAY=600).test_client()
    register_and_login(client, "known")
    address = _addresses(1)[0]
    answers = {}
    for name in ("known", "unknown"):
        responses = [_login(client, name, "wrong-pass", address) for _ in range(4)]
        answers[name] = [(r.status_code, r.get_json()["message"].split(";")[0]) for r in responses]
    assert answers["known"] == answers["unknown"]
    assert [status for status, _ in answers["known"]] == [401, 401, 429, 429]


def test_the_login_throttle_ends_after_its_delay(make_app):
    client = make_app(LOGIN_THROTTLE_FAILURES=2, LOGIN_THROTTLE_DELAY=1, LOGIN_THROTTLE_MAX_DELAY=1).test_client()
    register_and_login(client, "patient")
    address = _addresses(1)[0]
    for _ in range(2):
        assert_error(_login(client, "patient", "wrong-pass", address), 401)
    response = _login(client, "patient", PASSWORD, address)
    body = assert_error(response, 429)
    assert "try again in 1 s" in body["message"]
    # Flask-Limiter raises the header to its own window's end when that is later (never lower).
    assert int(response.headers["Retry-After"]) >= 1
    deadline = time.monotonic() + 15
    while response.status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.2)  # polling interval, not synchronisation: the loop waits for the answer to change
        response = _login(client, "patient", PASSWORD, address)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "name", ["LOGIN_THROTTLE_FAILURES", "LOGIN_THROTTLE_WINDOW", "LOGIN_THROTTLE_DELAY", "LOGIN_THROTTLE_MAX_DELAY"]
)
def test_login_throttle_settings_must_be_positive_whole_numbers(tmp_path, name):
    with pytest.raises(ConfigurationError, match=name):
        create_app({"INSTANCE_PATH": str(tmp_path / "a"), "SECRET_KEY": "s" * 64, "JWT_SECRET_KEY": "j" * 64, name: 0})


def test_proxy_hops_must_be_a_non_negative_whole_number(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXY_FIX_X_FOR", "one")
    with pytest.raises(ConfigurationError, match="PROXY_FIX_X_FOR"):
        create_app({"INSTANCE_PATH": str(tmp_path / "a"), "SECRET_KEY": "s" * 64, "JWT_SECRET_KEY": "j" * 64})
    monkeypatch.delenv("PROXY_FIX_X_FOR")
    with pytest.raises(ConfigurationError, match="PROXY_FIX_X_FOR"):
        create_app(
            {
                "INSTANCE_PATH": str(tmp_path / "b"),
                "SECRET_KEY": "s" * 64,
                "JWT_SECRET_KEY": "j" * 64,
                "PROXY_FIX_X_FOR": -1,
            }
        )


def test_secrets_are_generated_once_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DEEPFAKE_MODE"):
        monkeypatch.delenv(name, raising=False)
    config = {"INSTANCE_PATH": str(tmp_path / "inst"), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db"}
    first = create_app(dict(config))
    second = create_app(dict(config))
    assert len(first.config["JWT_SECRET_KEY"]) >= 64
    assert first.config["JWT_SECRET_KEY"] == second.config["JWT_SECRET_KEY"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] != first.config["JWT_SECRET_KEY"]
    mode = os.stat(tmp_path / "inst" / "jwt_secret_key.secret").st_mode & 0o777
    assert mode == 0o600


def test_production_mode_refuses_to_start_without_explicit_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFAKE_MODE", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY must be set"):
        create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert not (tmp_path / "inst" / "secret_key.secret").exists()


def test_settings_come_from_a_dotenv_file_in_the_working_directory(tmp_path, monkeypatch):
    names = ("CORS_ORIGINS", "MAX_IMAGE_SIZE", "UPLOAD_FOLDER", "DATABASE_URI", "JWT_SECRET_KEY")
    for name in names:  # recorded, so whatever .env sets is undone after the test
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(
        "CORS_ORIGINS=http://app.example\nMAX_IMAGE_SIZE=12345\n"
        f"UPLOAD_FOLDER={tmp_path / 'media'}\nDATABASE_URI=sqlite:///{tmp_path / 'env.db'}\n"
        "JWT_SECRET_KEY=from-dotenv-" + "k" * 40 + "\n"
    )
    monkeypatch.chdir(tmp_path)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert app.config["CORS_ORIGINS"] == ["http://app.example"]
    assert app.config["MAX_IMAGE_SIZE"] == 12345
    assert app.config["UPLOAD_FOLDER"] == str(tmp_path / "media") and (tmp_path / "media" / "images").is_dir()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
    assert app.config["JWT_SECRET_KEY"].startswith("from-dotenv-")
