"""Is the database schema the one this code needs? Alembic's revision in the database against the code's head.

Checked when a request first arrives and again at most every SCHEMA_CHECK_INTERVAL seconds while it is
behind; once it matches it is not looked at again (a query per request would cost every request). While
it is behind, /api requests answer 503 naming the upgrade command instead of failing on missing tables.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, request
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from ..domain_errors import SchemaOutdated
from ..errors import error_response
from ..extensions import db

log = logging.getLogger(__name__)
UPGRADE_COMMAND = "flask --app deepfake_detection.app:create_app db upgrade"
GUARD_KEY = "deepfake_schema_guard"
# Paths that work without the schema (health reports it itself; the API description is static).
UNGUARDED_PREFIXES = ("/api/health", "/api/openapi.json", "/api/docs")
# SQLite's and PostgreSQL's words for a table that is not there.
MISSING_TABLE_RE = re.compile(r"no such table|relation \"[^\"]+\" does not exist|undefined ?table", re.IGNORECASE)


@dataclass(frozen=True)
class SchemaState:
    """The database's revisions, the code's heads, and whether requests can be served."""

    database: tuple[str, ...]
    code: tuple[str, ...]
    behind: bool


@lru_cache(maxsize=4)
def code_revisions(migrations_dir: str) -> tuple[frozenset[str], frozenset[str]]:
    """The heads and every revision known to the migrations folder (read once per process: it ships with the code)."""
    config = AlembicConfig()
    config.set_main_option("script_location", migrations_dir)
    script = ScriptDirectory.from_config(config)
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


def schema_state(*, connection: Connection, heads: frozenset[str], known: frozenset[str]) -> SchemaState:
    """Compare the database's revision with the code's; a revision the code does not know is newer code's."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    # Unknown revisions: a newer release migrated first (rolling upgrade); refusing would only cause an outage.
    behind = current != heads and not (current - known)
    return SchemaState(database=tuple(sorted(current)), code=tuple(sorted(heads)), behind=behind)


def behind_message(state: SchemaState, *, mode: str) -> str:
    """What the operator must run, for health and for refused requests."""
    database = ", ".join(state.database) or "no tables"
    message = (
        f"The database schema is out of date (database: {database}; this code needs: "
        f"{', '.join(state.code)}). Apply the migrations: {UPGRADE_COMMAND}"
    )
    if mode != "production":
        message += " (deepfake-server applies them when it starts)"
    return message


class SchemaGuard:
    """Remembers whether the schema is current; asks the database again only while it is not."""

    def __init__(self, *, migrations_dir: str, interval: float) -> None:
        self._migrations_dir = migrations_dir
        self._interval = interval
        self._current = False
        self._next_check = 0.0
        self._last: SchemaState | None = None
        self._lock = threading.Lock()

    def state(self, database: Engine, *, fresh: bool = False) -> SchemaState | None:
        """The schema state (None when the database cannot be asked); cached as described above unless ``fresh``."""
        if self._current and not fresh:
            return self._last
        with self._lock:
            now = time.monotonic()
            if not fresh and (self._current or now < self._next_check):
                return self._last
            if not fresh:
                # Only requests are throttled: a fresh look (start, health) must not delay the next one.
                self._next_check = now + self._interval
            heads, known = code_revisions(self._migrations_dir)
            try:
                with database.connect() as connection:
                    state = schema_state(connection=connection, heads=heads, known=known)
            except OperationalError:
                # Database down: health reports that itself; requests fail as they would anyway.
                self._next_check = 0.0
                return None
            self._last, self._current = state, not state.behind
            return state

    def forget(self) -> None:
        """Ask the database again at the next request (a table turned out to be missing)."""
        with self._lock:
            self._current, self._next_check = False, 0.0


def guard(app: Flask | None = None) -> SchemaGuard:
    """The app's schema guard."""
    return (app or current_app).extensions[GUARD_KEY]


def init_app(app: Flask, *, migrations_dir: str) -> None:
    """Refuse /api requests with 503 while the schema is behind; answer missing tables the same way."""
    app.extensions[GUARD_KEY] = SchemaGuard(migrations_dir=migrations_dir, interval=app.config["SCHEMA_CHECK_INTERVAL"])

    @app.before_request
    def _refuse_while_behind():
        if not request.path.startswith("/api/") or request.path.startswith(UNGUARDED_PREFIXES):
            return None
        state = guard().state(db.engine)
        if state is not None and state.behind:
            return error_response(
                503,
                behind_message(state, mode=app.config["MODE"]),
                code=SchemaOutdated.code,
                extra={"command": UPGRADE_COMMAND},
            )
        return None

    def _missing_table(exc: Exception):
        if not MISSING_TABLE_RE.search(str(getattr(exc, "orig", exc))):
            log.exception("Unhandled database error")
            return error_response(500, "Internal server error")
        db.session.rollback()
        guard().forget()
        state = guard().state(db.engine)
        message = (
            behind_message(state, mode=app.config["MODE"])
            if state is not None and state.behind
            else f"The database is missing tables. Apply the migrations: {UPGRADE_COMMAND}"
        )
        return error_response(503, message, code=SchemaOutdated.code, extra={"command": UPGRADE_COMMAND})

    app.register_error_handler(ProgrammingError, _missing_table)
    app.register_error_handler(OperationalError, _missing_table)
