"""API service overhead benchmark: what the HTTP layer, uploads and SQLite add around the engine.

Uses the tiny test models (tests/support), so inference itself costs almost nothing and the figures
show the service's own cost. Measures, on a real SQLite file with migrations applied:

  * image: p50/p90 latency of POST /api/detect/image (multipart 512x512 JPEG) through the WSGI stack,
    against engine.detect_image alone on the same bytes: the difference is the API overhead;
  * camera: p50 of POST /api/detect/camera (base64 JPEG data URL);
  * history: p50 of GET /api/history with 500 items (all) and with one page of 20;
  * concurrency: requests/s and errors for 8 threads mixing image uploads and history reads.

Usage:  python bench/api_bench.py [--requests N] [--json results.json]
Figures go in the README section "API service".
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests.conftest  # noqa: E402,F401  (points HuggingFace at the tiny models, offline)


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
    }


def _timed(fn, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from tests.support import media
    from tests.support.tiny_models import ensure_tiny_model_cache

    ensure_tiny_model_cache()
    from deepfake_detection.engine import DetectionEngine, EngineSettings
    from tests.api.helpers import api_config, build_app, dispose_app, register_and_login

    engine = DetectionEngine(EngineSettings.from_env())
    tmp = Path(tempfile.mkdtemp(prefix="api-bench-"))
    app = build_app(api_config(tmp, engine))
    client = app.test_client()
    user = register_and_login(client, "bench")
    jpeg = media.image_bytes(media.face_photo(fake=True))
    frame = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()

    def post_image(c=client):
        response = c.post(
            "/api/detect/image",
            headers=user.headers,
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(jpeg), "p.jpg")},
        )
        assert response.status_code == 200, response.get_json()

    engine.detect_image(jpeg)  # warm the model
    post_image()
    results: dict = {}
    results["engine_image"] = _percentiles(_timed(lambda: engine.detect_image(jpeg), args.requests))
    results["api_image"] = _percentiles(_timed(post_image, args.requests))
    results["api_overhead_p50_ms"] = round(results["api_image"]["p50_ms"] - results["engine_image"]["p50_ms"], 2)
    results["api_camera"] = _percentiles(
        _timed(lambda: client.post("/api/detect/camera", headers=user.headers, json={"image": frame}), args.requests)
    )

    while client.get("/api/history?page=1&per_page=1", headers=user.headers).get_json()["total"] < 500:
        post_image()
    results["history_all_500"] = _percentiles(_timed(lambda: client.get("/api/history", headers=user.headers), 20))
    results["history_page_20"] = _percentiles(
        _timed(lambda: client.get("/api/history?page=3&per_page=20", headers=user.headers), 50)
    )

    def mixed(index: int) -> list[int]:
        c = app.test_client()
        statuses = []
        for i in range(10):
            if i % 2:
                statuses.append(c.get("/api/history?page=1&per_page=20", headers=user.headers).status_code)
            else:
                r = c.post(
                    "/api/detect/image",
                    headers=user.headers,
                    content_type="multipart/form-data",
                    data={"image": (io.BytesIO(jpeg), "p.jpg")},
                )
                statuses.append(r.status_code)
        return statuses

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for chunk in pool.map(mixed, range(8)) for s in chunk]
    elapsed = time.perf_counter() - start
    results["concurrent_8_threads"] = {
        "requests": len(statuses),
        "errors": sum(s != 200 for s in statuses),
        "requests_per_s": round(len(statuses) / elapsed, 1),
    }
    dispose_app(app)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
