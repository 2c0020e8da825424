"""Concurrent image requests: dynamic batching and the pass limit against a straightforward baseline, CPU only.

Builds the full-size random models of bench/engine_bench.py (build_models) and a 1280x720 face photo, then,
in one run, side by side:

  * baseline: what a straightforward server does - every request thread decodes, detects the face and runs
    its own fp32 forward pass at batch 1 with torch's full thread count (no batching, no pass limit);
  * the engine: DetectionEngine.detect_image at its auto precision with dynamic batching
    (DEEPFAKE_BATCH_WINDOW_MS, default) and the process-wide pass limit; also with the window at 0 (pass
    limit only) and with DEEPFAKE_PRECISION=int8;

each as 8 concurrent clients x 10 images (a client sends its next image when the previous one is
answered): throughput (images/s), p50/p95 latency, and a lone request's latency (median of 5, nothing else
running); the four set-ups take turns for --rounds rounds (default 3) and each figure is the median.
Targets: throughput >= 3x the baseline's; p95 <= 2x a lone request's.
Memory: a fresh process per precision loads the model, runs one warm-up round (8 images and a 5 s 720p video
at once), then serves 150 images (8 clients) while 7 such videos run one after the other; RSS after the
warm-up and at the end (target: growth <= 15%; growth from "model loaded" is printed too), each read after
REST_SECONDS without requests (the engine hands freed memory back once its passes are at rest), with glibc's
malloc statistics (bytes in use; bytes free in its arenas, whose pages a trim may have returned).
--memory-setups picks the set-ups (auto: the backend the engine chooses, prepared under <workdir>/prepared;
pytorch_bf16; int8) and --before-src also runs each with an older engine's source folder, for a
before/after comparison in one run.

Usage:  python bench/concurrency_bench.py [--quick] [--threads N] [--json results.json]
Random weights make the verdicts meaningless; only time and memory are measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.engine_bench import (  # noqa: E402
    build_models,
    machine,
    make_engine,
    median_ms,
    rss_mb,
    run_json_process,
    write_results,
)

CLIENTS = 8
REST_SECONDS = 7  # longer than the engine's idle release delay (batching.IDLE_RELEASE_SECONDS)
MEMORY_SETUPS = {  # label: (DEEPFAKE_BACKEND, DEEPFAKE_PRECISION)
    "auto": ("auto", "auto"),
    "pytorch_bf16": ("pytorch", "bf16"),
    "int8": ("pytorch", "int8"),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def lone_ms(request: Callable[[], object], runs: int) -> float:
    """Median latency of one request with nothing else running (after two warm-up requests)."""
    return median_ms(request, runs, warmups=2)


def concurrent(request: Callable[[], object], clients: int, per_client: int) -> dict:
    """clients threads, released together, each sending per_client requests one after the other."""
    barrier = threading.Barrier(clients + 1)
    latencies: list[float] = []
    guard = threading.Lock()
    errors: list[BaseException] = []

    def client() -> None:
        barrier.wait()
        for _ in range(per_client):
            start = time.perf_counter()
            try:
                request()
            except BaseException as exc:  # reported, not swallowed: the run is then invalid
                errors.append(exc)
                return
            with guard:
                latencies.append((time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed: {errors[0]!r}")
    return {
        "images": len(latencies),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": round(max(latencies), 1),
    }


def baseline_request(threads: int) -> Callable[[], object]:
    """Decode, face detection, then the request thread's own fp32 forward pass at batch 1 (no limit)."""
    from deepfake_detection.engine.analysis import analyse_images
    from deepfake_detection.engine.images import load_image

    engine = make_engine("fp32", threads)
    classifier = engine.classifier()  # the plain Classifier: no batcher, no pass limiter
    classifier.batch_size = 1
    detector = engine.face_detector()
    settings = engine.settings

    def request(jpeg: bytes) -> object:
        image = load_image(jpeg, max_pixels=settings.max_image_pixels, max_side=settings.work_max_side)
        return analyse_images([image.rgb], classifier=classifier, detector=detector, settings=settings)

    return request


