"""Image detections while many clients sign up and log in: latency and server errors, over real HTTP.

Starts `deepfake-server` (waitress, SQLite file, the tiny test models, so inference costs little and the
figures show the service's own waiting) and measures POST /api/detect/image from a few clients, first
alone, then while N other clients loop over register + login. Each password hash costs tens of
milliseconds of CPU; what matters is whether detections wait for them (they did when the hashes ran
inside SQLite write transactions: 500 "database is locked" after the 30 s busy timeout).

Usage:  python bench/signup_load_bench.py [--signup-clients 16] [--detect-clients 2] [--seconds 20]
        [--waitress-threads 24] [--json results.json]
Run it on two checkouts (PYTHONPATH=<checkout>/src) to compare; figures go in the README ("API service").
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

import tests.conftest  # noqa: E402,F401  (points HuggingFace at the tiny models, offline)
from tests.support import media  # noqa: E402
from tests.support.servers import Server, free_port, server_env  # noqa: E402
from tests.support.tiny_models import ensure_tiny_model_cache  # noqa: E402

PASSWORD = "Correct-Horse-Battery-9"


def _start_server(instance: Path, port: int, threads: int) -> Server:
    """deepfake-server in a subprocess with limits high enough not to refuse the load itself."""
    env = server_env(
        instance,
        PORT=str(port),
        WAITRESS_THREADS=str(threads),
        RATELIMIT_LOGIN="100000 per minute",
        RATELIMIT_REGISTER="100000 per minute",
    )
    env["LOG_LEVEL"] = "WARNING"  # no access log: the figures measure the server, not its logging
    return Server(instance, port, env=env)


def _summary(latencies: list[float], statuses: list[int]) -> dict:
    ordered = sorted(latencies)
    return {
        "requests": len(statuses),
        "server_errors": sum(status >= 500 for status in statuses),
        "other_failures": sum(status != 200 and status < 500 for status in statuses),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[math.ceil(len(ordered) * 0.95) - 1] * 1000, 1),  # nearest rank
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signup-clients", type=int, default=16)
    parser.add_argument("--detect-clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--waitress-threads", type=int, default=24)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    ensure_tiny_model_cache()
    tmp = Path(tempfile.mkdtemp(prefix="signup-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start_server(tmp / "instance", port, args.waitress_threads)
    names = itertools.count(1)
    try:
        requests.post(
            f"{url}/api/auth/register",
            timeout=60,
            json={"username": "detector", "email": "detector@example.com", "password": PASSWORD},
        )
        token = requests.post(
            f"{url}/api/auth/login", timeout=60, json={"username": "detector", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        jpeg = media.image_bytes(media.face_photo(fake=True))

        def detect() -> tuple[float, int]:
            start = time.perf_counter()
            status = requests.post(
                f"{url}/api/detect/image", headers=headers, timeout=120, files={"image": ("p.jpg", jpeg)}
            ).status_code
            return time.perf_counter() - start, status

        for _ in range(3):
            detect()  # model loaded, connections warm

        def detect_until(stop: threading.Event, _index: int) -> list[tuple[float, int]]:
            samples = []
            while not stop.is_set():
                samples.append(detect())
            return samples

        def sign_up_until(stop: threading.Event, _index: int) -> list[int]:
            session = requests.Session()
            statuses = []
            while not stop.is_set():
                name = f"load{next(names)}"
                statuses.append(
                    session.post(
                        f"{url}/api/auth/register",
                        timeout=120,
                        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
                    ).status_code
                )
                statuses.append(
                    session.post(
                        f"{url}/api/auth/login", timeout=120, json={"username": name, "password": PASSWORD}
                    ).status_code
                )
            return statuses

        def phase(signup_clients: int) -> dict:
            stop = threading.Event()
            with ThreadPoolExecutor(max_workers=args.detect_clients + signup_clients) as pool:
                detectors = [pool.submit(detect_until, stop, i) for i in range(args.detect_clients)]
                signers = [pool.submit(sign_up_until, stop, i) for i in range(signup_clients)]
                time.sleep(args.seconds)  # the measuring period
                stop.set()
                samples = [sample for future in detectors for sample in future.result()]
                signup_statuses = [status for future in signers for status in future.result()]
            result = {"detections": _summary([s[0] for s in samples], [s[1] for s in samples])}
            if signup_clients:
                result["signups_and_logins"] = {
                    "requests": len(signup_statuses),
                    "server_errors": sum(status >= 500 for status in signup_statuses),
                    "per_s": round(len(signup_statuses) / args.seconds, 1),
                }
            return result

        results = {
            "settings": vars(args) | {"json": str(args.json) if args.json else None},
            "alone": phase(0),
            "with_signups": phase(args.signup_clients),
        }
    finally:
        server.stop()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
