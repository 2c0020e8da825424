"""Ensemble speed and memory benchmark, CPU only, no download needed: three models against one, in one run.

Reuses engine_bench's full-size random models (ViT-base/16 for dima806 and Deep-Fake-Detector-v2,
SigLIP-base/16 for open-deepfake-detection, under the real ids) and media (1280x720 face photo, 60 s
720p30 H.264 clip), with the backend the engine chooses (DEEPFAKE_BACKEND=auto; fast backends are
prepared on first use into the workdir's cache and reused by later runs), and measures:

  * photo: detect_image of the default model against ``model_key="ensemble"`` (DEEPFAKE_ENSEMBLE_MEMBERS
    = the three models), each with and without the robustness self-test, taking turns call by call in
    --rounds rounds (the machine is shared: every set-up sees the same load); medians, per-round medians
    and each ratio per round (targets: ensemble <= 2.2x single; the self-test adds <= 1.6x);
  * where the ensemble's photo time goes: decode, faces, the self-test's variants, and per member the
    preprocessing and the forward pass at 1 and at 3 images (a face, or a face and its two variants);
  * with --before REF, the engine of git commit REF (loaded from `git archive` as a second package)
    takes turns too, so a change to the image path is measured before and after in the same run;
  * video: detect_video on the clip, default model against the ensemble, alternating (target: <= 3.2x);
  * memory: RSS of a fresh process with the three models resident (as engine_bench's figure), then after
    an ensemble photo with the self-test and an ensemble video (target: <= that figure + 10%).

Usage:  python bench/ensemble_bench.py [--quick] [--rounds N] [--before REF] [--only photo,video,memory] [--json PATH]
Random weights make the verdicts meaningless; only time and memory are measured.
Figures go in the README section "Engine: speed and memory" ("Ensemble and self-test").
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.concurrency_bench import REST_SECONDS  # noqa: E402
from bench.engine_bench import (  # noqa: E402
    build_models,
    machine,
    median_ms,
    rss_mb,
    run_json_process,
    use_workdir,
    write_media,
    write_results,
)

MEMBERS = "dima806,deep-fake-v2,open-deepfake"
ENSEMBLE = "ensemble"
# (label, model_key (None: the default), robustness)
SETUPS = (
    ("single", None, False),
    ("single+selftest", None, True),
    ("ensemble", ENSEMBLE, False),
    ("ensemble+selftest", ENSEMBLE, True),
)
BEFORE_PACKAGE = "deepfake_detection_before"


def engine_env(threads: int) -> dict[str, str]:
    """The engine's settings: automatic backend and precision, the three members, the given threads."""
    return dict(
        os.environ,
        DEEPFAKE_BACKEND="auto",
        DEEPFAKE_PRECISION="auto",
        DEEPFAKE_TORCH_THREADS=str(threads),
        DEEPFAKE_ENSEMBLE_MEMBERS=MEMBERS,
    )  # DEEPFAKE_BATCH_WINDOW_MS: the engine's default, or --window-ms through os.environ


def make_engine(threads: int, package: str = "deepfake_detection") -> Any:
    """A DetectionEngine of package (the working tree's, or the --before copy)."""
    engine_module = importlib.import_module(f"{package}.engine")
    return engine_module.DetectionEngine(engine_module.EngineSettings.from_env(engine_env(threads)))