def measure(name: str, request: Callable[[], object], per_client: int, lone_runs: int, engine=None) -> dict:
    result = {"lone_ms": lone_ms(request, lone_runs)}
    if engine is not None:  # the counters of the concurrent part only
        before = engine.batching_stats()["models"].get(engine.default_model_key, {}).get("images_per_pass", {})
    result.update(concurrent(request, CLIENTS, per_client))
    result["p95_over_lone"] = round(result["p95_ms"] / result["lone_ms"], 2)
    if engine is not None:
        stats = engine.batching_stats()
        after = stats["models"][engine.default_model_key]["images_per_pass"]
        histogram = {size: count - before.get(size, 0) for size, count in after.items()}
        result["images_per_pass"] = {size: count for size, count in histogram.items() if count}
        passes = sum(result["images_per_pass"].values())
        result["passes"] = passes
        result["mean_images_per_pass"] = round(result["images"] / max(1, passes), 2)
        result["pass_limit"] = stats["pass_limiter"]["limit"]
        result["placement"] = engine.placement.label
        result["backend"] = engine.classifier().backend  # what served the passes (placement is PyTorch's)
    print(name, result, file=sys.stderr)
    return result


def make_batching_engine(precision: str, threads: int, window_ms: str | None):
    """The engine at precision; window_ms None: DEEPFAKE_BATCH_WINDOW_MS's default."""
    from deepfake_detection.engine import DetectionEngine, EngineSettings

    env = dict(os.environ, DEEPFAKE_PRECISION=precision, DEEPFAKE_TORCH_THREADS=str(threads))
    if window_ms is not None:
        env["DEEPFAKE_BATCH_WINDOW_MS"] = window_ms
    return DetectionEngine(EngineSettings.from_env(env))


def median_of(rounds: list[dict]) -> dict:
    """Per field, the median over rounds (numbers) or the last round's value; the rounds themselves too."""
    out: dict = {}
    for key, value in rounds[-1].items():
        numbers = [r[key] for r in rounds if isinstance(r.get(key), (int, float))]
        out[key] = round(statistics.median(numbers), 2) if len(numbers) == len(rounds) else value
    if len(rounds) > 1:
        out["rounds"] = [{k: r[k] for k in ("images_per_s", "p50_ms", "p95_ms", "lone_ms")} for r in rounds]
    return out


MEMORY_CODE = """
import ctypes, json, sys, threading, time
import deepfake_detection  # first: the engine under test comes from PYTHONPATH, before bench/ adds this checkout's src
sys.path.insert(0, {repo!r})
from bench.engine_bench import make_engine, rss_mb
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
                                               'fsmblks', 'uordblks', 'fordblks', 'keepcost')]
libc = ctypes.CDLL('libc.so.6')
libc.mallinfo2.restype = MallInfo2
def at_rest():
    time.sleep({rest})
    info = libc.mallinfo2()
    return rss_mb()[0], {{'malloc_in_use_mb': info.uordblks >> 20, 'malloc_free_mb': info.fordblks >> 20}}
engine = make_engine({precision!r}, {threads})
photo = open({photo!r}, 'rb').read()
engine.detect_image(photo); engine.detect_image(photo); engine.detect_video({video!r})
loaded, _ = rss_mb()
def load(images, videos):
    remaining = [images]
    guard = threading.Lock()
    def client():
        while True:
            with guard:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            engine.detect_image(photo)
    def video_jobs():
        for _ in range(videos):
            engine.detect_video({video!r})
    threads = [threading.Thread(target=client) for _ in range({clients})] + [threading.Thread(target=video_jobs)]
    for t in threads: t.start()
    for t in threads: t.join()
load({clients}, 1)
warm, malloc_warm = at_rest()
load({images}, {videos})
after, malloc_after = at_rest()
peak = rss_mb()[1]
print(json.dumps({{'rss_model_loaded_mb': loaded, 'rss_warm_mb': warm, 'rss_after_mb': after, 'peak_rss_mb': peak,
                  'malloc_warm': malloc_warm, 'malloc_after': malloc_after,
                  'backend': engine.classifier().backend, 'engine_src': deepfake_detection.__file__,
                  'growth_percent_from_warm': round(100 * (after - warm) / warm, 1),
                  'growth_percent_from_loaded': round(100 * (after - loaded) / loaded, 1)}}))
"""


