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


FAKE_MESSAGE, REAL_MESSAGE = "Deepfake detected", "No deepfake detected"


def verdict_message(is_fake: object) -> str:
    """The short human sentence a detection answer carries."""
    return FAKE_MESSAGE if is_fake else REAL_MESSAGE


def media_url(history_id: int | None) -> str | None:
    """Where the owner fetches the stored media of a history item."""
    return f"/api/history/{history_id}/media" if history_id is not None else None