def before_package(ref: str, workdir: Path) -> str:
    """Extract src/deepfake_detection at git ref as an importable package of another name; returns its name."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    root = workdir / f"before-{commit}"
    target = root / BEFORE_PACKAGE
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", commit, "src/deepfake_detection"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            root.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(tmp) / "src" / "deepfake_detection"), str(target))
    sys.path.insert(0, str(root))
    return BEFORE_PACKAGE


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall ms, CPU ms of this process, all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def photo_rounds(engines: dict[str, Any], photo: bytes, rounds: int, per_round: int) -> dict:
    """Every set-up of every engine, call by call in turn; per-round medians and ratios within each round."""
    calls: dict[str, Callable[[], Any]] = {}
    for suffix, engine in engines.items():
        for label, key, robust in SETUPS:
            if suffix and key is None:
                continue  # the single model's path is not what --before compares
            calls[label + suffix] = lambda e=engine, k=key, r=robust: e.detect_image(photo, model_key=k, robustness=r)
    verdicts = {label: call() for label, call in calls.items()}  # warm: models loaded, first-call allocations
    for call in calls.values():
        call()
    wall: dict[str, list[list[float]]] = {label: [] for label in calls}
    cpu: dict[str, list[list[float]]] = {label: [] for label in calls}
    for _ in range(rounds):
        for label in calls:
            wall[label].append([])
            cpu[label].append([])
        for _ in range(per_round):
            for label, call in calls.items():
                w, c = _timed(call)
                wall[label][-1].append(w)
                cpu[label][-1].append(c)
    out: dict[str, Any] = {"rounds": rounds, "calls_per_round": per_round, "setups": {}}
    for label in calls:
        flat = [t for r in wall[label] for t in r]
        out["setups"][label] = {
            "p50_ms": round(statistics.median(flat), 1),
            "p90_ms": round(sorted(flat)[int(0.9 * (len(flat) - 1))], 1),
            "cpu_p50_ms": round(statistics.median(t for r in cpu[label] for t in r), 1),
            "round_p50_ms": [round(statistics.median(r), 1) for r in wall[label]],
            "backend": verdicts[label].backend,
            "members": [{"key": m["key"], "backend": m["backend"]} for m in verdicts[label].members],
            "faces": len(verdicts[label].faces),
        }

    def ratio(top: str, bottom: str) -> dict | None:
        if top not in wall or bottom not in wall:
            return None
        per_round = [statistics.median(a) / statistics.median(b) for a, b in zip(wall[top], wall[bottom])]
        cpu_round = [statistics.median(a) / statistics.median(b) for a, b in zip(cpu[top], cpu[bottom])]
        return {"wall": _spread(per_round), "cpu": _spread(cpu_round)}

    ratios = {
        "ensemble / single (target <= 2.2)": ratio("ensemble", "single"),
        "ensemble+selftest / ensemble (target <= 1.6)": ratio("ensemble+selftest", "ensemble"),
        "single+selftest / single": ratio("single+selftest", "single"),
        "ensemble+selftest / single": ratio("ensemble+selftest", "single"),
    }
    for suffix in engines:
        if suffix:
            ratios[f"ensemble{suffix} / single"] = ratio(f"ensemble{suffix}", "single")
            ratios[f"ensemble / ensemble{suffix}"] = ratio("ensemble", f"ensemble{suffix}")
            ratios[f"ensemble+selftest / ensemble+selftest{suffix}"] = ratio(
                "ensemble+selftest", f"ensemble+selftest{suffix}"
            )
    out["ratios"] = {name: value for name, value in ratios.items() if value is not None}
    return out


def photo_parts(engine: Any, photo: bytes, runs: int) -> dict:
    """Where an ensemble photo's time goes: shared steps once, then each member's preprocessing and forward pass."""
    from deepfake_detection.engine.analysis import prepare_image
    from deepfake_detection.engine.images import load_image
    from deepfake_detection.engine.robustness import variants

    settings = engine.settings
    image = load_image(photo, max_pixels=settings.max_image_pixels, max_side=settings.work_max_side or None)
    detector = engine.face_detector()
    prepared = prepare_image(image.rgb, detector=detector, settings=settings)
    crops = prepared.inputs
    with_variants = [*crops, *(v for crop in crops for v in variants(crop).values())]
    parts: dict[str, Any] = {
        "crops": len(crops),
        "batch_window_ms": settings.batch_window_ms,
        "decode_ms": median_ms(lambda: load_image(photo, max_pixels=settings.max_image_pixels), runs),
        "faces_ms": median_ms(lambda: prepare_image(image.rgb, detector=detector, settings=settings), runs),
        "selftest_variants_ms": median_ms(lambda: [variants(crop) for crop in crops], runs),
        "members": {},
    }
    for spec in engine.ensemble_members():
        classifier = engine.classifier(spec.key)
        one, three = classifier._preprocess(crops), classifier._preprocess(with_variants)
        parts["members"][spec.key] = {
            "backend": classifier.backend,
            "max_batch": classifier.max_batch,
            "preprocess_1_ms": median_ms(lambda c=classifier: c._preprocess(crops), runs),
            "preprocess_3_ms": median_ms(lambda c=classifier: c._preprocess(with_variants), runs),
            "forward_1_ms": median_ms(lambda c=classifier, x=one: c._forward(x), runs),
            "forward_3_ms": median_ms(lambda c=classifier, x=three: c._forward(x), runs),
        }
    return parts


def video_runs(engine: Any, video: Path, runs: int) -> dict:
    """detect_video of the default model and of the ensemble, alternating after a first (warm-up) run each."""
    available: dict[str, str | None] = {"single": None, "ensemble": ENSEMBLE}
    out: dict[str, Any] = {}
    for label, key in available.items():
        start = time.perf_counter()
        verdict = engine.detect_video(video, model_key=key)
        out[label] = {"first_run_seconds": round(time.perf_counter() - start, 2), "runs": []}
        out[label]["frames_analyzed"] = verdict.frames_analyzed
        out[label]["backend"] = verdict.backend
        out[label]["members"] = [{n: m[n] for n in ("key", "backend")} for m in verdict.members or []]
    seconds: dict[str, list[float]] = {label: [] for label in available}
    for _ in range(runs):
        for label, key in available.items():
            start = time.perf_counter()
            engine.detect_video(video, model_key=key)
            seconds[label].append(time.perf_counter() - start)
    for label in available:
        out[label]["runs"] = [round(t, 2) for t in seconds[label]]
        out[label]["seconds"] = round(statistics.median(seconds[label]), 2)
    if len(available) == 2:
        pairs = [e / s for s, e in zip(seconds["single"], seconds["ensemble"])]
        out["ensemble / single (target <= 3.2)"] = _spread(pairs)
    return out


def memory(hf_home: Path, threads: int, photo: Path, video: Path) -> dict:
    """A fresh process: RSS with the three models resident (as engine_bench), then after an ensemble photo and video.

    Each reading is taken at rest, REST_SECONDS after the last request, when the engine has given freed memory back.
    """
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from bench.ensemble_bench import make_engine\n"
        "from bench.engine_bench import rss_mb\n"
        f"e = make_engine({threads})\n"
        "for k in ('dima806', 'deep-fake-v2', 'open-deepfake'):\n"
        f"    e.detect_image({str(photo)!r}, model_key=k)\n"
        f"time.sleep({REST_SECONDS})\n"
        "resident, peak = rss_mb()\n"
        "for robust in (False, True):\n"
        f"    e.detect_image({str(photo)!r}, model_key='ensemble', robustness=robust)\n"
        f"time.sleep({REST_SECONDS})\n"
        "after_photo, _ = rss_mb()\n"
        f"e.detect_video({str(video)!r}, model_key='ensemble')\n"
        f"time.sleep({REST_SECONDS})\n"
        "after, after_peak = rss_mb()\n"
        "print(json.dumps({'three_models_resident_mb': resident, 'peak_while_loading_mb': peak,"
        " 'after_ensemble_photo_mb': after_photo, 'after_ensemble_photo_and_video_mb': after,"
        " 'peak_mb': after_peak,"
        " 'backends': {k: e.classifier(k).backend for k in e.loaded_models()}}))\n"
    )
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    found = run_json_process(code, env, timeout=1800)
    found["growth (target <= 1.10)"] = round(
        found["after_ensemble_photo_and_video_mb"] / found["three_models_resident_mb"], 3
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s clip, few rounds: checks the script works")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "deepfake-engine-bench")
    parser.add_argument("--rounds", type=int, default=0, help="photo rounds (default 6, 2 with --quick)")
    parser.add_argument("--per-round", type=int, default=0, help="calls per set-up and round (default 5, 2 quick)")
    parser.add_argument("--before", help="git ref of an engine to measure against, in the same run")
    parser.add_argument("--only", default="photo,parts,video,memory", help="subset of: photo,parts,video,memory")
    parser.add_argument("--window-ms", type=float, help="DEEPFAKE_BATCH_WINDOW_MS (default: the engine's, 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    hf_home = use_workdir(args.workdir)
    if args.window_ms is not None:
        os.environ["DEEPFAKE_BATCH_WINDOW_MS"] = str(args.window_ms)

    import torch

    torch.set_num_threads(args.threads)
    seconds = 10 if args.quick else 60
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "threads": args.threads,
        "members": MEMBERS,
        "video_seconds": seconds,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    import deepfake_detection

    results["engine_source"] = str(Path(deepfake_detection.__file__).parent)
    results["engine_commit"] = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    build_models(hf_home)
    photo_path, video = write_media(args.workdir, seconds)
    photo = photo_path.read_bytes()
    only = set(args.only.split(","))
    engine = make_engine(args.threads)
    engine.warm_up(MEMBERS.split(","))  # prepares the fast backends on first use (minutes per model)
    print("models ready", {k: engine.classifier(k).backend for k in MEMBERS.split(",")}, file=sys.stderr, flush=True)
    if "photo" in only:
        engines = {"": engine}
        if args.before:
            results["before"] = args.before
            engines[" (before)"] = make_engine(args.threads, before_package(args.before, args.workdir))
        rounds = args.rounds or (2 if args.quick else 6)
        per_round = args.per_round or (2 if args.quick else 5)
        results["photo"] = photo_rounds(engines, photo, rounds, per_round)
        print("photo", json.dumps(results["photo"]["ratios"]), file=sys.stderr, flush=True)
        del engines
        gc.collect()
    if "parts" in only:
        results["photo_parts"] = photo_parts(engine, photo, runs=5 if args.quick else 15)
        print("parts", results["photo_parts"], file=sys.stderr, flush=True)
    if "video" in only:
        results["video"] = video_runs(engine, video, runs=1 if args.quick else 2)
        print("video", results["video"], file=sys.stderr, flush=True)
    del engine
    gc.collect()
    if "memory" in only:
        results["memory"] = memory(hf_home, args.threads, photo_path, video)
        print("memory", results["memory"], file=sys.stderr, flush=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["rss_of_this_process_mb"] = rss_mb()[0]
    write_results(results, args.json)


if __name__ == "__main__":
    main()
