"""An Idempotency-Key a user sent with a detection request, and the answer it got."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.models import utcnow
from ..extensions import db


class IdempotencyKey(db.Model):
    """One key of one user: the request it was first used for and, once answered, the answer."""

    __tablename__ = "idempotency_key"
    # Keys are the client's choice, so they are only unique per user.
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    # Which endpoint and which payload (a sha256 over both): reusing a key for another request is refused.
    endpoint: Mapped[str] = mapped_column(String(64), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    # None while the first request is still being processed.
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict | None] = mapped_column(JSON)
    # Indexed for the purge of expired keys.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False, index=True)
