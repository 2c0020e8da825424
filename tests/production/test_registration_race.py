"""Registration losing a real race on PostgreSQL: a rival commits between the existence check and the insert.

On SQLite the check and the insert share one write-locked transaction, so no rival gets in between
(tests/api/test_auth.py shows it); PostgreSQL lets one in, and the unique indexes on lower(username) and
lower(email) must turn the loser's insert into the same 409 as the existence check gives.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, insert, select

from deepfake_detection.app.auth.models import User
from deepfake_detection.app.extensions import db
from tests.api.helpers import PASSWORD, api_config, assert_error, build_app, dispose_app, register_and_login


@pytest.fixture
def postgres_app(fresh_database, tmp_path, engine):
    """The API on an empty PostgreSQL database (migrated by the start-up, as deepfake-server does)."""
    app = build_app(api_config(tmp_path, engine, SQLALCHEMY_DATABASE_URI=fresh_database))
    yield app
    dispose_app(app)


@pytest.mark.parametrize(
    "field, username, email, rival_username, rival_email",
    [
        ("username", "Racer", "racer@example.com", "RACER", "other@example.com"),
        ("email", "racer2", "Racer2@example.com", "someone", "racer2@EXAMPLE.com"),
    ],
)
def test_a_rival_committed_between_check_and_insert_gets_the_loser_a_409(
    postgres_app, field, username, email, rival_username, rival_email
):
    with postgres_app.app_context():
        engine = db.engine
    assert engine.dialect.name == "postgresql"
    rival = {}

    def rival_commits_first(conn, cursor, statement, parameters, context, executemany):
        # Our request passed its existence check and is about to insert: another connection wins now.
        if rival or not re.match(r'\s*INSERT INTO "?user"? ', statement):
            return
        rival["committed"] = False  # set first: the rival's own INSERT passes through this hook too
        with engine.connect() as other:
            other.execute(
                insert(User).values(
                    username=rival_username,
                    email=rival_email.lower(),
                    password_hash="x",
                    created_at=datetime.now(timezone.utc),
                )
            )
            other.commit()
        rival["committed"] = True

    event.listen(engine, "before_cursor_execute", rival_commits_first)
    try:
        response = postgres_app.test_client().post(
            "/api/auth/register", json={"username": username, "email": email, "password": PASSWORD}
        )
    finally:
        event.remove(engine, "before_cursor_execute", rival_commits_first)
    # The rival was committed after the check had found nothing, so only the IntegrityError branch
    # can have answered this 409 (without it the unique violation would be a 500).
    assert rival["committed"]
    body = assert_error(response, 409)
    assert list(body["errors"]) == [field]
    with postgres_app.app_context():
        names = db.session.execute(select(func.lower(User.username))).scalars().all()
    assert names == [rival_username.lower()]
    # The request's session is usable again afterwards: the next sign-up works.
    register_and_login(postgres_app.test_client(), f"after{field}")
