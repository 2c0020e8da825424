"""Camera frame retention, and the sweep of stored files that no row refers to.

A camera frame is three things: the file under camera/, its ``camera_detection`` row and its
``detection_history`` row. Frames go through the one delete path of detections
(``history.service.delete_detections``): the rows in one transaction (the history row by its foreign
key's ON DELETE CASCADE) and the files only after it commits, so nothing visible is ever half-deleted:
a crash in between leaves files without rows, never a history item whose frame is missing.

Uploads too write their file before the row commits (images/, videos/ with thumbnails, camera/), so a
process killed in between leaves a file (or a ``.part``) that no row names. ``remove_orphan_files``
deletes those in every media folder; it runs when an app starts and from the command line.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..history.service import delete_detections
from ..storage import service as storage
from .models import CONTENT_MODELS, CameraDetection

log = logging.getLogger(__name__)
# What the API and the workers write: <folder>/<uuid hex>.<ext>, or its temporary .part while writing.
# Anything else in the folders (an operator's notes, a backup) is never touched.
MEDIA_FILE_RE = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,10}(\.part)?$")
# The columns that refer to the files of each folder (each kind of detection names its own).
REFERENCING_COLUMNS = {
    model.MEDIA_FOLDER: tuple(getattr(model, column) for column in model.FILE_COLUMNS)
    for model in CONTENT_MODELS.values()
}
# Orphans are looked up in the database this many at a time (bounded IN lists).
_ORPHAN_CHUNK = 500


def retention_cutoff(*, days: int, now: datetime | None = None) -> datetime:
    """The moment before which camera frames are expired."""
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def purge_camera_frames(*, session: Session, upload_root: str, older_than: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the oldest frames taken before ``older_than``; returns how many."""
    frames = (
        session.execute(
            select(CameraDetection)
            .where(CameraDetection.detection_date < older_than)
            .order_by(CameraDetection.detection_date, CameraDetection.id)
            .limit(limit)
            # Concurrent purgers (several API processes) take disjoint batches on PostgreSQL; SQLite's
            # write lock already serialises them.
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not frames:
        session.rollback()
        return 0
    delete_detections(session=session, contents=frames, upload_root=upload_root)
    return len(frames)


def purge_all_camera_frames(*, session: Session, upload_root: str, older_than: datetime, batch: int = 500) -> int:
    """Delete every frame taken before ``older_than``, one short transaction per batch; returns how many."""
    total = 0
    while True:
        deleted = purge_camera_frames(session=session, upload_root=upload_root, older_than=older_than, limit=batch)
        total += deleted
        if deleted < batch:
            return total


def remove_orphan_files(
    *,
    session: Session,
    upload_root: str,
    older_than: datetime,
    folders: tuple[str, ...] = storage.SUBFOLDERS,
    limit: int | None = None,
) -> dict[str, int]:
    """Delete stored files last written before ``older_than`` that no row refers to; counts per folder.

    ``limit`` bounds the directory entries looked at per folder (the sweep at start must stay cheap;
    the command line looks at everything).
    """
    cutoff = older_than.timestamp()
    removed: dict[str, int] = {}
    for folder in folders:
        # Only old files: a fresh one may belong to a request that has not committed its row yet.
        candidates = [f"{folder}/{name}" for name in _old_media_files(Path(upload_root, folder), cutoff, limit)]
        removed[folder] = 0
        for start in range(0, len(candidates), _ORPHAN_CHUNK):
            chunk = candidates[start : start + _ORPHAN_CHUNK]
            referenced: set[str] = set()
            for column in REFERENCING_COLUMNS[folder]:
                referenced.update(session.execute(select(column).where(column.in_(chunk))).scalars())
            session.rollback()
            for relative in set(chunk) - referenced:
                storage.remove(upload_root=upload_root, relative=relative)
                removed[folder] += 1
    return removed


def remove_orphan_frame_files(*, session: Session, upload_root: str, older_than: datetime) -> int:
    """Delete camera frame files last written before ``older_than`` that no row refers to; returns how many."""
    return remove_orphan_files(session=session, upload_root=upload_root, older_than=older_than, folders=("camera",))[
        "camera"
    ]


def _old_media_files(folder: Path, cutoff: float, limit: int | None) -> list[str]:
    """Names of the service's files in ``folder`` last written before ``cutoff`` (epoch seconds)."""
    names: list[str] = []
    if not folder.is_dir():
        return names
    with os.scandir(folder) as entries:
        for seen, entry in enumerate(entries):
            if limit is not None and seen >= limit:
                break
            try:
                if (
                    MEDIA_FILE_RE.match(entry.name)
                    and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff
                ):
                    names.append(entry.name)
            except OSError:  # deleted meanwhile (a concurrent sweep or delete)
                continue
    return names


class PurgeThrottle:
    """Lets at most one opportunistic purge start per interval in this process."""

    def __init__(self, interval_seconds: int) -> None:
        self._interval = interval_seconds
        self._next = 0.0
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """True when a purge is due now (and books the next one an interval later)."""
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                return False
            self._next = now + self._interval
            return True


def purge_when_due(*, session: Session, upload_root: str, days: int | None, batch: int, throttle: PurgeThrottle) -> int:
    """One bounded purge batch if retention is on (``days``) and the throttle allows; never raises."""
    if not days or not throttle.claim():
        return 0
    try:
        return purge_camera_frames(
            session=session, upload_root=upload_root, older_than=retention_cutoff(days=days), limit=batch
        )
    except Exception:
        # Housekeeping must not fail the frame that triggered it; the next interval or the CLI retries.
        session.rollback()
        log.exception("Camera frame retention purge failed")
        return 0
