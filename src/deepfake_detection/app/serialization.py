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


def verdict_message(is_fake) -> str:
    """The short human sentence a detection answer carries."""
    return FAKE_MESSAGE if is_fake else REAL_MESSAGE
