"""The Idempotency-Key header of detection requests, for the views: claim, answer, replay."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import Response, current_app, jsonify, request

from ..domain_errors import InvalidInput
from ..extensions import db
from . import service
from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII only; the draft sends the key as a structured-field string, so surrounding quotes are dropped.
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


class RequestClaim:
    """This request's claim on its Idempotency-Key; every method does nothing when it sent none."""

    def __init__(self, record: IdempotencyKey | None = None) -> None:
        self.record = record

    def answer(self, status: int, body: dict) -> None:
        """Store the answer in the current transaction (commits with the detection rows)."""
        if self.record is not None:
            service.record_answer(session=db.session, record=self.record, status=status, body=body)

    def replace_answer(self, status: int, body: dict) -> None:
        """Store a later answer and commit."""
        if self.record is not None:
            service.replace_answer(session=db.session, record=self.record, status=status, body=body)

    def release(self) -> None:
        """Free the claim after a failure (an unanswered claim only)."""
        if self.record is not None:
            service.release(session=db.session, record=self.record)


def request_key() -> str | None:
    """The request's Idempotency-Key, or None; 400 for one that is empty, too long or not visible ASCII."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not KEY_RE.match(key):
        message = f"{HEADER} must be 1-255 visible ASCII characters (e.g. a UUID)"
        raise InvalidInput(message, fields={HEADER: message})
    return key


def claim_request(*, user_id: int, endpoint: str, fields: dict) -> RequestClaim | Response:
    """Claim the request's key (a no-op claim without one), or the replay of its first answer."""
    key = request_key()
    if key is None:
        return RequestClaim()
    result = service.claim(
        session=db.session,
        user_id=user_id,
        key=key,
        endpoint=endpoint,
        fingerprint=service.fingerprint(endpoint=endpoint, fields=fields),
        ttl=timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"]),
    )
    if isinstance(result, service.StoredAnswer):
        response = jsonify(result.body)
        response.status_code = result.status
        response.headers[REPLAYED_HEADER] = "true"
        return response
    return RequestClaim(result)


def wants_key() -> bool:
    """True when the request carries an Idempotency-Key (so its payload must be fingerprinted)."""
    return HEADER in request.headers


@contextmanager
def released_on_failure(claim: RequestClaim) -> Iterator[RequestClaim]:
    """Free the claim when the block fails before answering, so a retry is processed again."""
    try:
        yield claim
    except BaseException:
        claim.release()
        raise


def run_once(
    *, user_id: int, endpoint: str, fields: Callable[[], dict], work: Callable[[RequestClaim], Response]
) -> Response:
    """Run ``work(claim)`` once per Idempotency-Key: a retry gets the first answer replayed.

    ``fields()`` (called only when the request carries a key) names the payload for the fingerprint;
    ``work`` records its answer through the claim, which is freed again if it fails before answering.
    """
    claim = claim_request(user_id=user_id, endpoint=endpoint, fields=fields() if wants_key() else {})
    if isinstance(claim, Response):
        return claim
    with released_on_failure(claim):
        return work(claim)
