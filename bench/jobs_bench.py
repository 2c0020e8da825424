"""Production-mode throughput: video jobs per minute with 1 and with 2 Celery worker processes.

Runs the real parts on this machine: PostgreSQL (fresh database per run), Redis (db 13 with a key
prefix of its own), `celery worker` processes started here, and the API (create_app in production
mode, driven through its test client) uploading clips with async=true and polling the status URL.

Models: ``--models realistic`` (default) builds full-size, randomly initialised ViT-base/16 and
SigLIP-base/16 models under the real ids (as bench/engine_bench.py does; verdicts meaningless,
timing real); ``--models tiny`` uses the tiny test models (measures the job machinery, not the model).

Each run: start the workers, warm every pool process with one job each, then submit --jobs clips at
once and time from the first upload until the last job is `completed`. The 2-core budget is split
fairly: 1 worker gets 2 torch threads, 2 workers get 1 thread each.

Usage:  python bench/jobs_bench.py [--models realistic|tiny] [--jobs 12] [--seconds 10] [--json out.json]
Figures go in the README section "Production mode: throughput".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def prepare_models(kind: str, root: Path) -> None:
    """Point HF_HOME at the chosen models before anything imports transformers."""
    if kind == "tiny":
        from tests.support.tiny_models import ensure_tiny_model_cache

        os.environ["HF_HOME"] = str(ensure_tiny_model_cache())
    else:
        from engine_bench import build_models

        hf_home = root / "hf"
        build_models(hf_home)
        os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("HF_HUB_CACHE", None)


def run(workers: int, *, jobs: int, clip: Path, root: Path) -> dict:
    """One measured run with ``workers`` worker processes on a fresh deployment."""
    from tests.production import services
    from tests.production.api_client import new_user, production_app, upload_async, video_status

    name, url = services.create_database()
    prefix = f"dfbench-{uuid.uuid4().hex[:8]}:"
    threads = max(1, (os.cpu_count() or 2) // workers)
    deployment = services.Deployment(
        root=root / f"run{workers}",
        database_url=url,
        prefix=prefix,
        extra_env={"DEEPFAKE_TORCH_THREADS": str(threads), "JOB_TIME_LIMIT": "1800"},
    )
    deployment.root.mkdir(parents=True)
    try:
        from flask_migrate import upgrade

        app = production_app(deployment, MAX_ACTIVE_VIDEO_JOBS_PER_USER=0)  # one account uploads every clip
        with app.app_context():
            upgrade()
        for index in range(workers):
            deployment.start_worker(f"bench{index}", ready_timeout=300)
        client = app.test_client()
        headers = new_user(client)

        def finish(video_ids):
            pending = set(video_ids)
            while pending:
                for video_id in list(pending):
                    status = video_status(client, headers, video_id)["status"]
                    if status in ("failed", "cancelled"):
                        raise RuntimeError(f"video {video_id} ended {status}")
                    if status == "completed":
                        pending.discard(video_id)
                time.sleep(0.1)

        finish([upload_async(client, headers, clip) for _ in range(workers)])  # warm every pool process
        started = time.perf_counter()
        video_ids = [upload_async(client, headers, clip) for _ in range(jobs)]
        finish(video_ids)
        elapsed = time.perf_counter() - started
        return {
            "workers": workers,
            "torch_threads_each": threads,
            "jobs": jobs,
            "seconds": round(elapsed, 2),
            "jobs_per_minute": round(jobs * 60 / elapsed, 1),
        }
    finally:
        deployment.stop_all()
        services.drop_database(name)
        services.flush_prefix(prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=("realistic", "tiny"), default="realistic")
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10, help="length of each clip (sampled at 1 frame/s)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
        root = Path(tmp)
        prepare_models(args.models, root)
        from tests.production import services
        from tests.support.media import write_video

        services.check_postgres()
        services.check_redis()
        clip = write_video(root / "clip.mp4", seconds=args.seconds, fps=30, size=(1280, 720), fake=True)
        results = [run(workers, jobs=args.jobs, clip=clip, root=root) for workers in (1, 2)]
    report = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "models": args.models,
        "clip": f"{args.seconds:g} s 1280x720 30 fps H.264, 1 frame/s sampled",
        "runs": results,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
