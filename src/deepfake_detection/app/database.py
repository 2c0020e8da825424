"""Database engine tuning: SQLite pragmas and write-safe transactions."""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


def is_sqlite(uri: str) -> bool:
    """True when the SQLAlchemy URL points at SQLite."""
    return uri.startswith("sqlite")


def sqlite_engine_options() -> dict:
    """Engine options for SQLite: shared across threads, generous busy timeout."""
    return {"connect_args": {"timeout": 30, "check_same_thread": False}}


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record) -> None:
    """Turn on WAL, foreign keys and a busy timeout for every new SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # The driver's own transaction handling is switched off so that "begin" below decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection) -> None:
    """Start SQLite transactions as IMMEDIATE so concurrent writers queue instead of failing.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another connection wrote in between; IMMEDIATE takes the write lock up front and
    waits up to the busy timeout instead.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class MigrationRefused(RuntimeError):
    """A migration cannot be applied to the data as it is; the message says what to fix first."""
