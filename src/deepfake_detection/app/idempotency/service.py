"""Claim, answer, replay and expire Idempotency-Keys.

Semantics of the IETF draft "The Idempotency-Key HTTP Header Field": the first request with a key is
processed and its answer stored; a retry with the same key and the same request gets that answer again;
the same key with another endpoint or payload is refused (422); a retry while the first request is still
being processed is refused (409). The answer is stored in the same transaction as the detection rows, so
no crash can leave a committed detection whose key would let a retry create a second one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO, cast

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain_errors import Conflict, KeyReused
from .models import IdempotencyKey

log = logging.getLogger(__name__)
# A claim still unanswered after this long belongs to a request whose process died; a retry may take it
# over. Far longer than any detection request takes before its rows (and the answer) commit.
STALE_CLAIM = timedelta(minutes=10)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer the first request with a key got."""

    status: int
    body: dict[str, Any]


def fingerprint(*, endpoint: str, fields: dict[str, Any]) -> str:
    """A sha256 naming the endpoint and the payload (form fields, file names, file digests)."""
    canonical = json.dumps({"endpoint": endpoint, "fields": fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_bytes(data: bytes) -> str:
    """The sha256 of an uploaded payload."""
    return hashlib.sha256(data).hexdigest()


def digest_stream(stream: BinaryIO) -> str:
    """The sha256 of a seekable upload stream, which is left at its start again."""
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def claim(
    *,
    session: Session,
    user_id: int,
    key: str,
    endpoint: str,
    fingerprint: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> IdempotencyKey | StoredAnswer:
    """Claim ``key`` for this request (committed), or the stored answer of its first use; 409/422 as above."""
    now = now or datetime.now(timezone.utc)
    same_key = and_(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    # An expired key is free again; so is a claim whose request died before answering.
    session.execute(
        delete(IdempotencyKey).where(
            same_key,
            or_(
                IdempotencyKey.created_at < now - ttl,
                and_(IdempotencyKey.response_status.is_(None), IdempotencyKey.created_at < now - STALE_CLAIM),
            ),
        )
    )
    existing = session.execute(select(IdempotencyKey).where(same_key)).scalar_one_or_none()
    if existing is None:
        record = IdempotencyKey(user_id=user_id, key=key, endpoint=endpoint, fingerprint=fingerprint, created_at=now)
        session.add(record)
        try:
            session.commit()
            return record
        except IntegrityError:
            # A concurrent request with the same key claimed it first; judge this one against it.
            session.rollback()
            existing = session.execute(select(IdempotencyKey).where(same_key)).scalar_one()
    session.commit()
    if existing.endpoint != endpoint or existing.fingerprint != fingerprint:
        raise KeyReused(
            "This Idempotency-Key was already used for a different request; send a new key with a new request",
            fields={"Idempotency-Key": "Used for another request"},
        )
    if existing.response_status is None:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry in a moment")
    return StoredAnswer(status=existing.response_status, body=existing.response_body or {})


def record_answer(*, session: Session, record: IdempotencyKey, status: int, body: dict[str, Any]) -> None:
    """Store the answer in the caller's transaction (the one that commits the detection rows)."""
    record.response_status = status
    record.response_body = body
    session.add(record)


def replace_answer(*, session: Session, record: IdempotencyKey, status: int, body: dict[str, Any]) -> None:
    """Store a later, better answer (a synchronous video's result after its 202 was stored) and commit."""
    record_answer(session=session, record=record, status=status, body=body)
    session.commit()


def release(*, session: Session, record: IdempotencyKey) -> None:
    """Free an unanswered claim after its request failed, so a retry is processed again; never raises."""
    try:
        session.rollback()
        session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id == record.id, IdempotencyKey.response_status.is_(None))
        )
        session.commit()
    except Exception:
        # Not fatal: the claim goes stale after STALE_CLAIM and a retry takes it over then.
        session.rollback()
        log.exception("Could not release Idempotency-Key claim %s", record.id)


def purge_expired(*, session: Session, older_than: datetime) -> int:
    """Delete keys first used before ``older_than``; returns how many."""
    # A DELETE answers a CursorResult (it has rowcount); Session.execute is typed with the general Result.
    result = cast(
        CursorResult[Any], session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than))
    )
    deleted = result.rowcount
    session.commit()
    return deleted or 0
