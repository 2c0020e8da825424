"""The user's history: list with filters, one item, delete (the one delete path of every detection), feedback, media."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..detection.models import DetectionContent, Video
from ..domain_errors import InvalidInput, NotFound
from ..jobs.models import ACTIVE_STATUSES, Job
from ..jobs.service import JobBackend
from ..storage import service as storage
from .models import DETECTION_TYPES, VERDICTS, DetectionHistory

log = logging.getLogger(__name__)
# Loads every item's content with the items (one query per kind, whatever the page size).
WITH_CONTENT = (
    selectinload(DetectionHistory.image),
    selectinload(DetectionHistory.video),
    selectinload(DetectionHistory.camera_detection),
)


@dataclass
class HistoryPage:
    """A page of history items with their content rows."""

    items: list[tuple[DetectionHistory, DetectionContent | None]]
    total: int
    page: int | None
    per_page: int | None

    @property
    def pages(self) -> int:
        if not self.per_page:
            return 1 if self.total else 0
        return (self.total + self.per_page - 1) // self.per_page


def list_history(
    *,
    session: Session,
    user_id: int,
    detection_type: str | None = None,
    verdict: str | None = None,
    page: int | None = None,
    per_page: int | None = None,
) -> HistoryPage:
    """The user's detections, newest first, optionally filtered and paginated."""
    if detection_type is not None and detection_type not in DETECTION_TYPES:
        raise InvalidInput(f"type must be one of: {', '.join(DETECTION_TYPES)}", fields={"type": "Invalid value"})
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be one of: {', '.join(VERDICTS)}", fields={"verdict": "Invalid value"})
    query = select(DetectionHistory).where(DetectionHistory.user_id == user_id)
    if detection_type:
        query = query.where(DetectionHistory.detection_type == detection_type)
    if verdict:
        query = query.where(judged(verdict))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    query = query.order_by(DetectionHistory.detection_time.desc(), DetectionHistory.id.desc()).options(*WITH_CONTENT)
    if page is not None or per_page is not None:
        page, per_page = page or 1, per_page or 20
        query = query.offset((page - 1) * per_page).limit(per_page)
    rows = list(session.execute(query).scalars())
    return HistoryPage(items=[(row, _own_content(row)) for row in rows], total=total, page=page, per_page=per_page)


def judged(verdict: str) -> ColumnElement[bool]:
    """SQL: the item's three-way verdict is ``verdict``; an item without one is fake or real by is_fake.

    The three verdicts split every history into three parts, each item in exactly one.
    """
    h = DetectionHistory
    if verdict == "uncertain":
        return h.verdict == "uncertain"
    return or_(h.verdict == verdict, and_(h.verdict.is_(None), h.is_fake.is_(verdict == "fake")))


def _own_content(row: DetectionHistory) -> DetectionContent | None:
    """The row's content when it belongs to the row's user (never show another user's detail)."""
    content = row.content
    return content if content is not None and content.user_id == row.user_id else None


def get_item(*, session: Session, user_id: int, history_id: int) -> tuple[DetectionHistory, DetectionContent | None]:
    """One of the user's history items with its content; 404 for missing or someone else's."""
    row = session.get(DetectionHistory, history_id)
    if row is None or row.user_id != user_id:
        raise NotFound("History item not found")
    return row, _own_content(row)


def delete_item(
    *, session: Session, user_id: int, history_id: int, upload_root: str, backend: JobBackend | None = None
) -> None:
    """Delete one of the user's history items with its detection (DELETE /api/history/<id>)."""
    row, content = get_item(session=session, user_id=user_id, history_id=history_id)
    if content is None:  # nothing behind it to delete: only the item goes
        session.delete(row)
        session.commit()
        return
    delete_detections(session=session, contents=[content], upload_root=upload_root, backend=backend)


def delete_detections(
    *, session: Session, contents: Iterable[DetectionContent], upload_root: str, backend: JobBackend | None = None
) -> list[int]:
    """The one delete path of detections of any kind: rows in one transaction, files after the commit.

    The database removes what hangs off each row (ON DELETE CASCADE: its history row; a video's jobs).
    A video's active job is stopped the same way whoever deletes it: its job row is gone, which the
    runner's cancel check reads as cancelled, and ``backend.cancel`` drops it from the queue if it has
    not started. Returns the ids of those active jobs.
    """
    contents = list(contents)
    if not contents:
        return []
    video_ids = [content.id for content in contents if content.KIND == Video.KIND]
    active = (
        list(
            session.execute(
                select(Job.id).where(Job.video_id.in_(video_ids), Job.status.in_(ACTIVE_STATUSES))
            ).scalars()
        )
        if video_ids
        else []
    )
    files = [path for content in contents for path in content.stored_files()]
    by_model: dict[type[DetectionContent], list[int]] = {}
    for content in contents:
        by_model.setdefault(type(content), []).append(content.id)
    for model, ids in by_model.items():
        session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
    session.commit()
    for relative in files:
        storage.remove(upload_root=upload_root, relative=relative)
    for job_id in active:
        _drop_from_queue(backend, job_id)
    return active


def _drop_from_queue(backend: JobBackend | None, job_id: int) -> None:
    """Tell the backend to drop a job; the deleted row already stops it, so a failure is only logged."""
    if backend is None:
        return
    try:
        backend.cancel(job_id)
    except Exception:
        log.exception("Could not tell the job backend to drop job %s", job_id)


def set_feedback(
    *, session: Session, user_id: int, history_id: int, correct: bool
) -> tuple[DetectionHistory, DetectionContent | None]:
    """Record whether the user judged the verdict correct."""
    row, content = get_item(session=session, user_id=user_id, history_id=history_id)
    row.feedback_correct = correct
    row.feedback_at = datetime.now(timezone.utc)
    session.commit()
    return row, content


def media_of(*, session: Session, user_id: int, history_id: int, upload_root: str) -> tuple[Path, str]:
    """(absolute path, download name) of the item's image, video thumbnail or camera frame; 404 if none."""
    _, content = get_item(session=session, user_id=user_id, history_id=history_id)
    media = content.media() if content is not None else None
    if media is None:
        raise NotFound("No stored media for this item")
    relative, name = media
    path = storage.absolute_path(upload_root=upload_root, relative=relative)
    if not path.is_file():
        raise NotFound("The stored media file is missing")
    return path, name
