"""Passwords: rules after NIST SP 800-63B (length, a common-password blocklist, no context words) and hashing."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
MAX_LENGTH = 128
# A hash (werkzeug's scrypt) costs tens of milliseconds of CPU and 32 MB. At most half the process's CPUs
# hash at a time, so a burst of sign-ups and logins queues here instead of starving every other request.
HASH_CONCURRENCY = max(1, len(os.sched_getaffinity(0)) // 2 if hasattr(os, "sched_getaffinity") else 1)
_hash_slots = threading.BoundedSemaphore(HASH_CONCURRENCY)


def hash_password(password: str) -> str:
    """The password's salted hash, computed in one of the hashing slots."""
    with _hash_slots:
        return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the hash, checked in one of the hashing slots."""
    with _hash_slots:
        return check_password_hash(password_hash, password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list, from leaked password corpora)."""
    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, username: str = "", email: str = "") -> str | None:
    """Why the password is not acceptable, or None when it is."""
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"Password must be at most {MAX_LENGTH} characters long"
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is too common; choose one that is harder to guess"
    if len(set(password)) == 1:
        return "Password must not be a single repeated character"
    context = {username.lower(), email.lower(), email.lower().split("@")[0]} - {""}
    if any(lowered == word for word in context):
        return "Password must not be the same as your username or email"
    return None
