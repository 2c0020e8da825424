"""JSON shapes for history items."""

from __future__ import annotations

from ..detection.serializers import media_url
from ..serialization import iso, text


def history_item(row, content) -> dict:
    """A history item: the table's columns plus feedback, filename and media_url."""
    return {
        "id": row.id,
        "detection_type": row.detection_type,
        "content_id": row.content_id,
        "is_fake": row.is_fake,
        "confidence_score": row.confidence_score,
        "detection_time": iso(row.detection_time),
        "model_version": text(row.model_version),
        "feedback": row.feedback_correct,
        "filename": getattr(content, "filename", None),
        "media_url": media_url(row.id) if content is not None and content.media() else None,
    }


def history_detail(row, content) -> dict:
    """One item with the detail of its content (faces, timeline, smoothing window)."""
    return {**history_item(row, content), "detail": content.detail(row.id) if content is not None else None}
