"""Detection records: images, videos and camera frames (the documented tables, plus result detail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.models import utcnow
from ..extensions import db


class Image(db.Model):
    """An uploaded image and its verdict."""

    __tablename__ = "image"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (see auth.models.User)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    file_path: Mapped[str] = mapped_column(String(512), nullable=False)
    file_size: Mapped[int] = mapped_column(Integer, nullable=False)
    upload_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    is_fake: Mapped[bool | None] = mapped_column(Boolean)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    processing_status: Mapped[str] = mapped_column(String(20), default="completed", nullable=False)
    model_used: Mapped[str | None] = mapped_column(String(120))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Added: richer result detail.
    model_key: Mapped[str | None] = mapped_column(String(64))
    fake_probability: Mapped[float | None] = mapped_column(Float)
    face_found: Mapped[bool | None] = mapped_column(Boolean)
    faces: Mapped[list | None] = mapped_column(JSON)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    processing_time_ms: Mapped[float | None] = mapped_column(Float)


class Video(db.Model):
    """An uploaded video, its processing state and its verdict."""

    __tablename__ = "video"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (see auth.models.User)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    file_path: Mapped[str] = mapped_column(String(512), nullable=False)
    file_size: Mapped[int] = mapped_column(Integer, nullable=False)
    duration: Mapped[float | None] = mapped_column(Float)
    upload_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    is_fake: Mapped[bool | None] = mapped_column(Boolean)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    processing_status: Mapped[str] = mapped_column(String(20), default="queued", nullable=False)
    model_used: Mapped[str | None] = mapped_column(String(120))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    thumbnail_path: Mapped[str | None] = mapped_column(String(512))
    # Added: richer result detail.
    model_key: Mapped[str | None] = mapped_column(String(64))
    fake_probability: Mapped[float | None] = mapped_column(Float)
    fake_frames: Mapped[int | None] = mapped_column(Integer)
    real_frames: Mapped[int | None] = mapped_column(Integer)
    frames_analyzed: Mapped[int | None] = mapped_column(Integer)
    frames_skipped: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    timeline: Mapped[list | None] = mapped_column(JSON)
    processing_time_ms: Mapped[float | None] = mapped_column(Float)


class CameraDetection(db.Model):
    """One analysed webcam frame with its smoothed verdict."""

    __tablename__ = "camera_detection"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (see auth.models.User)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    # Indexed for the retention purge, which takes the oldest frames first.
    detection_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False,
                                                     index=True)
    is_fake: Mapped[bool | None] = mapped_column(Boolean)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    frame_path: Mapped[str | None] = mapped_column(String(512))
    # Added: richer result detail.
    model_used: Mapped[str | None] = mapped_column(String(120))
    model_key: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    fake_probability: Mapped[float | None] = mapped_column(Float)
    frame_result: Mapped[dict | None] = mapped_column(JSON)
    window_size: Mapped[int | None] = mapped_column(Integer)
    frames_in_window: Mapped[int | None] = mapped_column(Integer)
    fake_votes: Mapped[int | None] = mapped_column(Integer)
