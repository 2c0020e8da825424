"""One JSON error shape for every failure: {"success": false, "message": ...}."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .request_log import current_request_id

log = logging.getLogger(__name__)

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


class ApiError(Exception):
    """An error answered as JSON with a status code, a message and optional field errors."""

    def __init__(self, status: int, message: str, *, errors: dict | None = None, extra: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}  # e.g. Retry-After on a 429


def error_response(status: int, message: str, *, errors: dict | None = None, extra: dict | None = None):
    """Build the JSON error response."""
    body = {"success": False, "message": message}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = error_response(exc.status, exc.message, errors=exc.errors, extra=exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = _MESSAGES.get(status, exc.name)
        if status == 429:
            message = f"Too many requests: limit is {exc.description}. Try again later."
        elif status == 413:
            message = g.get("upload_limit_message", message)
        response = error_response(status, message, extra={"request_id": current_request_id()} if status == 500 else None)
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
