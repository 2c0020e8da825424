"""Detections written the way the code before the history verdict column wrote them (for migration tests)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import bindparam, text

# The revision before detection_history had a `verdict` column.
BEFORE_HISTORY_VERDICT = "e5c3a9d1f207"
WHEN = "2026-01-01 00:00:00"  # a string: both databases read it, no driver adapter needed

_IMAGE = text(
    "INSERT INTO image (user_id, filename, file_path, file_size, upload_date, is_fake, confidence_score, "
    "processing_status, trust) VALUES (:u, 'old.png', 'images/old.png', 10, :t, :f, 90.0, 'completed', :trust) "
    "RETURNING id"
).bindparams(bindparam("trust", type_=sa.JSON))
_CAMERA = text(
    "INSERT INTO camera_detection (user_id, detection_date, is_fake, confidence_score, frame_result) "
    "VALUES (:u, :t, :f, 90.0, :frame) RETURNING id"
).bindparams(bindparam("frame", type_=sa.JSON))
_VIDEO = text(
    "INSERT INTO video (user_id, filename, file_path, file_size, upload_date, is_fake, confidence_score, "
    "processing_status) VALUES (:u, 'old.mp4', 'videos/old.mp4', 10, :t, :f, 90.0, 'completed') RETURNING id"
)
_HISTORY = (
    "INSERT INTO detection_history (user_id, detection_type, content_id, is_fake, confidence_score, "
    "detection_time, model_version, {column}) VALUES (:u, :kind, :c, :f, 90.0, :t, 'Old', :c) RETURNING id"
)


def insert_detections_before_history_verdict(session, *, user_id: int) -> dict[int, str | None]:
    """Images, camera frames and a video with history rows (old schema); returns history id -> expected verdict.

    Covers what the backfill must copy (a stored fake/uncertain/real) and what it must leave NULL: a JSON
    null, a verdict the three-way verdict does not know, a stored result without one, a video.
    """
    expected: dict[int, str | None] = {}
    images = [
        ({"verdict": "uncertain", "reasons": ["models disagree"]}, True, "uncertain"),
        ({"verdict": "fake", "reasons": []}, True, "fake"),
        (None, False, None),  # stored before the trust fields existed (JSON null)
        ({"verdict": "maybe"}, False, None),
    ]
    for trust, is_fake, verdict in images:
        image_id = session.execute(_IMAGE, {"u": user_id, "t": WHEN, "f": is_fake, "trust": trust}).scalar_one()
        expected[_history(session, user_id, "image", "image_id", image_id, is_fake)] = verdict
    frames = [({"verdict": "real", "fake_probability": 0.1}, False, "real"), ({"fake_probability": 0.9}, True, None)]
    for frame, is_fake, verdict in frames:
        camera_id = session.execute(_CAMERA, {"u": user_id, "t": WHEN, "f": is_fake, "frame": frame}).scalar_one()
        expected[_history(session, user_id, "camera", "camera_detection_id", camera_id, is_fake)] = verdict
    video_id = session.execute(_VIDEO, {"u": user_id, "t": WHEN, "f": True}).scalar_one()
    expected[_history(session, user_id, "video", "video_id", video_id, True)] = None
    session.commit()
    return expected


def _history(session, user_id: int, kind: str, column: str, content_id: int, is_fake: bool) -> int:
    return session.execute(
        text(_HISTORY.format(column=column)), {"u": user_id, "kind": kind, "c": content_id, "f": is_fake, "t": WHEN}
    ).scalar_one()


def stored_verdicts(session) -> dict[int, str | None]:
    """history id -> its verdict column."""
    return dict(session.execute(text("SELECT id, verdict FROM detection_history")).all())
