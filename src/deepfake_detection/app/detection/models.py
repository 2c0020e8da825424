"""Detection records: images, videos and camera frames (the documented tables, plus result detail).

Each kind answers the same questions itself (``stored_files``, ``media``, ``detail``), so code that
handles "a detection" (history, deletes, the orphan sweep) never asks which kind it holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..auth.models import utcnow
from ..extensions import db
from ..schemas_common import dump
from ..serialization import iso
from .schemas import VideoVerdict


class DetectionContent:
    """What every kind of detection row offers; ``KIND`` is its history ``detection_type``."""

    KIND: str
    if TYPE_CHECKING:  # mapped by every subclass (a mapped column here would map it on the mixin)
        id: Mapped[int]
        user_id: Mapped[int]
    # The folder of its files under the upload root, and the columns naming them (the orphan sweep's map).
    MEDIA_FOLDER: str
    FILE_COLUMNS: tuple[str, ...]

    def stored_files(self) -> list[str]:
        """Upload-relative paths of the files this detection owns (deleted with it)."""
        return [path for path in (getattr(self, column) for column in self.FILE_COLUMNS) if path]

    def media(self) -> tuple[str, str] | None:
        """(relative path, download name) of the file GET /api/history/<id>/media serves, or None."""
        raise NotImplementedError

    def detail(self, history_id: int | None) -> dict:
        """The ``detail`` of its history item (faces, timeline, smoothing window...)."""
        raise NotImplementedError


class Image(DetectionContent, db.Model):
    """An uploaded image and its verdict."""

    KIND, MEDIA_FOLDER, FILE_COLUMNS = "image", "images", ("file_path",)
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
    # The inference backend and precision that produced the verdict (part of its evidence); None before it was kept.
    backend: Mapped[str | None] = mapped_column(String(64))
    # Three-way verdict, reasons, members, calibration, robustness, faces summary (ImageVerdict.trust()); None before.
    trust: Mapped[dict | None] = mapped_column(JSON)

    def media(self) -> tuple[str, str] | None:
        return (self.file_path, self.filename) if self.file_path else None

    def detail(self, history_id: int | None) -> dict:
        return {
            "trust": self.trust,
            "image_id": self.id,
            "file_size": self.file_size,
            "model_key": self.model_key,
            "fake_probability": self.fake_probability,
            "face_found": self.face_found,
            "faces": self.faces or [],
            "width": self.width,
            "height": self.height,
            "processing_time_ms": self.processing_time_ms,
            "backend": self.backend,
            "upload_date": iso(self.upload_date),
        }


class Video(DetectionContent, db.Model):
    """An uploaded video, its processing state and its verdict."""

    KIND, MEDIA_FOLDER, FILE_COLUMNS = "video", "videos", ("file_path", "thumbnail_path")
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
    backend: Mapped[str | None] = mapped_column(String(64))  # as Image.backend
    # Verdict, reasons, segments, segments_text, fake_share, members, calibration (VideoVerdict.trust()); None before.
    trust: Mapped[dict | None] = mapped_column(JSON)

    def media(self) -> tuple[str, str] | None:
        return (self.thumbnail_path, "thumbnail.jpg") if self.thumbnail_path else None

    def detail(self, history_id: int | None) -> dict:
        detail = dump(VideoVerdict.of(self, history_id))
        detail.pop("is_fake"), detail.pop("confidence")
        detail.update(file_size=self.file_size, upload_date=iso(self.upload_date), status=self.processing_status)
        return detail


class CameraDetection(DetectionContent, db.Model):
    """One analysed webcam frame with its smoothed verdict."""

    KIND, MEDIA_FOLDER, FILE_COLUMNS = "camera", "camera", ("frame_path",)
    __tablename__ = "camera_detection"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (see auth.models.User)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    # Indexed for the retention purge, which takes the oldest frames first.
    detection_date: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, nullable=False, index=True
    )
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

    def media(self) -> tuple[str, str] | None:
        return (self.frame_path, self.frame_path.rsplit("/", 1)[-1]) if self.frame_path else None

    def detail(self, history_id: int | None) -> dict:
        return {
            "detection_id": self.id,
            "model_key": self.model_key,
            "session_id": self.session_id,
            "fake_probability": self.fake_probability,
            "frame": self.frame_result,
            "window_size": self.window_size,
            "frames_in_window": self.frames_in_window,
            "fake_votes": self.fake_votes,
        }


# history detection_type -> content model
CONTENT_MODELS: dict[str, type[DetectionContent]] = {model.KIND: model for model in (Image, Video, CameraDetection)}
