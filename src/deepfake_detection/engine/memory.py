"""Process memory: a bound on concurrent large decodes, malloc_trim after them, and dropping unused file pages."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterator

# Decodes of images over this many pixels (4K UHD; about 33 MB in PIL's 4-byte RGB layout) take a slot.
LARGE_DECODE_PIXELS = 3840 * 2160


class DecodeSlots:
    """A counting semaphore whose limit is given per call (it comes from the caller's settings).

    active and peak are kept for the tests and the memory benchmark.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.active = 0
        self.peak = 0

    @contextlib.contextmanager
    def hold(self, limit: int) -> Iterator[None]:
        """Wait until fewer than limit holders are inside, then hold a slot for the with block."""
        with self._condition:
            self._condition.wait_for(lambda: self.active < max(1, limit))
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            with self._condition:
                self.active -= 1
                self._condition.notify()


# One per process: every engine in it shares the memory the bound protects.
LARGE_DECODES = DecodeSlots()


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "malloc_trim"):
            return None
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return libc
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Hand memory freed by a large decode back to the OS now (glibc malloc_trim); True if it ran.

    Each thread allocates from its own malloc arena, and glibc trims an arena only when the free space at
    its top passes the trim threshold (raised to 256 MB by device.tune_allocator), so after concurrent
    large decodes the freed buffers stayed mapped: RSS stayed near its peak. malloc_trim(0) releases the
    free pages of every arena.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


@contextlib.contextmanager
def large_decode(pixels: int, *, limit: int) -> Iterator[None]:
    """Around decoding pixels pixels: a slot and a trim afterwards when large, nothing otherwise."""
    if pixels <= LARGE_DECODE_PIXELS:
        yield
        return
    try:
        with LARGE_DECODES.hold(limit):
            yield
    finally:
        release_freed_memory()


_MADV_DONTNEED = 4  # Linux <sys/mman.h>


def drop_mapped_pages(path: Path) -> int:
    """Drop this process's resident pages of read-only mappings of the file at path; the bytes dropped.

    For a file the process maps but no longer reads (OpenVINO's weights file once its CPU plugin has
    repacked the weights into its own buffers), the pages stay resident until the kernel needs the memory.
    Only read-only mappings are touched, so nothing is lost: a page read again is faulted back in from
    the file. Returns 0 where this does not apply (not Linux, no such mapping).
    """
    libc = _glibc()
    if libc is None:
        return 0
    target = str(Path(path).resolve())
    dropped = 0
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.readlines()
    except OSError:
        return 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[5].rstrip("\n") != target or "w" in fields[1]:
            continue
        start, end = (int(value, 16) for value in fields[0].split("-"))
        if libc.madvise(start, end - start, _MADV_DONTNEED) == 0:
            dropped += end - start
    return dropped
