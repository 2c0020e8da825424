"""JSON shapes for history items."""

from __future__ import annotations

from ..detection.models import CameraDetection, Image, Video
from ..detection.serializers import media_url, video_result_fields
from ..serialization import iso, text


def history_item(row, content) -> dict:
    """A history item: the table's columns plus feedback, filename and media_url."""
    filename = getattr(content, "filename", None)
    has_media = bool(
        (isinstance(content, Image) and content.file_path)
        or (isinstance(content, Video) and content.thumbnail_path)
        or (isinstance(content, CameraDetection) and content.frame_path)
    )
    return {
        "id": row.id,
        "detection_type": row.detection_type,
        "content_id": row.content_id,
        "is_fake": row.is_fake,
        "confidence_score": row.confidence_score,
        "detection_time": iso(row.detection_time),
        "model_version": text(row.model_version),
        "feedback": row.feedback_correct,
        "filename": filename,
        "media_url": media_url(row.id) if has_media else None,
    }


def history_detail(row, content) -> dict:
    """One item with the detail of its content (faces, timeline, smoothing window)."""
    item = history_item(row, content)
    if isinstance(content, Image):
        item["detail"] = {
            "image_id": content.id, "file_size": content.file_size, "model_key": content.model_key,
            "fake_probability": content.fake_probability, "face_found": content.face_found,
            "faces": content.faces or [], "width": content.width, "height": content.height,
            "processing_time_ms": content.processing_time_ms, "upload_date": iso(content.upload_date),
        }
    elif isinstance(content, Video):
        detail = video_result_fields(content, row.id)
        detail.pop("is_fake"), detail.pop("confidence")
        detail.update(file_size=content.file_size, upload_date=iso(content.upload_date),
                      status=content.processing_status)
        item["detail"] = detail
    elif isinstance(content, CameraDetection):
        item["detail"] = {
            "detection_id": content.id, "model_key": content.model_key, "session_id": content.session_id,
            "fake_probability": content.fake_probability, "frame": content.frame_result,
            "window_size": content.window_size, "frames_in_window": content.frames_in_window,
            "fake_votes": content.fake_votes,
        }
    else:
        item["detail"] = None
    return item
