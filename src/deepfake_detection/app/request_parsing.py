"""Request parsing shared by the blueprints: JSON bodies, the caller's id, query parameters, path ids."""

from __future__ import annotations

import re

from flask import request
from flask_jwt_extended import get_jwt_identity
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from .domain_errors import InvalidInput, Unauthorized

INTEGER_RE = re.compile(r"-?[0-9]+")


def json_object() -> dict:
    """The request body as a JSON object, or a 400."""
    try:
        data = request.get_json(silent=True)
    except RecursionError as exc:
        # A body nested deeper than the parser's recursion limit ([[[[...]]]]) is bad input, not a crash.
        raise InvalidInput("Request body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise InvalidInput("Request body must be a JSON object (Content-Type: application/json)")
    return data


def current_user_id() -> int:
    """The id of the authenticated user (the JWT subject)."""
    try:
        return int(get_jwt_identity())
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Invalid token subject") from exc


def query_value(name: str) -> str | None:
    """A query parameter given at most once (a repeated one is a 400: which would win is a guess)."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise InvalidInput(f"{name} must be given at most once", fields={name: "Given more than once"})
    return values[0] if values else None


# Ids are 32-bit integer columns (SQLite and PostgreSQL alike).
MAX_ID = 2**31 - 1


class DatabaseIdConverter(IntegerConverter):
    """`<id:name>`: a row id; one beyond the column's range is a 404 for every method.

    werkzeug's `int(max=...)` rejects such an id as "no match", and when another rule on the same path
    has other methods that turns into a 405; no row can have the id, so it is answered as not found.
    """

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound()
        return number
