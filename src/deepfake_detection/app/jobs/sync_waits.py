"""A bound on synchronous video requests waiting for their job at once, per server process.

Each waiting request holds a server thread for as long as its video takes; without a bound one
account could occupy every thread (and /api/health would wait behind them). A request that finds
no free slot is answered at once like an asynchronous one (202 with the status URL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app

SLOTS_KEY = "deepfake_video_sync_waits"


def init_app(app: Flask) -> None:
    """Create this process's slots from VIDEO_SYNC_MAX_WAITERS."""
    if SLOTS_KEY not in app.extensions:
        most = app.config["VIDEO_SYNC_MAX_WAITERS"]
        # None: no slot at all (0), every synchronous request is answered asynchronously.
        app.extensions[SLOTS_KEY] = threading.BoundedSemaphore(most) if most > 0 else None


@contextmanager
def sync_wait_slot() -> Iterator[bool]:
    """Take a waiting slot without blocking; yields False (and takes nothing) when all are busy."""
    slots = current_app.extensions.get(SLOTS_KEY)
    if slots is None or not slots.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        slots.release()
