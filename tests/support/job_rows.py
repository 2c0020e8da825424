"""Job rows written the way the code before the job error code wrote them (for migration tests)."""

from __future__ import annotations

from sqlalchemy import text

# The revision before job rows stored a domain error code instead of an HTTP status.
BEFORE_JOB_ERROR_CODE = "d4f7a9c31b58"
NO_MODEL_MESSAGE = "The model is not downloaded. Fetch it with: deepfake download-models --model tiny"


def insert_failed_video_job(session, *, user_id: int, error_status: int) -> int:
    """A failed video with its job holding ``error_status`` (old schema); returns the video id."""
    now = "2026-01-01 00:00:00"
    video_id = session.execute(
        text(
            "INSERT INTO video (user_id, filename, file_path, file_size, upload_date, processing_status) "
            "VALUES (:u, 'old.mp4', 'videos/old.mp4', 10, :t, 'failed') RETURNING id"
        ),
        {"u": user_id, "t": now},
    ).scalar_one()
    session.execute(
        text(
            "INSERT INTO job (kind, user_id, video_id, status, progress, message, error_status, attempts, "
            "cancel_requested, created_at, updated_at) "
            "VALUES ('video', :u, :v, 'failed', 0, :m, :s, 1, false, :t, :t)"
        ),
        {"u": user_id, "v": video_id, "m": NO_MODEL_MESSAGE, "s": error_status, "t": now},
    )
    session.commit()
    return video_id
