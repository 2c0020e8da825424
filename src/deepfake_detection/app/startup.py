"""What create_app does once the app is built: connect once, look at the schema, sweep crash leftovers.

Every command builds the app first (`flask ... db upgrade`, gunicorn, the Celery worker,
`deepfake-server`), so this is where a database or role that does not exist is first met: it becomes a
ConfigurationError whose one line says what to create, instead of a driver traceback. A database that
is merely down is only logged: health reports it and the app recovers when it returns.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from .config import ConfigurationError
from .detection import retention
from .extensions import db
from .health import schema
from .idempotency import service as idempotency

log = logging.getLogger(__name__)
# PostgreSQL's refusals for a database or role that does not exist (FATAL at connection time).
MISSING_DATABASE_RE = re.compile(r'database "(?P<name>[^"]+)" does not exist')
MISSING_ROLE_RE = re.compile(r'role "(?P<name>[^"]+)" does not exist')
# The sweep at start looks at this many directory entries per media folder at most (the command
# line `sweep-orphan-files` looks at all of them).
START_SWEEP_LIMIT = 10_000


def missing_database_or_role(exc: Exception, url: str) -> str | None:
    """One line saying what to create, when ``exc`` says the database or the role does not exist."""
    message = str(getattr(exc, "orig", exc))
    parsed = make_url(url)
    role = parsed.username or "deepfake"
    database = MISSING_DATABASE_RE.search(message)
    if database:
        name = database.group("name")
        return (
            f'PostgreSQL database "{name}" (DATABASE_URI) does not exist: create it, e.g. '
            f'`createdb -O {role} {name}` or CREATE DATABASE "{name}" OWNER "{role}";'
            f" then apply the migrations: {schema.UPGRADE_COMMAND}"
        )
    missing_role = MISSING_ROLE_RE.search(message)
    if missing_role:
        name = missing_role.group("name")
        return (
            f'PostgreSQL role "{name}" (DATABASE_URI) does not exist: create it, e.g. '
            f"CREATE ROLE \"{name}\" LOGIN PASSWORD '...'; then its database: "
            f'CREATE DATABASE "{parsed.database or name}" OWNER "{name}";'
        )
    return None


def run(app: Flask, *, upgrade_follows: bool = False) -> None:
    """Connect once (refusing a missing database or role), then sweep orphans if the schema is current.

    upgrade_follows: the caller applies the migrations right after (deepfake-server), so a schema that is
    behind is announced, not warned about.
    """
    with app.app_context():
        try:
            if not _database_answers(app):
                return
            state = schema.guard(app).state(db.engine, fresh=True)
            if state is None:
                return
            if state.behind:
                _report_behind(app, state, upgrade_follows=upgrade_follows)
                return
            _sweep(app)
        finally:
            # No connection opened here may be shared by processes forked after start (gunicorn, Celery).
            db.engine.dispose()


def _report_behind(app: Flask, state: schema.SchemaState, *, upgrade_follows: bool) -> None:
    """Log what a schema that is behind means for this start: it will be migrated now, or the operator must."""
    needed = ", ".join(state.code)
    if upgrade_follows:
        what = "has no tables yet: creating them" if not state.database else "is behind: applying the migrations"
        log.info("The database %s (revision %s).", what, needed)
    elif not state.database:
        log.warning(
            "The database has no tables yet (this code needs revision %s). Create them: %s%s."
            " Until then /api requests answer 503.",
            needed,
            schema.UPGRADE_COMMAND,
            "" if app.config["MODE"] == "production" else " (deepfake-server does it when it starts)",
        )
    else:
        log.warning("%s. Until then /api requests answer 503.", schema.behind_message(state, mode=app.config["MODE"]))


def _database_answers(app: Flask) -> bool:
    """True when the database answers; ConfigurationError when it or its role does not exist."""
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        problem = missing_database_or_role(exc, app.config["SQLALCHEMY_DATABASE_URI"])
        if problem:
            raise ConfigurationError(problem) from None
        log.warning("The database is not reachable at start: %s", str(exc.orig).strip().splitlines()[0])
        return False
    return True


def _sweep(app: Flask) -> None:
    """Remove files left without their row by a killed process, and expired idempotency keys; never raises."""
    now = datetime.now(timezone.utc)
    try:
        removed = retention.remove_orphan_files(
            session=db.session,
            upload_root=app.config["UPLOAD_FOLDER"],
            older_than=now - timedelta(seconds=app.config["ORPHAN_FILE_GRACE_SECONDS"]),
            limit=START_SWEEP_LIMIT,
        )
        expired = idempotency.purge_expired(
            session=db.session, older_than=now - timedelta(hours=app.config["IDEMPOTENCY_KEY_HOURS"])
        )
    except Exception:
        db.session.rollback()
        log.exception("Sweeping orphaned files at start failed; `sweep-orphan-files` retries")
        return
    finally:
        db.session.remove()
    if any(removed.values()) or expired:
        log.info(
            "Removed orphaned files at start (%s) and %d expired idempotency key(s)",
            ", ".join(f"{count} in {folder}/" for folder, count in removed.items()),
            expired,
        )
