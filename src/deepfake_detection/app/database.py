"""Database engine tuning: SQLite pragmas and which transactions take SQLite's write lock.

SQLite allows one writer at a time. The rule this module enforces, and the code relies on:

- A transaction that may write starts as ``BEGIN IMMEDIATE``: it takes the write lock up front, so
  concurrent writers queue (up to the busy timeout) instead of failing. It must stay short: no password
  hashing, model inference or file I/O while it is open - everyone else's writes wait for it.
- Read-only work starts as a plain (deferred) ``BEGIN`` and never takes the write lock; in WAL mode it
  reads a snapshot while writers go on. Read-only are: requests whose method is GET, HEAD or OPTIONS
  (they must not write), and connections given the execution option ``READ_ONLY`` (``read_only()``),
  e.g. the JWT checks' own connections and the login lookup. A deferred transaction must never write:
  in WAL mode, upgrading a read to a write fails at once (SQLITE_BUSY_SNAPSHOT) when another connection
  wrote in between, which is why everything else stays IMMEDIATE. An INSERT/UPDATE/DELETE in a deferred
  transaction raises ``ReadOnlyTransactionError`` at once; a GET that really must write starts its
  transaction with ``session.connection(execution_options={READ_ONLY: False})``.
  Work outside requests (job threads, Celery workers, migrations, the CLI) stays IMMEDIATE.

PostgreSQL needs none of this (row locks, MVCC); the "begin" hook only acts on SQLite.
"""

from __future__ import annotations

import sqlite3

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# Execution option: True = this connection's transactions only read (deferred BEGIN on SQLite),
# False = they may write (BEGIN IMMEDIATE); unset = decided by the request method.
READ_ONLY = "deepfake_read_only"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Per DBAPI connection: whether its current SQLite transaction began deferred (set at every BEGIN).
_DEFERRED = "deepfake_deferred_transaction"


class ReadOnlyTransactionError(RuntimeError):
    """Code running read-only (see the module docstring) tried to write."""


def read_only() -> dict:
    """Execution options for a connection or session transaction that only reads."""
    return {READ_ONLY: True}


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
def _sqlite_on_begin(connection: Connection) -> None:
    """Start SQLite transactions as IMMEDIATE when they may write, deferred when they only read.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another connection wrote in between; IMMEDIATE takes the write lock up front and
    waits up to the busy timeout instead. Reads need no lock, so they do not queue behind writers.
    """
    if connection.dialect.name == "sqlite":
        deferred = is_read_only(connection)
        connection.info[_DEFERRED] = deferred
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_writes_in_deferred_transactions(
    connection: Connection, _cursor, statement, _parameters, context, _executemany
) -> None:
    """Fail at once, naming the statement, when read-only work writes (instead of "database is locked" later)."""
    if (
        connection.info.get(_DEFERRED)
        and context is not None
        and (context.isinsert or context.isupdate or context.isdelete)
    ):
        raise ReadOnlyTransactionError(
            f"a write in a read-only transaction (GET/HEAD/OPTIONS request or READ_ONLY connection): {statement[:80]}"
        )


def is_read_only(connection: Connection) -> bool:
    """True when this connection's transaction only reads (see the module docstring)."""
    option = connection.get_execution_options().get(READ_ONLY)
    if option is not None:
        return bool(option)
    return has_request_context() and request.method in READ_ONLY_METHODS


class MigrationRefused(RuntimeError):
    """A migration cannot be applied to the data as it is; the message says what to fix first."""
