"""Request parsing shared by the blueprints: JSON bodies, the caller's id, query integers."""

from __future__ import annotations

from flask import request
from flask_jwt_extended import get_jwt_identity

from .errors import ApiError


def json_object() -> dict:
    """The request body as a JSON object, or a 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object (Content-Type: application/json)")
    return data


def string_field(data: dict, name: str, *, required: bool = True) -> str | None:
    """A string field of a JSON object (stripped), or a 400 naming the field."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiError(400, f"{name} is required", errors={name: "This field is required"})
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string", errors={name: "Must be a string"})
    return value.strip()


def current_user_id() -> int:
    """The id of the authenticated user (the JWT subject)."""
    try:
        return int(get_jwt_identity())
    except (TypeError, ValueError) as exc:
        raise ApiError(401, "Invalid token subject") from exc


def query_int(name: str, *, default: int | None, minimum: int = 1, maximum: int | None = None) -> int | None:
    """An integer query parameter within bounds, or a 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an integer", errors={name: "Must be an integer"}) from exc
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(400, f"{name} must be {bounds}", errors={name: f"Must be {bounds}"})
    return value
