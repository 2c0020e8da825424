"""Peak RSS growth under 8 concurrent maximum-size uploads, old engine against new, in one run.

Writes the inputs once (a flat-colour 6300x6300 PNG, a 6300x6300 JPEG photo of a face, both just under
the 40-megapixel image cap; a 12000x12000 MJPEG video, which the engine used to accept, and a 3840x2160
MJPEG video, the largest frame size it accepts now), then for each engine source tree and each input runs
a fresh process that loads the tiny test models, warms up on a small photo, and sends the input through
DetectionEngine.detect_image / detect_video from 8 threads at once. Per run it reports the RSS growth at
the peak (VmHWM after resetting it through /proc/self/clear_refs, checked against a 5 ms sampling thread)
and right after the 8 calls returned (after gc.collect()), plus what each call answered.

Usage:
  mkdir /tmp/oldsrc && git archive 73ab792 | tar -x -C /tmp/oldsrc    # the engine before the memory changes
  python bench/memory_bench.py --old /tmp/oldsrc/src [--new src] [--json results.json]

The tiny models keep the model's own memory out of the picture: only decoding and preprocessing differ.
Careful: the old engine took about 15 GB for mjpeg_12000 (2 CPUs here); leave it out with --only on a
shared machine.
Figures go in the README section "Engine: speed and memory" (paragraph "Memory under large uploads").
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# The script's own folder is first on sys.path (python bench/memory_bench.py, and its workers alike).
from engine_bench import rss_mb

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 8
INPUTS = ("png_6300", "jpeg_6300", "mjpeg_12000", "mjpeg_4k")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def write_inputs(folder: Path) -> dict[str, Path]:
    """The four maximum-size uploads, written once per run."""
    from tests.support import media

    suffixes = {"png_6300": ".png", "jpeg_6300": ".jpg", "mjpeg_12000": ".avi", "mjpeg_4k": ".avi"}
    paths = {name: folder / f"{name}{suffixes[name]}" for name in INPUTS}
    paths["png_6300"].write_bytes(media.flat_png((6300, 6300)))
    paths["jpeg_6300"].write_bytes(media.image_bytes(media.scaled_face_photo((6300, 6300)), quality=90))
    media.write_mjpeg(paths["mjpeg_12000"], size=(12000, 12000), seconds=3)
    media.write_mjpeg(paths["mjpeg_4k"], size=(3840, 2160), seconds=3)
    return paths


def worker(name: str, path: Path) -> dict:
    """In a fresh process: warm up, then 8 concurrent detections of one input; RSS figures in MB."""
    from tests.support import media
    from tests.support.tiny_models import ensure_tiny_model_cache

    os.environ["HF_HOME"] = str(ensure_tiny_model_cache())
    os.environ["HF_HUB_OFFLINE"] = "1"
    from deepfake_detection.engine import DetectionEngine, EngineError, EngineSettings

    engine = DetectionEngine(EngineSettings.from_env())
    engine.detect_image(media.image_bytes(media.face_photo()))
    small_video = path.parent / "warm.mp4"
    if not small_video.exists():
        media.write_video(small_video, seconds=2)
    engine.detect_video(small_video)
    data = path.read_bytes() if name.startswith(("png", "jpeg")) else None
    gc.collect()
    before = rss_mb()[0]
    exact_peak = reset_peak()
    sampled = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            sampled.append(rss_mb()[0])
            time.sleep(0.005)

    outcomes: list[str] = []
    barrier = threading.Barrier(CONCURRENCY)

    def one() -> None:
        barrier.wait()
        try:
            if data is not None:
                verdict = engine.detect_image(data)
                outcomes.append(f"ok {verdict.width}x{verdict.height}")
            else:
                verdict = engine.detect_video(path)
                outcomes.append(f"ok {verdict.frames_analyzed} frames")
        except EngineError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc.message}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    gc.collect()
    after, hwm = rss_mb()
    peak = max(max(sampled), hwm if exact_peak else 0.0)
    return {
        "input": name,
        "rss_before_mb": before,
        "peak_growth_mb": round(peak - before, 1),
        "after_growth_mb": round(after - before, 1),
        "seconds": round(seconds, 1),
        "outcomes": sorted(set(outcomes)),
    }


def cpu_description() -> str:
    """CPU model and the matrix-instruction flags that matter here."""
    model, flags = platform.processor(), set()
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8") if f in flags]
    return f"{model}, {os.cpu_count()} CPUs, flags: {' '.join(wanted)}"


def run(source: Path, name: str, path: Path) -> dict:
    """One worker process against the engine in source (a src directory)."""
    env = dict(os.environ, PYTHONPATH=f"{source}{os.pathsep}{REPO}", DEEPFAKE_TORCH_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--worker", name, str(path)], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="src directory of the engine to compare against")
    parser.add_argument("--new", type=Path, default=REPO / "src")
    parser.add_argument("--only", default=",".join(INPUTS), help="comma-separated inputs")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=2, metavar=("INPUT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return
    sys.path.insert(0, str(REPO))
    versions = {"new": args.new.resolve()}
    if args.old:
        versions = {"old": args.old.resolve(), **versions}
    report = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_description(),
        "concurrency": CONCURRENCY,
        "results": [],
    }
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as folder:
        paths = write_inputs(Path(folder))
        for name in args.only.split(","):
            sizes = paths[name].stat().st_size
            for version, source in versions.items():
                result = {"version": version, "file_kb": round(sizes / 1024, 1), **run(source, name, paths[name])}
                print(json.dumps(result), flush=True)
                report["results"].append(result)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
