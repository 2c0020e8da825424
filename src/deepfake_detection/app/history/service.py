"""The user's history: list with filters, one item, delete with its media, feedback, media path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..detection.models import CameraDetection, Image, Video
from ..domain_errors import InvalidInput, NotFound
from ..jobs.models import Job
from ..storage import service as storage
from .models import DETECTION_TYPES, DetectionHistory

CONTENT_MODELS = {"image": Image, "video": Video, "camera": CameraDetection}


@dataclass
class HistoryPage:
    """A page of history items with their content rows."""

    items: list[tuple[DetectionHistory, object | None]]
    total: int
    page: int | None
    per_page: int | None

    @property
    def pages(self) -> int:
        if not self.per_page:
            return 1 if self.total else 0
        return (self.total + self.per_page - 1) // self.per_page


def list_history(*, session: Session, user_id: int, detection_type: str | None = None, verdict: str | None = None,
                 page: int | None = None, per_page: int | None = None) -> HistoryPage:
    """The user's detections, newest first, optionally filtered and paginated."""
    if detection_type is not None and detection_type not in DETECTION_TYPES:
        raise InvalidInput(f"type must be one of: {', '.join(DETECTION_TYPES)}", fields={"type": "Invalid value"})
    if verdict is not None and verdict not in ("fake", "real"):
        raise InvalidInput("verdict must be 'fake' or 'real'", fields={"verdict": "Invalid value"})
    query = select(DetectionHistory).where(DetectionHistory.user_id == user_id)
    if detection_type:
        query = query.where(DetectionHistory.detection_type == detection_type)
    if verdict:
        query = query.where(DetectionHistory.is_fake.is_(verdict == "fake"))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    query = query.order_by(DetectionHistory.detection_time.desc(), DetectionHistory.id.desc())
    if page is not None or per_page is not None:
        page, per_page = page or 1, per_page or 20
        query = query.offset((page - 1) * per_page).limit(per_page)
    rows = list(session.execute(query).scalars())
    return HistoryPage(items=_with_content(session, rows), total=total, page=page, per_page=per_page)


def _with_content(session: Session, rows: list[DetectionHistory]) -> list[tuple[DetectionHistory, object | None]]:
    """Pair each history row with its content row, one query per type."""
    wanted: dict[str, set[int]] = {}
    for row in rows:
        wanted.setdefault(row.detection_type, set()).add(row.content_id)
    found: dict[tuple[str, int], object] = {}
    for kind, ids in wanted.items():
        model = CONTENT_MODELS.get(kind)
        if model is None:
            continue
        for content in session.execute(select(model).where(model.id.in_(ids))).scalars():
            found[(kind, content.id)] = content
    return [(row, found.get((row.detection_type, row.content_id))) for row in rows]


def get_item(*, session: Session, user_id: int, history_id: int) -> tuple[DetectionHistory, object | None]:
    """One of the user's history items with its content; 404 for missing or someone else's."""
    row = session.get(DetectionHistory, history_id)
    if row is None or row.user_id != user_id:
        raise NotFound("History item not found")
    model = CONTENT_MODELS.get(row.detection_type)
    content = session.get(model, row.content_id) if model else None
    if content is not None and content.user_id != user_id:
        content = None
    return row, content


def delete_item(*, session: Session, user_id: int, history_id: int, upload_root: str) -> None:
    """Delete a history item, its content row and its stored files (files only after the commit)."""
    row, content = get_item(session=session, user_id=user_id, history_id=history_id)
    files: list[str | None] = []
    if isinstance(content, Image):
        files.append(content.file_path)
    elif isinstance(content, Video):
        files += [content.file_path, content.thumbnail_path]
    elif isinstance(content, CameraDetection):
        files.append(content.frame_path)
    if content is not None:
        if isinstance(content, Video):
            # A running job notices its row is gone (should_cancel) and stops.
            session.execute(delete(Job).where(Job.video_id == content.id))
        session.delete(content)
    session.delete(row)
    session.commit()
    for relative in files:
        storage.remove(upload_root=upload_root, relative=relative)


def set_feedback(*, session: Session, user_id: int, history_id: int, correct: bool):
    """Record whether the user judged the verdict correct."""
    row, content = get_item(session=session, user_id=user_id, history_id=history_id)
    row.feedback_correct = correct
    row.feedback_at = datetime.now(timezone.utc)
    session.commit()
    return row, content


def media_of(*, session: Session, user_id: int, history_id: int, upload_root: str):
    """(absolute path, download name) of the item's image, video thumbnail or camera frame; 404 if none."""
    row, content = get_item(session=session, user_id=user_id, history_id=history_id)
    relative = None
    name = None
    if isinstance(content, Image):
        relative, name = content.file_path, content.filename
    elif isinstance(content, Video):
        relative, name = content.thumbnail_path, "thumbnail.jpg"
    elif isinstance(content, CameraDetection):
        relative = content.frame_path
        name = relative.rsplit("/", 1)[-1] if relative else None
    if not relative:
        raise NotFound("No stored media for this item")
    path = storage.absolute_path(upload_root=upload_root, relative=relative)
    if not path.is_file():
        raise NotFound("The stored media file is missing")
    return path, name
