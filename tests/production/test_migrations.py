"""Migrations on PostgreSQL: the README's `flask db upgrade` on a fresh database gives exactly the models' schema."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, inspect, text

from tests.production.services import Deployment
from tests.support.job_rows import BEFORE_JOB_ERROR_CODE, insert_failed_video_job
from tests.support.verdict_rows import (
    BEFORE_HISTORY_VERDICT,
    insert_detections_before_history_verdict,
    stored_verdicts,
)

TABLES = {"user", "image", "video", "camera_detection", "detection_history", "job", "revoked_token"}


def flask_db(deployment: Deployment, *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app deepfake_detection.app:create_app db ...` with the deployment's environment."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "deepfake_detection.app:create_app", "db", *args],
        env={**os.environ, **deployment.settings()},
        cwd=deployment.root,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_upgrade_on_a_fresh_postgresql_database_matches_the_models(fresh_database, redis_prefix, tmp_path):
    deployment = Deployment(root=tmp_path, database_url=fresh_database, prefix=redis_prefix)

    upgraded = flask_db(deployment, "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr

    engine = create_engine(fresh_database)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        # Both only read: they run at once (each spends its time importing the app).
        with ThreadPoolExecutor(max_workers=2) as pool:
            heads, checked = pool.map(lambda command: flask_db(deployment, command), ["heads", "check"])
        assert heads.returncode == 0 and version in heads.stdout
        # Autogenerate finds nothing to add: the migrations build exactly what the models declare.
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(fresh_database, redis_prefix, tmp_path):
    from flask_migrate import downgrade, upgrade

    from deepfake_detection.app import create_app
    from deepfake_detection.app.extensions import db

    deployment = Deployment(root=tmp_path, database_url=fresh_database, prefix=redis_prefix)
    app = create_app(deployment.app_config())
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        db.engine.dispose()


def _insert_old_user(session) -> int:
    """A user row written with SQL (the ORM model belongs to the head revision); its id."""
    return session.execute(
        text(
            'INSERT INTO "user" (username, email, password_hash, created_at) '
            "VALUES ('old', 'old@example.com', 'x', now()) RETURNING id"
        )
    ).scalar_one()


def test_upgrading_turns_a_failed_jobs_http_status_into_its_error_code(fresh_database, redis_prefix, tmp_path):
    from flask_migrate import downgrade, upgrade

    from deepfake_detection.app import create_app
    from deepfake_detection.app.extensions import db

    deployment = Deployment(root=tmp_path, database_url=fresh_database, prefix=redis_prefix)
    app = create_app(deployment.app_config())
    with app.app_context():
        upgrade(revision=BEFORE_JOB_ERROR_CODE)
        user_id = _insert_old_user(db.session)
        video_id = insert_failed_video_job(db.session, user_id=user_id, error_status=503)
        upgrade()
        assert (
            db.session.execute(text("SELECT error_code FROM job WHERE video_id = :v"), {"v": video_id}).scalar_one()
            == "model_unavailable"
        )
        db.session.rollback()
        downgrade(revision=BEFORE_JOB_ERROR_CODE)
        assert (
            db.session.execute(text("SELECT error_status FROM job WHERE video_id = :v"), {"v": video_id}).scalar_one()
            == 503
        )
        db.session.rollback()
        db.engine.dispose()


def test_upgrading_copies_each_stored_verdict_into_the_history(fresh_database, redis_prefix, tmp_path):
    from flask_migrate import downgrade, upgrade

    from deepfake_detection.app import create_app
    from deepfake_detection.app.extensions import db

    deployment = Deployment(root=tmp_path, database_url=fresh_database, prefix=redis_prefix)
    app = create_app(deployment.app_config())
    with app.app_context():
        upgrade(revision=BEFORE_HISTORY_VERDICT)
        user_id = _insert_old_user(db.session)
        expected = insert_detections_before_history_verdict(db.session, user_id=user_id)
        upgrade()
        assert stored_verdicts(db.session) == expected
        assert sorted(v for v in expected.values() if v) == ["fake", "real", "uncertain"]
        db.session.rollback()
        downgrade(revision=BEFORE_HISTORY_VERDICT)
        columns = {c["name"] for c in inspect(db.engine).get_columns("detection_history")}
        assert "verdict" not in columns and "is_fake" in columns
        assert db.session.execute(text("SELECT count(*) FROM detection_history")).scalar_one() == len(expected)
        db.session.rollback()
        db.engine.dispose()
