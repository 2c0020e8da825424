"""A TEST-ONLY hold point: keeps a running video job at a known point until a test releases it.

Off unless the JOB_TEST_HOLD_DIR setting names a folder (never set it in a deployment). When it
does, a job that reaches the hold point (its first progress report, i.e. the analysis has
provably started) while ``<dir>/job-<id>.hold`` or ``<dir>/all.hold`` exists:

1. writes ``<dir>/job-<id>.held`` (content: "<pid> <attempt>") so the test knows it is mid-run,
2. waits until ``<dir>/job-<id>.release`` exists, or neither hold file exists any more, or the job
   is cancelled or deleted.

Tests can then kill, cancel or time out a job that is certainly running, whatever the speed of
the machine, instead of guessing how long a clip takes. The worker side polls the folder; the
tests only wait for marker files.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05


def hold_requested(hold_dir: str | None, job_id: int) -> bool:
    """Whether a test asked to hold this job."""
    if not hold_dir:
        return False
    folder = Path(hold_dir)
    return (folder / f"job-{job_id}.hold").exists() or (folder / "all.hold").exists()


def hold_if_requested(hold_dir: str | None, job_id: int, *, attempt: int, cancelled: Callable[[], bool]) -> bool:
    """Block at the hold point while a test holds this job; True when it was cancelled meanwhile.

    A no-op (False) unless JOB_TEST_HOLD_DIR is set and the test asked for this job.
    """
    if not hold_requested(hold_dir, job_id):
        return False
    folder = Path(hold_dir)
    release = folder / f"job-{job_id}.release"
    # Written then renamed, so a test never reads a half-written marker.
    marker, partial = folder / f"job-{job_id}.held", folder / f"job-{job_id}.held.{os.getpid()}.tmp"
    partial.write_text(f"{os.getpid()} {attempt}", encoding="utf-8")
    partial.replace(marker)
    log.warning("Job %s held by the test hold point (JOB_TEST_HOLD_DIR=%s)", job_id, hold_dir)
    while hold_requested(hold_dir, job_id) and not release.exists():
        if cancelled():
            log.warning("Job %s cancelled at the test hold point", job_id)
            return True
        time.sleep(POLL_SECONDS)
    log.warning("Job %s released by the test hold point", job_id)
    return False
