"""Protocols for state that must be shared between processes in production mode."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class RevokedTokenStore(Protocol):
    """Remembers revoked JWT ids until they expire."""

    def revoke(self, jti: str, expires_at: datetime) -> None:
        """Mark a token id as revoked until ``expires_at``."""

    def is_revoked(self, jti: str) -> bool:
        """True when the token id was revoked."""