def memory_run(
    hf_home: Path,
    setup: str,
    threads: int,
    photo: Path,
    video: Path,
    images: int,
    videos: int,
    src: Path | None = None,
):
    """A fresh process: RSS with the model loaded, after a warm-up round, and after the images and videos.

    src: the engine's source folder to import instead of this checkout's (before/after comparisons).
    """
    backend, precision = MEMORY_SETUPS[setup]
    code = MEMORY_CODE.format(
        repo=str(REPO),
        rest=REST_SECONDS,
        precision=precision,
        threads=threads,
        photo=str(photo),
        video=str(video),
        images=images,
        videos=videos,
        clients=CLIENTS,
    )
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", DEEPFAKE_BACKEND=backend)
    env.setdefault("DEEPFAKE_PREPARED_CACHE", str(hf_home.parent / "prepared"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src or REPO / "src"), env.get("PYTHONPATH")]))
    result = run_json_process(code, env, timeout=3600)
    result.update(images=images, videos=videos, source=str(src) if src else "this checkout")
    print("memory", setup, result, file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 images per client, fewer runs: checks the script")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "deepfake-concurrency-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", default="speed,memory", help="comma-separated subset of: speed,memory")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds, all four set-ups each; medians")
    parser.add_argument("--memory-setups", default="auto,int8", help=f"subset of: {','.join(MEMORY_SETUPS)}")
    parser.add_argument("--before-src", type=Path, help="memory: also run each set-up with this engine source folder")
    args = parser.parse_args()

    hf_home = args.workdir / "hf_home"
    os.environ["HF_HOME"] = str(hf_home)  # before transformers/huggingface_hub are imported
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    import torch

    from tests.support import media

    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    per_client = 2 if args.quick else 10
    lone_runs = 3 if args.quick else 5
    results: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "threads": args.threads,
        "clients": CLIENTS,
        "images_per_client": per_client,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    build_models(hf_home)
    photo_path = args.workdir / "face_720p.jpg"
    media.face_photo(False, size=(1280, 720)).save(photo_path, quality=90)
    photo = photo_path.read_bytes()
    video = args.workdir / "clip_5s_720p30.mp4"
    if not video.exists():
        media.write_video(video, seconds=5, fps=30, size=(1280, 720), fake=[False, True, False, True, False])

    only = set(args.only.split(","))
    if "speed" in only:
        # All four loaded at once, then measured in turn, round after round: on a shared machine the
        # load of other tenants changes by the minute, and alternating spreads it over all of them.
        base = baseline_request(args.threads)
        engines = {
            "engine_auto": make_batching_engine("auto", args.threads, None),
            "engine_auto_window0": make_batching_engine("auto", args.threads, "0"),
            "engine_int8": make_batching_engine("int8", args.threads, None),
        }
        rounds: dict[str, list[dict]] = {"baseline_fp32_batch1": [], **{key: [] for key in engines}}
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
            rounds["baseline_fp32_batch1"].append(measure("baseline", lambda: base(photo), per_client, lone_runs))
            for key, engine in engines.items():
                run = measure(key, lambda e=engine: e.detect_image(photo), per_client, lone_runs, engine=engine)
                run["window_ms"] = engine.settings.batch_window_ms
                rounds[key].append(run)
        for key, runs in rounds.items():
            results[key] = median_of(runs)
        baseline = results["baseline_fp32_batch1"]
        for key in ("engine_auto", "engine_auto_window0", "engine_int8"):
            run = results[key]
            run["throughput_vs_baseline"] = round(run["images_per_s"] / baseline["images_per_s"], 2)
            run["p95_over_baseline_lone"] = round(run["p95_ms"] / baseline["lone_ms"], 2)
        results["targets_met"] = {
            f"{key}: throughput>=3x": results[key]["throughput_vs_baseline"] >= 3
            for key in ("engine_auto", "engine_int8")
        } | {f"{key}: p95<=2x lone": results[key]["p95_over_lone"] <= 2 for key in ("engine_auto", "engine_int8")}
    if "memory" in only:
        images, videos = (16, 2) if args.quick else (150, 7)
        setups = [name for name in args.memory_setups.split(",") if name]
        for name in setups:
            if args.before_src:
                results[f"memory_{name}_before"] = memory_run(
                    hf_home, name, args.threads, photo_path, video, images, videos, args.before_src
                )
            results[f"memory_{name}"] = memory_run(hf_home, name, args.threads, photo_path, video, images, videos)
        results.setdefault("targets_met", {}).update(
            {
                f"memory_{name}: growth<=15%": results[f"memory_{name}"]["growth_percent_from_warm"] <= 15
                for name in setups
            }
        )
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["rss_mb_of_this_process"] = rss_mb()[0]
    write_results(results, args.json)


if __name__ == "__main__":
    main()
