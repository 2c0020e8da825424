"""Live camera smoothing: a per-session window of recent frames with hysteresis.

Rule (documented in the README): keep the fake probabilities of the last N frames of one
session (N = DEEPFAKE_CAMERA_WINDOW, default 5). The smoothed probability is their mean. The
shown verdict turns FAKE only when the mean reaches 0.5 + h and back to REAL only when it falls
to 0.5 - h (h = DEEPFAKE_CAMERA_HYSTERESIS, default 0.05); in between it keeps its last value,
so a single odd frame never flips the display. The first frame of a session decides at 0.5.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class SmoothingStore(Protocol):
    """Where per-session smoothing state lives (in memory, or Redis in production mode)."""

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, state: dict[str, Any], ttl_seconds: int) -> None: ...


class InMemorySmoothingStore:
    """Process-local SmoothingStore with per-key expiry; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, state = item
            if expires <= self._clock():
                del self._items[key]
                return None
            return dict(state, probabilities=list(state.get("probabilities", [])))

    def save(self, key: str, state: dict[str, Any], ttl_seconds: int) -> None:
        with self._lock:
            now = self._clock()
            if len(self._items) > 10_000:  # drop expired sessions so memory stays bounded
                self._items = {k: v for k, v in self._items.items() if v[0] > now}
            self._items[key] = (now + ttl_seconds, dict(state))


def smooth(state: dict[str, Any] | None, fake_probability: float, *, window: int, hysteresis: float) -> dict[str, Any]:
    """Add one frame's probability to a session state and return the new state."""
    probabilities = list((state or {}).get("probabilities", []))[-(window - 1) :] if window > 1 else []
    probabilities.append(round(float(fake_probability), 6))
    mean = sum(probabilities) / len(probabilities)
    previous = (state or {}).get("is_fake")
    if previous is None:
        is_fake = mean >= 0.5
    elif previous:
        is_fake = mean > 0.5 - hysteresis
    else:
        is_fake = mean >= 0.5 + hysteresis
    return {"probabilities": probabilities, "is_fake": bool(is_fake), "mean": mean}
