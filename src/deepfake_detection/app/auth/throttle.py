"""Per-account failed-login throttle: slows password guessing without letting anyone lock the owner out.

After the OWASP authentication cheat sheet. Failed logins are counted per account (over the last
``LOGIN_THROTTLE_WINDOW`` seconds) and remembered per (account, client address). Once an account has
``LOGIN_THROTTLE_FAILURES`` recent failures, each further failure throttles the account for a delay that
doubles from ``LOGIN_THROTTLE_DELAY`` up to ``LOGIN_THROTTLE_MAX_DELAY`` seconds. While the account is
throttled, an address that itself failed on it recently is refused (429) without its password being
checked; an address with no recent failure there is checked as usual, so the owner logging in from
their own address is not locked out by someone else's guesses, and an attacker gets one guess per
address per delay. Unknown login names are counted like accounts, so the answers reveal nothing.

The counters live in the rate limiter's storage (``RATELIMIT_STORAGE_URI``: memory embedded, Redis in
production mode), so every API process counts together.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

# Failures tracked beyond the threshold: enough for the doubling delay to reach any sane maximum.
_EXTRA_FAILURES_TRACKED = 64


class LoginThrottled(Exception):
    """This address must wait before its next login attempt on this account."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class LoginThrottle:
    """Counts failed logins per account and per (account, address); refuses throttled addresses."""

    storage: Storage
    failures: int
    window: int
    delay: int
    max_delay: int
    prefix: str = ""

    def __post_init__(self) -> None:
        self._failures_item = RateLimitItemPerSecond(
            self.failures + _EXTRA_FAILURES_TRACKED, self.window, namespace=f"{self.prefix}deepfake-login-failures"
        )
        self._recent = MovingWindowRateLimiter(self.storage)

    @classmethod
    def from_config(cls, config) -> LoginThrottle:
        """The throttle of an app, on the app's rate-limit storage (the settings model validated the numbers)."""
        return cls(
            storage=storage_from_string(config["RATELIMIT_STORAGE_URI"]),
            failures=config["LOGIN_THROTTLE_FAILURES"],
            window=config["LOGIN_THROTTLE_WINDOW"],
            delay=config["LOGIN_THROTTLE_DELAY"],
            max_delay=config["LOGIN_THROTTLE_MAX_DELAY"],
            prefix=config.get("RATELIMIT_KEY_PREFIX") or "",
        )

    def check(self, *, account: str, address: str) -> None:
        """Raise LoginThrottled when the account is throttled and this address failed on it recently."""
        until_key = self._key("until", account)
        if self.storage.get(until_key) and self.storage.get(self._key("address", account, address)):
            raise LoginThrottled(max(1, math.ceil(self.storage.get_expiry(until_key) - time.time())))

    def record_failure(self, *, account: str, address: str) -> None:
        """Count a wrong password; past the threshold, throttle the account for the next delay."""
        self._mark(self._key("address", account, address), self.window)
        self._recent.hit(self._failures_item, self._digest(account))
        stats = self._recent.get_window_stats(self._failures_item, self._digest(account))
        failures = self._failures_item.amount - stats.remaining
        if failures >= self.failures:
            excess = min(failures - self.failures, _EXTRA_FAILURES_TRACKED)
            self._mark(self._key("until", account), min(self.max_delay, self.delay * 2**excess))

    def _mark(self, key: str, seconds: int) -> None:
        """Set a key that exists for the next `seconds` (from now, not from its first setting)."""
        self.storage.clear(key)
        # Redis expiries are whole seconds.
        self.storage.incr(key, max(1, math.ceil(seconds)))

    def _key(self, kind: str, account: str, address: str = "") -> str:
        return f"{self.prefix}deepfake-login-{kind}/{self._digest(account)}/{address}"

    @staticmethod
    def _digest(value: str) -> str:
        """A fixed-length key part: login names can be long and contain anything."""
        return hashlib.sha256(value.encode()).hexdigest()[:32]
