"""Migrations on SQLite: each data-changing revision upgraded from (and downgraded to) the revision before it."""

from __future__ import annotations

import io

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from deepfake_detection.app.extensions import db
from deepfake_detection.app.history.models import VERDICTS
from tests.support.job_rows import BEFORE_JOB_ERROR_CODE, NO_MODEL_MESSAGE, insert_failed_video_job
from tests.support.verdict_rows import (
    BEFORE_HISTORY_VERDICT,
    insert_detections_before_history_verdict,
    stored_verdicts,
)

from .helpers import PASSWORD, register_and_login

BEFORE_CASE_INSENSITIVE_USERS = "8d9f6382c551"


def _insert_user(username: str, email: str) -> None:
    """A user row written directly, as the previous code or another process could have."""
    db.session.execute(
        text('INSERT INTO "user" (username, email, password_hash, created_at) VALUES (:u, :e, :p, :t)'),
        {"u": username, "e": email, "p": "x", "t": "2026-01-01 00:00:00"},
    )
    db.session.commit()


def test_a_fresh_database_refuses_case_variants_itself(app):
    with app.app_context():
        _insert_user("Dora", "dora@example.com")
        for username, email in (("DORA", "new@example.com"), ("new", "Dora@Example.COM")):
            with pytest.raises(IntegrityError):
                _insert_user(username, email)
            db.session.rollback()


def test_upgrading_the_previous_revision_refuses_case_duplicates_then_keeps_every_row(app, caplog):
    client = app.test_client()
    owner = register_and_login(client, "keeper")
    assert (
        client.post("/api/detect/camera", headers=owner.headers, json={"image": _frame_data_url()}).status_code == 200
    )
    with app.app_context():
        downgrade(revision=BEFORE_CASE_INSENSITIVE_USERS)
        _insert_user("Eve", "eve@example.com")
        _insert_user("eve", "eve2@example.com")
        _insert_user("frank", "frank@example.com")
        _insert_user("frank2", "FRANK@example.com")
        caplog.clear()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the refusal and exits, as `flask db upgrade` does
            upgrade()
        # Logged, not printed: Alembic's logging set-up no longer replaces the process's own handlers.
        message = caplog.text
        assert "Cannot make usernames and emails unique ignoring case" in message
        assert "'Eve'" in message and "'eve'" in message and "FRANK@example.com" in message
        assert "UPDATE" in message  # says how to fix it
        db.session.rollback()
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == BEFORE_CASE_INSENSITIVE_USERS

        db.session.execute(text("UPDATE \"user\" SET username = 'eve_2' WHERE username = 'eve'"))
        db.session.execute(text("UPDATE \"user\" SET email = 'frank2@example.com' WHERE username = 'frank2'"))
        db.session.commit()
        upgrade()
        users = db.session.execute(text('SELECT count(*) FROM "user"')).scalar_one()
        history = db.session.execute(text("SELECT count(*) FROM detection_history")).scalar_one()
        assert (users, history) == (5, 1)  # nothing lost to the upgrade, foreign keys and all
        with pytest.raises(IntegrityError):
            _insert_user("EVE", "eve3@example.com")
        db.session.rollback()
    # The app works on the upgraded database: old users log in, case variants are refused.
    assert client.post("/api/auth/login", json={"username": "KEEPER", "password": PASSWORD}).status_code == 200
    assert (
        client.post(
            "/api/auth/register", json={"username": "Eve_2", "email": "new@example.com", "password": PASSWORD}
        ).status_code
        == 409
    )


def _frame_data_url() -> str:
    """A camera frame as the web app sends it."""
    from tests.support import media

    return media.face_data_url()


def test_upgrading_turns_a_failed_jobs_http_status_into_its_error_code(app):
    client = app.test_client()
    owner = register_and_login(client, "jobowner")
    with app.app_context():
        downgrade(revision=BEFORE_JOB_ERROR_CODE)
        video_id = insert_failed_video_job(db.session, user_id=owner.id, error_status=503)
        upgrade()
        code = db.session.execute(text("SELECT error_code FROM job WHERE video_id = :v"), {"v": video_id}).scalar_one()
        assert code == "model_unavailable"
        db.session.rollback()
    video = client.get(f"/api/videos/{video_id}", headers=owner.headers).get_json()["video"]
    assert video["status"] == "failed" and video["error_code"] == "model_unavailable"
    assert video["message"] == NO_MODEL_MESSAGE
    with app.app_context():
        # And back: the downgrade restores the status the old code answered with.
        downgrade(revision=BEFORE_JOB_ERROR_CODE)
        status = db.session.execute(
            text("SELECT error_status FROM job WHERE video_id = :v"), {"v": video_id}
        ).scalar_one()
        assert status == 503
        db.session.rollback()
        upgrade()


