"""One row per finished detection, whatever its type; carries the user's feedback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import utcnow
from ..detection.models import CONTENT_MODELS, CameraDetection, DetectionContent, Image, Video
from ..extensions import db

DETECTION_TYPES = tuple(CONTENT_MODELS)
# The three-way verdict (docs/architecture.md "Trust") a history row may carry; NULL: judged before it existed.
VERDICTS = ("fake", "uncertain", "real")
# detection_type -> the foreign key column (and relationship) naming that kind's row.
CONTENT_COLUMNS = {"image": "image_id", "video": "video_id", "camera": "camera_detection_id"}


def _exactly_one_content() -> str:
    """SQL: the foreign key of the row's type is set and equals content_id, the other two are NULL."""
    kinds = []
    for kind, column in CONTENT_COLUMNS.items():
        others = " AND ".join(f"{other} IS NULL" for other in CONTENT_COLUMNS.values() if other != column)
        kinds.append(f"(detection_type = '{kind}' AND {column} IS NOT NULL AND {column} = content_id AND {others})")
    return " OR ".join(kinds)


ONE_CONTENT_CHECK = _exactly_one_content()


class DetectionHistory(db.Model):
    """A detection in the user's history, pointing at its image, video or camera row by a real foreign key.

    Exactly one of image_id / video_id / camera_detection_id is set (a CHECK constraint), matching
    ``detection_type``; ``content_id`` repeats it (a documented field of the history item). Each key is
    ON DELETE CASCADE: deleting a detection row deletes its history row in the database, whoever deletes it.
    """

    __tablename__ = "detection_history"
    __table_args__ = (
        Index("ix_detection_history_user_time", "user_id", "detection_time"),
        CheckConstraint(ONE_CONTENT_CHECK, name="one_content"),
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
    # Added: fake, uncertain or real (an image's trust verdict, a camera frame's own); NULL for rows from before.
    verdict: Mapped[str | None] = mapped_column(String(10))
    # Indexed: the cascade and "the history row of this video / these frames" look rows up by them.
    image_id: Mapped[int | None] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("video.id", ondelete="CASCADE"), index=True)
    camera_detection_id: Mapped[int | None] = mapped_column(
        ForeignKey("camera_detection.id", ondelete="CASCADE"), index=True
    )

    image: Mapped[Image | None] = relationship(Image, passive_deletes=True)
    video: Mapped[Video | None] = relationship(Video, passive_deletes=True)
    camera_detection: Mapped[CameraDetection | None] = relationship(CameraDetection, passive_deletes=True)

    @classmethod
    def of(
        cls,
        content: DetectionContent,
        *,
        is_fake: bool,
        confidence: float,
        model_version: str | None,
        verdict: str | None = None,
    ) -> DetectionHistory:
        """A new history row for a stored (flushed) detection row of any kind.

        ``verdict``: the three-way verdict (fake, uncertain, real) when the detection has one, else None.
        """
        if verdict is not None and verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)} or None, got {verdict!r}")
        return cls(
            user_id=content.user_id,
            detection_type=content.KIND,
            content_id=content.id,
            is_fake=bool(is_fake),
            confidence_score=float(confidence),
            model_version=model_version,
            verdict=verdict,
            **{CONTENT_COLUMNS[content.KIND]: content.id},
        )

    @property
    def content(self) -> DetectionContent | None:
        """The image, video or camera row this item is about."""
        column = CONTENT_COLUMNS.get(self.detection_type)
        return getattr(self, column.removesuffix("_id")) if column else None
