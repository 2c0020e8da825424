"""The test side of the runner's test-only hold point (JOB_TEST_HOLD_DIR, see app/jobs/hold_point.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Held:
    """A job waiting at the hold point: the process running it and its attempt number."""

    pid: int
    attempt: int


class JobHolds:
    """Ask jobs to stop at the hold point, see that they did, and let them go."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def hold(self, job_id: int) -> None:
        """Hold this job when it reaches the hold point (ask before it is submitted)."""
        (self.folder / f"job-{job_id}.hold").touch()

    def hold_all(self) -> None:
        """Hold every job that reaches the hold point from now on (until ``release_all``)."""
        (self.folder / "all.hold").touch()

    def held(self, job_id: int, *, attempt: int | None = None) -> Held | None:
        """The job's hold marker (of ``attempt``, when given), or None while it has not reached the point."""
        try:
            pid, number = (int(part) for part in (self.folder / f"job-{job_id}.held").read_text().split())
        except (OSError, ValueError):
            return None
        return Held(pid, number) if attempt is None or number == attempt else None

    def held_jobs(self) -> list[int]:
        """Ids of the jobs that have reached the hold point (held now, or earlier)."""
        return sorted(int(path.name[4:-5]) for path in self.folder.glob("job-*.held"))

    def wait_held(self, job_id: int, *, attempt: int | None = None, timeout: float = 120) -> Held:
        """Poll until the job is held (it is then provably mid-run); fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (held := self.held(job_id, attempt=attempt)) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(f"job {job_id} did not reach the hold point within {timeout:.0f} s")
            time.sleep(0.05)
        return held

    def release(self, job_id: int) -> None:
        """Let this job go on (now, and at once whenever it reaches the hold point again)."""
        (self.folder / f"job-{job_id}.release").touch()

    def release_all(self) -> None:
        """Withdraw every hold request: held jobs go on, and no job is held any more."""
        for path in [self.folder / "all.hold", *self.folder.glob("job-*.hold")]:
            path.unlink(missing_ok=True)