def test_a_restart_on_a_migrated_sqlite_database_keeps_foreign_keys_on(make_app, tmp_path):
    # The second start finds nothing to migrate; the connection that checked must not go back to the
    # pool with foreign keys off (ON DELETE CASCADE would then not delete a video's jobs and history).
    url = f"sqlite:///{tmp_path / 'restarted.db'}"
    make_app(SQLALCHEMY_DATABASE_URI=url)
    restarted = make_app(SQLALCHEMY_DATABASE_URI=url)
    with restarted.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        db.session.rollback()


def test_upgrading_copies_each_stored_verdict_into_the_history_and_downgrading_drops_it(app):
    client = app.test_client()
    owner = register_and_login(client, "verdicts")
    other = register_and_login(client, "brokenverdicts")
    answered = [
        _detect_image(client, owner, fake=True),
        _detect_image(client, owner, fake=False),
        client.post(
            "/api/detect/camera", headers=owner.headers, json={"image": _frame_data_url(), "session_id": "m"}
        ).get_json(),
    ]
    assert [a["verdict"] for a in answered] == ["fake", "real", "real"]
    with app.app_context():
        downgrade(revision=BEFORE_HISTORY_VERDICT)
        columns = {c["name"] for c in inspect(db.engine).get_columns("detection_history")}
        assert "verdict" not in columns and "feedback_correct" in columns
        expected = insert_detections_before_history_verdict(db.session, user_id=owner.id)
        broken = insert_detections_before_history_verdict(db.session, user_id=other.id)
        if db.engine.dialect.name == "sqlite":
            # Text that is not JSON at all (SQLite stores JSON as any text; PostgreSQL's json refuses it):
            # left NULL, not a failed upgrade.
            first = next(iter(broken))  # its image said "uncertain"
            db.session.execute(
                text(
                    "UPDATE image SET trust = 'not json' "
                    "WHERE id = (SELECT image_id FROM detection_history WHERE id = :h)"
                ),
                {"h": first},
            )
            db.session.commit()
            broken[first] = None
        upgrade()
        stored = stored_verdicts(db.session)
        db.session.rollback()
    for answer in answered:
        assert stored[answer["history_id"]] == answer["verdict"]
    for history_id, verdict in expected.items():
        assert stored[history_id] == verdict, (history_id, verdict)
    assert [stored[i] for i in broken] == list(broken.values())
    # The API answers the copied verdicts, and the filter reads them (NULL ones by is_fake).
    history = client.get("/api/history", headers=owner.headers).get_json()["history"]
    assert {item["id"]: item["verdict"] for item in history} == {i: v for i, v in stored.items() if i not in broken}
    uncertain = client.get("/api/history?verdict=uncertain", headers=owner.headers).get_json()
    assert {item["id"] for item in uncertain["history"]} == {i for i, v in expected.items() if v == "uncertain"}
    # Without a verdict (a JSON null, an unknown word, a frame without one, the video): fake or real by is_fake.
    totals = {v: client.get(f"/api/history?verdict={v}", headers=owner.headers).get_json()["total"] for v in VERDICTS}
    assert totals == {"fake": 4, "uncertain": 1, "real": 5} and sum(totals.values()) == len(history) == 10
    assert client.get("/api/stats", headers=owner.headers).get_json()["uncertain_count"] == 1
    with app.app_context():
        downgrade(revision=BEFORE_HISTORY_VERDICT)
        assert "verdict" not in {c["name"] for c in inspect(db.engine).get_columns("detection_history")}
        assert db.session.execute(text("SELECT count(*) FROM detection_history")).scalar_one() == len(stored)
        db.session.rollback()
        upgrade()


def _detect_image(client, user, *, fake: bool) -> dict:
    from tests.support import media

    response = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo(fake))), "p.jpg")},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()
