"""Celery beat keeps its schedule in the instance folder, never in the folder it was started from."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.production.services import WORKER_MODULE, Deployment, ServiceProcess, wait_until


def test_beat_started_in_an_empty_folder_writes_nothing_there(tmp_path, redis_prefix, fresh_database):
    workdir, instance = tmp_path / "where-beat-runs", tmp_path / "instance"
    workdir.mkdir()
    # Beat only sends tasks, but every command checks at start that its database exists: an empty one.
    settings = Deployment(root=tmp_path, database_url=fresh_database, prefix=redis_prefix).settings()
    log_path = tmp_path / "beat.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", WORKER_MODULE, "beat", "--loglevel=INFO"],
            cwd=workdir,
            env={**os.environ, **settings, "DEEPFAKE_INSTANCE_PATH": str(instance)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    beat = ServiceProcess(name="beat", process=process, log_path=log_path)
    try:

        def schedule_written() -> bool:
            return bool(list(instance.glob("celerybeat-schedule*")) or list(workdir.iterdir())) or not beat.alive()

        wait_until(schedule_written, timeout=60, what="beat to write its schedule")
        assert beat.alive(), beat.log()[-4000:]
        assert list(workdir.iterdir()) == []
        assert list(instance.glob("celerybeat-schedule*"))
    finally:
        beat.stop()
