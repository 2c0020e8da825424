"""Embedded implementations: in-process memory, or the database for revocations that survive restarts."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from ...engine import InMemorySmoothingStore
from ..auth.models import RevokedToken
from ..database import read_only
from ..extensions import db


def new_smoothing_store():
    """The engine's in-memory camera smoothing store."""
    return InMemorySmoothingStore()


class InMemoryRevokedTokenStore:
    """Revoked token ids in a dict; forgotten on restart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revoked: dict[str, datetime] = {}

    def revoke(self, jti: str, expires_at: datetime) -> None:
        """Remember the id and drop those already expired."""
        now = datetime.now(timezone.utc)
        with self._lock:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoked[jti] = expires_at

    def is_revoked(self, jti: str) -> bool:
        """True when the id was revoked."""
        with self._lock:
            return jti in self._revoked


class DatabaseRevokedTokenStore:
    """Revoked token ids in the revoked_token table, so logout survives a restart.

    Uses its own short connections, not the request session: the check runs before every
    protected view and must not leave a transaction open while a model runs.
    """

    def revoke(self, jti: str, expires_at: datetime) -> None:
        """Insert the id (idempotent) and purge expired rows."""
        table = RevokedToken.__table__
        now = datetime.now(timezone.utc)
        with db.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.expires_at < now))
            try:
                with conn.begin_nested():
                    conn.execute(insert(table).values(jti=jti, expires_at=expires_at, revoked_at=now))
            except IntegrityError:
                pass  # already revoked: logout twice is fine

    def is_revoked(self, jti: str) -> bool:
        """True when the id is in the table."""
        table = RevokedToken.__table__
        with db.engine.connect() as conn:
            # Read-only: on SQLite the check must not queue behind writers for the write lock.
            conn.execution_options(**read_only())
            return conn.execute(select(table.c.id).where(table.c.jti == jti)).first() is not None
