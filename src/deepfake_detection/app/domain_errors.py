"""Domain errors: what went wrong, in the application's words; `errors.py` alone turns them into HTTP.

Services, job code and request parsing raise these. Each class has a stable machine-readable
``code`` that clients (the web app) and job rows use; a raise may give a narrower code of the
same kind (``NotFound(..., code="video_not_found")`` is still a 404).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the application answers on purpose."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields  # per-field messages, answered as "errors"
        self.details = details or {}  # extra answer fields (e.g. the command that fixes it)
        self.retry_after = retry_after  # seconds, answered as Retry-After


class InvalidInput(DomainError):
    """The request is malformed or a value is out of range."""

    code = "invalid_input"


class InvalidMedia(InvalidInput):
    """The uploaded file is not a usable image or video."""

    code = "invalid_media"


class UnknownModel(InvalidInput):
    """The requested detector does not exist."""

    code = "unknown_model"


class Unauthorized(DomainError):
    """The caller is not (or no longer) authenticated."""

    code = "unauthorized"


class Forbidden(DomainError):
    """The caller is authenticated but may not do this (an administrator's action)."""

    code = "forbidden"


class NotFound(DomainError):
    """The thing asked for does not exist (or belongs to someone else)."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state of the thing it acts on."""

    code = "conflict"


class Cancelled(Conflict):
    """The work was cancelled before it finished."""

    code = "cancelled"


class KeyReused(DomainError):
    """An Idempotency-Key was already used for a different request."""

    code = "idempotency_key_reused"


class TooLarge(DomainError):
    """An upload is over its size limit."""

    code = "too_large"


class LimitReached(DomainError):
    """The caller is over a limit (active jobs, login attempts); ``retry_after`` says when to retry."""

    code = "limit_reached"


class Unavailable(DomainError):
    """A service the request needs is not available right now."""

    code = "unavailable"


class ModelUnavailable(Unavailable):
    """The detector's weights are not downloaded on the server."""

    code = "model_unavailable"


class ModelMisconfigured(Unavailable):
    """The detector's labels cannot be read as fake/real."""

    code = "model_misconfigured"


class SchemaOutdated(Unavailable):
    """The database schema is behind the code; the operator must migrate."""

    code = "schema_outdated"


class Internal(DomainError):
    """An unexpected failure (the details are in the server log)."""

    code = "internal"


def subclasses(cls: type[DomainError] = DomainError) -> list[type[DomainError]]:
    """``cls`` and every class below it."""
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(subclasses(sub))
    return found


def from_code(code: str | None, message: str, *, details: dict[str, Any] | None = None) -> DomainError:
    """The error a stored code stands for (a failed job's), as the class that owns the code; Internal when unknown."""
    for cls in subclasses():
        if cls.code == code:
            return cls(message, details=details)
    return Internal(message, details=details)
