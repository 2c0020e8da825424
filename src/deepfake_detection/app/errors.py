"""One JSON error shape for every failure, and the ONE table from domain errors to HTTP statuses.

Every error answer is ``{"success": false, "message": ..., "code": ...}`` (plus ``errors`` per field,
and details such as ``command`` or ``request_id``). ``code`` is stable and machine-readable: clients
branch on it, never on the message.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import domain_errors as de
from .request_log import current_request_id

log = logging.getLogger(__name__)

# The one place a domain error becomes an HTTP status. Every DomainError subclass is listed (a test checks).
STATUS_BY_ERROR: dict[type[de.DomainError], int] = {
    de.DomainError: 500,
    de.Internal: 500,
    de.InvalidInput: 400,
    de.InvalidMedia: 400,
    de.UnknownModel: 400,
    de.Unauthorized: 401,
    de.Forbidden: 403,
    de.NotFound: 404,
    de.Conflict: 409,
    de.Cancelled: 409,
    de.TooLarge: 413,
    de.KeyReused: 422,
    de.LimitReached: 429,
    de.Unavailable: 503,
    de.ModelUnavailable: 503,
    de.ModelMisconfigured: 503,
    de.SchemaOutdated: 503,
}

# Errors raised by Flask, werkzeug, Flask-Limiter and Flask-JWT-Extended carry only a status: their code.
CODE_BY_STATUS = {
    400: de.InvalidInput.code,
    401: de.Unauthorized.code,
    403: de.Forbidden.code,
    404: de.NotFound.code,
    405: "method_not_allowed",
    409: de.Conflict.code,
    413: de.TooLarge.code,
    415: "unsupported_media_type",
    422: de.KeyReused.code,
    429: "rate_limited",
    500: de.Internal.code,
    503: de.Unavailable.code,
}

# Werkzeug's default descriptions are long HTML-minded sentences; these are what clients see.
_MESSAGES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "File too large",
    415: "Unsupported media type",
    429: "Too many requests, try again later",
    500: "Internal server error",
    503: "Service unavailable",
}


def status_of(error: de.DomainError) -> int:
    """The HTTP status of a domain error (its nearest class in the table)."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_response(
    status: int, message: str, *, code: str | None = None, errors: dict | None = None, extra: dict | None = None
):
    """Build the JSON error response (``code`` defaults to the status's generic one)."""
    body = {"success": False, "message": message, "code": code or CODE_BY_STATUS.get(status, de.DomainError.code)}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def domain_error_response(error: de.DomainError):
    """The JSON answer of a domain error, with Retry-After when it says when to retry."""
    response = error_response(
        status_of(error), error.message, code=error.code, errors=error.fields, extra=error.details
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""

    @app.errorhandler(de.DomainError)
    def _domain_error(exc: de.DomainError):
        return domain_error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = _MESSAGES.get(status, exc.name)
        if status == 429:
            message = f"Too many requests: limit is {exc.description}. Try again later."
        elif status == 413:
            message = g.get("upload_limit_message", message)
        extra = {"request_id": current_request_id()} if status == 500 else None
        response = error_response(status, message, extra=extra)
        # Keep headers the exception carries (Allow on 405, Retry-After on 429).
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # The id is in the log line and the answer, so a user's report leads to this traceback.
        request_id = current_request_id()
        log.exception("Unhandled error on %s %s [%s]", request.method, request.path, request_id)
        return error_response(500, _MESSAGES[500], extra={"request_id": request_id})
