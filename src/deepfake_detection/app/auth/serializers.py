"""JSON shapes for users."""

from __future__ import annotations

from ..serialization import iso


def user_json(user) -> dict:
    """The documented user object (id, username, email) plus created_at."""
    return {"id": user.id, "username": user.username, "email": user.email, "created_at": iso(user.created_at)}
