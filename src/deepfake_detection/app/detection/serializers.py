"""JSON shapes for detection answers (documented fields first, additions after)."""

from __future__ import annotations

from ..serialization import iso


def media_url(history_id: int | None) -> str | None:
    """Where the owner fetches the stored media of a history item."""
    return f"/api/history/{history_id}/media" if history_id is not None else None


def image_result(image, history, verdict) -> dict:
    """POST /api/detect/image answer."""
    return {
        "success": True,
        "is_fake": image.is_fake,
        "confidence": image.confidence_score,
        "image_id": image.id,
        "model_used": image.model_used,
        "model_key": image.model_key,
        "fake_probability": image.fake_probability,
        "face_found": image.face_found,
        "faces": image.faces or [],
        "width": image.width,
        "height": image.height,
        "processing_time_ms": image.processing_time_ms,
        "history_id": history.id,
        "filename": image.filename,
        "media_url": media_url(history.id),
    }


def video_result_fields(video, history_id: int | None) -> dict:
    """The verdict fields of a finished video."""
    return {
        "is_fake": video.is_fake,
        "confidence": video.confidence_score,
        "video_id": video.id,
        "model_used": video.model_used,
        "model_key": video.model_key,
        "fake_probability": video.fake_probability,
        "fake_frames": video.fake_frames,
        "real_frames": video.real_frames,
        "frames_analyzed": video.frames_analyzed,
        "frames_skipped": video.frames_skipped,
        "duration": video.duration,
        "fps": video.fps,
        "timeline": video.timeline or [],
        "thumbnail_url": media_url(history_id) if video.thumbnail_path else None,
        "processing_time_ms": video.processing_time_ms,
        "history_id": history_id,
    }


def video_status(video, job, history_id: int | None) -> dict:
    """GET /api/videos/<id>: status, progress and, once completed, the result."""
    body = {
        "id": video.id,
        "filename": video.filename,
        "file_size": video.file_size,
        "upload_date": iso(video.upload_date),
        "status": job.status if job else video.processing_status,
        "progress": job.progress if job else (100 if video.processing_status == "completed" else 0),
        "message": job.message if job else None,
        "job_id": job.id if job else None,
        "model_key": video.model_key,
    }
    if body["status"] == "completed":
        body.update(video_result_fields(video, history_id))
    return body


def camera_result(detection, history, verdict) -> dict:
    """POST /api/detect/camera answer: smoothed verdict plus this frame's own result."""
    return {
        "success": True,
        "is_fake": detection.is_fake,
        "confidence": detection.confidence_score,
        "model_used": detection.model_used,
        "model_key": detection.model_key,
        "fake_probability": detection.fake_probability,
        "frame": detection.frame_result,
        "window_size": detection.window_size,
        "frames_in_window": detection.frames_in_window,
        "fake_votes": detection.fake_votes,
        "session_id": detection.session_id,
        "detection_id": detection.id,
        "history_id": history.id,
    }
