"""JSON shapes for detection answers (documented fields first, additions after)."""

from __future__ import annotations

from ..serialization import integer, iso, number, text, verdict_message

# What GET /api/videos/<id> says while a job has no message of its own (a completed one says its verdict).
STATUS_MESSAGES = {
    "queued": "Waiting to start",
    "processing": "Analysing the video",
    "failed": "Video detection failed",
    "cancelled": "Cancelled",
}


def media_url(history_id: int | None) -> str | None:
    """Where the owner fetches the stored media of a history item."""
    return f"/api/history/{history_id}/media" if history_id is not None else None


def image_result(image, history, verdict) -> dict:
    """POST /api/detect/image answer."""
    return {
        "success": True,
        "is_fake": bool(image.is_fake),
        "confidence": number(image.confidence_score),
        "image_id": image.id,
        "model_used": text(image.model_used, image.model_key),
        "message": verdict_message(image.is_fake),
        "model_key": text(image.model_key),
        "fake_probability": number(image.fake_probability),
        "face_found": bool(image.face_found),
        "faces": image.faces or [],
        "width": integer(image.width),
        "height": integer(image.height),
        "processing_time_ms": number(image.processing_time_ms),
        "history_id": history.id,
        "filename": image.filename,
        "media_url": media_url(history.id),
    }


def video_result_fields(video, history_id: int | None) -> dict:
    """The verdict fields of a finished video."""
    return {
        "is_fake": bool(video.is_fake),
        "confidence": number(video.confidence_score),
        "video_id": video.id,
        "model_used": text(video.model_used, video.model_key),
        "message": verdict_message(video.is_fake),
        "model_key": text(video.model_key),
        "fake_probability": number(video.fake_probability),
        "fake_frames": integer(video.fake_frames),
        "real_frames": integer(video.real_frames),
        "frames_analyzed": integer(video.frames_analyzed),
        "frames_skipped": integer(video.frames_skipped),
        "duration": number(video.duration),
        "fps": number(video.fps),
        "timeline": video.timeline or [],
        "thumbnail_url": media_url(history_id) if video.thumbnail_path else None,
        "processing_time_ms": number(video.processing_time_ms),
        "history_id": history_id,
    }


def video_status(video, job, history_id: int | None) -> dict:
    """GET /api/videos/<id>: status, progress and, once completed, the result."""
    status = job.status if job else video.processing_status
    body = {
        "id": video.id,
        "filename": video.filename,
        "file_size": video.file_size,
        "upload_date": iso(video.upload_date),
        "status": status,
        "progress": job.progress if job else (100 if video.processing_status == "completed" else 0),
        "message": (job.message if job else None) or STATUS_MESSAGES.get(status, status),
        "job_id": job.id if job else None,
        "model_key": video.model_key,
        # Why a failed or cancelled job ended (app/domain_errors.py); clients branch on it, not on the message.
        "error_code": job.error_code if job else None,
    }
    if status == "completed":
        body.update(video_result_fields(video, history_id))
    return body


def camera_result(detection, history, verdict) -> dict:
    """POST /api/detect/camera answer: smoothed verdict plus this frame's own result."""
    return {
        "success": True,
        "is_fake": bool(detection.is_fake),
        "confidence": number(detection.confidence_score),
        "model_used": text(detection.model_used, detection.model_key),
        "message": verdict_message(detection.is_fake),
        "model_key": text(detection.model_key),
        "fake_probability": number(detection.fake_probability),
        "frame": detection.frame_result,
        "window_size": integer(detection.window_size),
        "frames_in_window": integer(detection.frames_in_window),
        "fake_votes": integer(detection.fake_votes),
        "session_id": detection.session_id,
        "detection_id": detection.id,
        "history_id": history.id,
    }
