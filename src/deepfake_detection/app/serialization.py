"""Small helpers shared by the answer models (the schemas.py of each feature)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import overload


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z; naive values (SQLite) are stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


KIB, MIB = 1024, 1024 * 1024


def size_text(size: int) -> str:
    """A byte limit as people read it: whole MB or KB, else one decimal with the exact bytes."""
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MB"
    if size >= MIB and (size * 10) % MIB == 0:
        return f"{size / MIB:g} MB"
    if size >= MIB:
        return f"{size / MIB:.1f} MB ({size:,} bytes)"
    if size >= KIB and size % KIB == 0:
        return f"{size // KIB} KB"
    return f"{size:,} bytes"


FAKE_MESSAGE, REAL_MESSAGE = "Deepfake detected", "No deepfake detected"


def verdict_message(is_fake: object) -> str:
    """The short human sentence a detection answer carries."""
    return FAKE_MESSAGE if is_fake else REAL_MESSAGE


def media_url(history_id: int | None) -> str | None:
    """Where the owner fetches the stored media of a history item."""
    return f"/api/history/{history_id}/media" if history_id is not None else None
