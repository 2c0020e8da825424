"""Request ids and the access log: one INFO line per request; the id goes on the response and on every log
record made while the request is handled (`%(request_id)s` in a format)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request
from flask_jwt_extended import get_jwt_identity

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy or client chose is kept when it cannot forge log lines or headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being handled (a sane incoming X-Request-ID, else a new one); None outside."""
    if not has_request_context():
        return None
    request_id = g.get("request_id")
    if request_id is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_id = request_id
    return request_id


def install_record_factory() -> None:
    """Give every log record a `request_id` attribute ("-" outside requests), usable in any handler's format."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = current_request_id() or "-"
        return record

    factory.adds_request_id = True
    logging.setLogRecordFactory(factory)


def _user_id():
    """The JWT subject when this request's token was verified, else None."""
    try:
        return get_jwt_identity()
    except RuntimeError:  # no token was checked for this request
        return None


def init_app(app: Flask) -> None:
    """Time every request, give it an id, and log one line when it is answered."""
    install_record_factory()

    @app.before_request
    def _start_request():
        g.request_started = time.perf_counter()
        current_request_id()

    @app.after_request
    def _log_request(response):
        request_id = current_request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started is not None else float("nan")
        # The path only: query strings may carry secrets.
        log.info(
            "%s %s %d %.1f ms user=%s",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            _user_id() or "-",
        )
        return response
