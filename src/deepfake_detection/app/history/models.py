"""One row per finished detection, whatever its type; carries the user's feedback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.models import utcnow
from ..extensions import db

DETECTION_TYPES = ("image", "video", "camera")


class DetectionHistory(db.Model):
    """A detection in the user's history; content_id points into image, video or camera_detection."""

    __tablename__ = "detection_history"
    __table_args__ = (
        Index("ix_detection_history_user_time", "user_id", "detection_time"),
        # The history row of a given detection (video status, camera frame retention).
        Index("ix_detection_history_type_content", "detection_type", "content_id"),
        {"sqlite_autoincrement": True},  # ids are never reused (see auth.models.User)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    detection_type: Mapped[str] = mapped_column(String(10), nullable=False)
    content_id: Mapped[int] = mapped_column(Integer, nullable=False)
    is_fake: Mapped[bool] = mapped_column(Boolean, nullable=False)
    confidence_score: Mapped[float] = mapped_column(Float, nullable=False)
    detection_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    model_version: Mapped[str | None] = mapped_column(String(255))
    # Added: the user's judgement of the verdict (None until given); the basis of honest accuracy.
    feedback_correct: Mapped[bool | None] = mapped_column(Boolean)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
