"""SQLite's single write lock: reads never take it, and sign-ups or logins never hold it while hashing."""

from __future__ import annotations

import io
import itertools
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select

from deepfake_detection.app.auth import passwords, service
from deepfake_detection.app.auth.models import User
from deepfake_detection.app.database import ReadOnlyTransactionError
from deepfake_detection.app.extensions import db
from tests.support import media

from .helpers import PASSWORD, register_and_login

SIGNUP_THREADS = 3
SIGNUPS_PER_THREAD = 2
DETECTION_THREADS = 1
# Well under the 30 s busy timeout: a request stuck behind the write lock fails the test instead of hanging it.
BLOCKED_REQUEST_BOUND = 20
_signups = itertools.count(1)


def _sqlite_path(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def _write_lock_is_free(app) -> bool:
    """True when another connection can take the SQLite write lock right now (no waiting)."""
    other = sqlite3.connect(_sqlite_path(app), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_a_get_requests_transaction_leaves_the_write_lock_free_and_a_post_takes_it(app):
    for method, free in (("GET", True), ("HEAD", True), ("POST", False), ("DELETE", False)):
        with app.test_request_context("/api/history", method=method):
            db.session.execute(select(func.count(User.id)))  # opens the request's transaction
            assert _write_lock_is_free(app) is free, method
            db.session.rollback()


def test_a_write_in_a_get_request_fails_at_once_with_a_clear_error(app):
    # Deferred transactions must not write: upgraded, they fail when another connection wrote meanwhile.
    with app.test_request_context("/api/history", method="GET"):
        db.session.add(User(username="sneaky", email="sneaky@example.com", password_hash="x"))
        with pytest.raises(ReadOnlyTransactionError, match="INSERT INTO"):
            db.session.commit()
        db.session.rollback()


def test_reads_and_logins_answer_while_another_connection_holds_the_write_lock(app, client, user):
    holder = sqlite3.connect(_sqlite_path(app), timeout=0, isolation_level=None)
    pool = ThreadPoolExecutor(max_workers=1)

    def reads_and_logins() -> list[int]:
        return [
            client.get("/api/auth/me", headers=user.headers).status_code,
            client.get("/api/history", headers=user.headers).status_code,
            client.get("/api/stats", headers=user.headers).status_code,
            client.get("/api/health").status_code,
            client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD}).status_code,
            client.post("/api/auth/login", json={"username": user.username, "password": "wrong-pass"}).status_code,
        ]

    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of its transaction
    try:
        statuses = pool.submit(reads_and_logins).result(timeout=BLOCKED_REQUEST_BOUND)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        pool.shutdown()
    assert statuses == [200, 200, 200, 200, 200, 401]


def test_passwords_are_hashed_and_checked_while_the_write_lock_is_free(app, client, monkeypatch):
    calls = []

    def observed(function):
        def wrapper(*args, **kwargs):
            calls.append((function.__name__, _write_lock_is_free(app)))
            return function(*args, **kwargs)

        return wrapper

    # Watch werkzeug's functions wherever the auth code calls them (they are not replaced: they still run).
    for module in (passwords, service):
        for name in ("generate_password_hash", "check_password_hash"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, observed(getattr(module, name)))
    register_and_login(client, "hasher")
    for name in ("hasher", "nobody"):
        assert client.post("/api/auth/login", json={"username": name, "password": "wrong-pass"}).status_code == 401
    assert calls == [("generate_password_hash", True)] + [("check_password_hash", True)] * 3


@pytest.fixture
def short_busy_timeout(app):
    """SQLite connections of this app wait at most 1.5 s for the write lock (instead of 30 s).

    A transaction that holds the lock for long (a password hash inside it) then shows up within seconds
    as the issue's "database is locked" 500s, which took 30 s there. Nothing else changes.
    """
    with app.app_context():
        engine = db.engine

    def set_timeout(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA busy_timeout=1500")

    # Listeners on the engine run after the class-wide one in database.py, so this value wins.
    event.listen(engine, "connect", set_timeout)
    engine.dispose()  # connections opened so far had the long timeout
    yield
    event.remove(engine, "connect", set_timeout)


def test_sign_ups_and_logins_under_load_cause_no_server_errors(app, user, short_busy_timeout):
    jpeg = media.image_bytes(media.face_photo(fake=True))
    signups_done = []

    def sign_up_and_log_in(_) -> list[int]:
        client = app.test_client()
        statuses = []
        for _ in range(SIGNUPS_PER_THREAD):
            name = f"load{next(_signups)}"
            statuses.append(
                client.post(
                    "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}
                ).status_code
            )
            statuses.append(client.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code)
        signups_done.append(True)
        return statuses

    def detect_until_sign_ups_end(_) -> list[int]:
        client = app.test_client()
        statuses = []
        # Bounded: at least a few detections, and no more once every sign-up thread has finished.
        while len(statuses) < 3 or (len(signups_done) < SIGNUP_THREADS and len(statuses) < 200):
            statuses.append(
                client.post(
                    "/api/detect/image",
                    headers=user.headers,
                    content_type="multipart/form-data",
                    data={"image": (io.BytesIO(jpeg), "load.jpg")},
                ).status_code
            )
            statuses.append(client.get("/api/history?page=1&per_page=5", headers=user.headers).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=SIGNUP_THREADS + DETECTION_THREADS) as pool:
        detections = [pool.submit(detect_until_sign_ups_end, i) for i in range(DETECTION_THREADS)]
        signups = list(pool.map(sign_up_and_log_in, range(SIGNUP_THREADS)))
        detections = [future.result() for future in detections]
    assert all(status in (200, 201) for statuses in signups for status in statuses), signups
    assert all(status == 200 for statuses in detections for status in statuses), detections
    with app.app_context():
        assert db.session.execute(select(func.count(User.id))).scalar_one() == 1 + SIGNUP_THREADS * SIGNUPS_PER_THREAD
