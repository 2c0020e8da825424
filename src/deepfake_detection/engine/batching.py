"""Concurrent requests share forward passes (dynamic batching), and passes never oversubscribe the CPUs.

``DynamicBatcher`` (one per loaded classifier): the first caller opens a window of
``DEEPFAKE_BATCH_WINDOW_MS``; callers arriving in it add their images to the same batch; the window closes
early when the batch holds the model's maximum batch. The batch then waits for a free pass slot (still
taking joiners up to the maximum, since waiting costs them nothing), runs as one forward pass (chunks of at
most the maximum batch), and each caller gets back its own probabilities, or the pass's exception.

``PassLimiter`` (one per process): forward passes run on its ``usable CPUs // torch threads`` threads, so
inference threads x concurrent passes never exceed the cores, whoever asks for them (image requests,
camera frames, video jobs).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Protocol, TypeVar

import numpy as np
import torch

from .backends.base import release_runtime_memory
from .device import usable_cpus
from .memory import release_freed_memory


class FakeProbabilities(Protocol):
    """Anything that answers one fake probability per RGB uint8 image (a Classifier, a batcher)."""

    def fake_probabilities(self, images: list[np.ndarray]) -> np.ndarray: ...


def max_batch_of(classifier: Any) -> int:
    """Images one forward pass of classifier may take (1 where results would depend on the batch)."""
    found: int | None = getattr(classifier, "max_batch", None)
    if found is None:
        found = int(getattr(classifier, "batch_size", 1))
    return max(1, int(found))


def default_pass_limit() -> int:
    """Forward passes that may run at once without oversubscribing: usable CPUs // torch's threads."""
    return max(1, usable_cpus() // max(1, torch.get_num_threads()))


T = TypeVar("T")

#: Seconds without a forward pass after which freed memory goes back to the OS (see PassLimiter).
IDLE_RELEASE_SECONDS = 5.0


class PassLimiter:
    """Runs forward passes on its own threads, at most ``limit`` at once, in the order they come.

    ``limit`` None: ``default_pass_limit()``, read when the threads are first needed (the engine sets
    DEEPFAKE_TORCH_THREADS before its first pass). Dedicated threads, not the callers', run every pass:
    torch's OpenMP pool and glibc's malloc arena are per calling thread, so passes on N threads keep N
    pools and N arenas of activations, however many request threads come and go.

    Once no pass has run for ``idle_release_seconds``, the runtimes free their scratch buffers
    (backends.base.release_runtime_memory) and freed memory goes back to the OS (glibc malloc_trim):
    with the allocator tuned to keep freed blocks (device.tune_allocator), passes of varying batch size and
    the requests' decodes left up to 150 MB free but mapped after 150 bf16 images. Bursts keep their
    memory (no page faults between passes); a process at rest returns it.
    """

    def __init__(self, limit: int | None = None, *, idle_release_seconds: float = IDLE_RELEASE_SECONDS) -> None:
        if limit is not None and limit < 1:
            raise ValueError("a pass limit must be at least 1")
        self._fixed = limit
        self._guard = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_limit = 0
        self._pid = 0
        self.active = 0
        self.pending = 0  # submitted and not finished (running or queued)
        self.peak = 0  # most passes seen running at once
        self.passes = 0
        self.waited = 0  # passes that found every slot taken and queued
        self.releases = 0  # times freed memory was handed back to the OS at rest
        self._idle_release_seconds = idle_release_seconds
        self._idle_since = 0.0
        self._timer: threading.Timer | None = None

    @property
    def limit(self) -> int:
        with self._guard:
            if self._executor is not None and self._pid == os.getpid():
                return self._executor_limit
        return self._fixed if self._fixed is not None else default_pass_limit()

    def _pool(self) -> ThreadPoolExecutor:
        with self._guard:
            # A forked child (gunicorn, Celery prefork) inherits the object but not the threads.
            if self._executor is None or self._pid != os.getpid():
                limit = self._fixed if self._fixed is not None else default_pass_limit()
                self._executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="deepfake-pass")
                self._executor_limit, self._pid = limit, os.getpid()
                self.active = self.pending = 0
                self._timer = None  # a parent's timer thread does not exist in a forked child
            return self._executor

    def run(self, fn: Callable[[], T]) -> T:
        """fn() on a pass thread, once one is free; its result or its exception."""
        pool = self._pool()
        with self._guard:
            if self.pending >= self._executor_limit:
                self.waited += 1
            self.pending += 1
        try:
            return pool.submit(self._counted, fn).result()
        finally:
            with self._guard:
                self.pending -= 1

    def _counted(self, fn: Callable[[], T]) -> T:
        with self._guard:
            self.active += 1
            self.passes += 1
            self.peak = max(self.peak, self.active)
        try:
            return fn()
        finally:
            with self._guard:
                self.active -= 1
                idle = self.active == 0 and self.pending <= 1  # this pass is still counted as pending
            if idle:
                self._rested()

    def _rested(self) -> None:
        """The passes came to rest: release now (delay 0) or make sure one timer will, once rested long enough."""
        with self._guard:
            self._idle_since = time.monotonic()
            now = self._idle_release_seconds <= 0
            if not now and self._timer is None:  # one timer per rest, however many passes end meanwhile
                self._timer = self._start_timer(self._idle_release_seconds)
        if now:
            self._release()

    def _start_timer(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._on_timer)
        timer.daemon = True
        timer.start()
        return timer

    def _on_timer(self) -> None:
        with self._guard:
            self._timer = None
            if self.active or self.pending:
                return  # busy again: the end of that pass starts the next wait
            rested = time.monotonic() - self._idle_since
            if rested < self._idle_release_seconds:  # passes ran since the timer started: wait out the rest
                self._timer = self._start_timer(self._idle_release_seconds - rested)
                return
        self._release()

    def _release(self) -> None:
        with self._guard:
            self.releases += 1
        # OpenVINO keeps each batch size's intermediate buffers in the compiled model (a 60 s video's passes of 8
        # left about 120 MB per model); freed first, so that malloc_trim can then hand their pages back.
        release_runtime_memory()
        release_freed_memory()

    def stats(self) -> dict[str, int]:
        """Counters for diagnostics and tests."""
        limit = self.limit
        with self._guard:
            return {
                "limit": limit,
                "active": self.active,
                "queued": max(0, self.pending - self.active),
                "peak": self.peak,
                "passes": self.passes,
                "waited": self.waited,
                "releases": self.releases,
            }


