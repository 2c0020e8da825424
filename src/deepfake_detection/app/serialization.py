"""Small helpers shared by serializers."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z; naive values (SQLite) are stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# Documented fields keep their type whatever a row holds: clients call number and string methods on them
# (e.g. `confidence.toFixed(1)`), so a nullable column is answered as 0 or "" rather than null.
def number(value) -> float:
    """A documented number: 0.0 when the column is empty."""
    return float(value) if value is not None else 0.0


def integer(value) -> int:
    """A documented integer: 0 when the column is empty."""
    return int(value) if value is not None else 0


def text(*values) -> str:
    """A documented string: the first non-empty of the values, else ""."""
    return next((str(value) for value in values if value), "")


FAKE_MESSAGE, REAL_MESSAGE = "Deepfake detected", "No deepfake detected"


def verdict_message(is_fake) -> str:
    """The short human sentence a detection answer carries."""
    return FAKE_MESSAGE if is_fake else REAL_MESSAGE


def media_url(history_id: int | None) -> str | None:
    """Where the owner fetches the stored media of a history item."""
    return f"/api/history/{history_id}/media" if history_id is not None else None
