"""Users and revoked tokens."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Index, Integer, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(timezone.utc)


class User(db.Model):
    """An account; owns every detection it made. Username and email are unique ignoring case."""

    __tablename__ = "user"
    # Ids are never handed out twice (SQLite would reuse the highest after a delete): a token names its user by id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    # Administrators fit and switch the deployment's calibrations. Granted only by an operator through the
    # CLI (`grant-admin`), never by sign-up, not even to the first account.
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())


# The database itself refuses "Bob" next to "bob": a check in code alone loses races between requests.
# Login looks users up by these same expressions, so these indexes serve it too.
Index("uq_user_lower_username", func.lower(User.username), unique=True)
Index("uq_user_lower_email", func.lower(User.email), unique=True)


class RevokedToken(db.Model):
    """A JWT revoked by logout, kept until it would have expired anyway."""

    __tablename__ = "revoked_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