# One per process: torch's thread pool is process-wide, so is the budget of cores it spends.
PROCESS_PASS_LIMITER = PassLimiter()


class _Request:
    __slots__ = ("images", "result")

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.result: np.ndarray | None = None


class _Batch:
    """Requests collected for one pass; its condition shares the batcher's lock."""

    __slots__ = ("cond", "requests", "size", "full", "closed", "done", "error")

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.requests: list[_Request] = []
        self.size = 0
        self.full = False  # the leader stops waiting for its window
        self.closed = False  # no one joins or leaves any more: the pass is starting
        self.done = False
        self.error: BaseException | None = None


class DynamicBatcher:
    """Requests to one classifier within a short window share a forward pass; see the module docstring."""

    def __init__(
        self,
        classifier: FakeProbabilities,
        *,
        window_ms: float,
        limiter: PassLimiter | None = None,
        max_batch: int | None = None,
    ) -> None:
        self.classifier = classifier
        self.window_s = max(0.0, window_ms) / 1000.0
        self.limiter = limiter if limiter is not None else PROCESS_PASS_LIMITER
        self.max_batch = max_batch if max_batch is not None else max_batch_of(classifier)
        self._lock = threading.Lock()
        self._open: _Batch | None = None
        self._open_changed = threading.Condition(self._lock)
        self.requests = 0
        self.passes = 0
        self.images = 0
        self.shared_passes = 0  # passes that served more than one request
        self.timeouts = 0
        self.errors = 0  # passes that raised
        self.images_per_pass: Counter[int] = Counter()
        self.alone = _Alone(self)

    # --- callers ------------------------------------------------------------------------
    def fake_probabilities(self, images: list[np.ndarray], *, timeout: float | None = None) -> np.ndarray:
        """This caller's probabilities, computed in a pass shared with concurrent callers.

        ``timeout`` bounds the wait for a pass another caller runs: a caller that gives up leaves a batch
        that has not started, or has its result dropped from one that has (TimeoutError either way).
        """
        if not images:
            return np.zeros((0,), dtype=np.float32)
        if self.window_s <= 0:
            return self.run_alone(images)
        request = _Request(images)
        with self._lock:
            self.requests += 1
            batch = self._open
            leader = batch is None or batch.size + len(images) > self.max_batch
            if leader:
                if batch is not None:  # it cannot take us: let its leader go now, start the next one
                    self._close_to_joiners(batch)
                batch = _Batch(self._lock)
                self._open = batch
                self._open_changed.notify_all()
            assert batch is not None
            batch.requests.append(request)
            batch.size += len(images)
            self._open_changed.notify_all()
            if batch.size >= self.max_batch:
                self._close_to_joiners(batch)
        if leader:
            return self._lead(batch, request)
        return self._follow(batch, request, timeout)

    def run_alone(self, images: list[np.ndarray]) -> np.ndarray:
        """Probabilities without waiting for company: chunks of max_batch, each one pass on a pass thread."""
        if not images:
            return np.zeros((0,), dtype=np.float32)
        with self._lock:
            self.requests += 1
        out = [self.limiter.run(partial(self._pass, chunk, requests=1)) for chunk in self._chunks(images)]
        return np.concatenate(out)

    # --- leader and followers -----------------------------------------------------------
    def _close_to_joiners(self, batch: _Batch) -> None:
        """No more joiners for batch; its leader stops waiting for the window (lock held)."""
        batch.full = True
        if self._open is batch:
            self._open = None
            self._open_changed.notify_all()
        batch.cond.notify_all()

    def _lead(self, batch: _Batch, request: _Request) -> np.ndarray:
        try:
            deadline = time.monotonic() + self.window_s
            with self._lock:
                while not batch.full:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    batch.cond.wait(remaining)
            # The batch closes only when a pass thread takes it: while every one is busy, late joiners
            # still get in (up to max_batch), which costs them nothing.
            requests, chunks, first = self.limiter.run(partial(self._take, batch))
            out = [first]
            out += [self.limiter.run(partial(self._pass, chunk, requests=len(requests))) for chunk in chunks[1:]]
            probabilities = np.concatenate(out)
        except BaseException as exc:
            with self._lock:
                batch.closed = True
                if self._open is batch:
                    self._open = None
                batch.error = exc
                batch.done = True
                batch.cond.notify_all()
            raise
        with self._lock:
            start = 0
            for r in requests:
                r.result = probabilities[start : start + len(r.images)]
                start += len(r.images)
            batch.done = True
            batch.cond.notify_all()
        assert request.result is not None
        return request.result

    def _take(self, batch: _Batch) -> tuple[list[_Request], list[list[np.ndarray]], np.ndarray]:
        """On a pass thread: close batch to joiners and leavers, run its first chunk."""
        with self._lock:
            batch.closed = True
            if self._open is batch:
                self._open = None
                self._open_changed.notify_all()
            requests = list(batch.requests)
        chunks = self._chunks([image for r in requests for image in r.images])
        return requests, chunks, self._pass(chunks[0], requests=len(requests))

    def _follow(self, batch: _Batch, request: _Request, timeout: float | None) -> np.ndarray:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not batch.done:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self.timeouts += 1
                    if not batch.closed:  # not started: leave, so the pass does not compute for no one
                        batch.requests.remove(request)
                        batch.size -= len(request.images)
                    raise TimeoutError("gave up waiting for a shared forward pass")
                batch.cond.wait(remaining)
            if batch.error is not None:
                raise batch.error
            assert request.result is not None
            return request.result

    def _chunks(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        return [images[start : start + self.max_batch] for start in range(0, len(images), self.max_batch)]

    def _pass(self, chunk: list[np.ndarray], *, requests: int) -> np.ndarray:
        """One forward pass (on a pass thread), counted."""
        try:
            probabilities = np.asarray(self.classifier.fake_probabilities(chunk))
        except BaseException:
            with self._lock:
                self.errors += 1
            raise
        with self._lock:
            self.passes += 1
            self.images += len(chunk)
            self.images_per_pass[len(chunk)] += 1
            if requests > 1:
                self.shared_passes += 1
        return probabilities

    # --- diagnostics --------------------------------------------------------------------
    def wait_for_batch(self, images: int, timeout: float | None = None) -> bool:
        """Block until the open batch holds at least images images (for tests); False on timeout."""
        with self._lock:
            return self._open_changed.wait_for(
                lambda: self._open is not None and self._open.size >= images, timeout=timeout
            )

    def stats(self) -> dict[str, Any]:
        """Counters: requests, passes, images, shared passes, timeouts, errors, images per pass."""
        with self._lock:
            return {
                "window_ms": round(self.window_s * 1000.0, 3),
                "max_batch": self.max_batch,
                "requests": self.requests,
                "passes": self.passes,
                "images": self.images,
                "shared_passes": self.shared_passes,
                "timeouts": self.timeouts,
                "errors": self.errors,
                "images_per_pass": dict(sorted(self.images_per_pass.items())),
            }


class _Alone:
    """The batcher's classifier under its pass limiter, without a window (the video path's own chunks)."""

    def __init__(self, batcher: DynamicBatcher) -> None:
        self._batcher = batcher

    def fake_probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        return self._batcher.run_alone(images)
