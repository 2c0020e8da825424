"""Password rules after NIST SP 800-63B: length, a common-password blocklist, no context words."""

from __future__ import annotations

from functools import lru_cache

MIN_LENGTH = 8
MAX_LENGTH = 128


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list, from leaked password corpora)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

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
