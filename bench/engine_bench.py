"""Engine speed and memory benchmark, CPU only, no download needed.

Builds full-size, randomly initialised models of the real architectures (ViT-base/16 at 224 for
dima806 and Deep-Fake-Detector-v2, SigLIP-base/16 at 224 for open-deepfake-detection) into a
temporary HuggingFace cache under the real model ids, writes a 60 s 1280x720 30 fps H.264 clip
and a 1280x720 face photo, then measures, in one run:

  * photo: p50/p90 of DetectionEngine.detect_image on the JPEG, model warm (target p50 <= 100 ms);
  * video: DetectionEngine.detect_video at 1 frame/s, model loaded: median of 3 runs after a first
    one, which is reported too (target <= 3 s), against a straightforward baseline that decodes
    every frame and classifies one sampled frame at a time in fp32 (target: engine >= 4x faster);
  * memory: RSS of a fresh process with all three models resident (target <= 1.8 GB);
  * bf16 / int8 vs fp32: verdict agreement and largest fake-probability difference on the same inputs.

Usage:  python bench/engine_bench.py [--quick] [--threads N] [--precision auto|int8|...] [--json results.json]
(--precision is the engine's DEEPFAKE_PRECISION for the photo, video and memory figures; default auto.)
Random weights mean the verdicts themselves are meaningless; only time, memory and the agreement
with fp32 are measured. Figures go in the README section "Engine: speed and memory".
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# This checkout's engine, not whichever one the virtualenv has installed (an editable install of another tree).
sys.path.insert(0, str(REPO / "src"))

REVISION = "0000000000000000000000000000000000000224"
MODELS = (
    ("dima806/deepfake_vs_real_image_detection", "vit", {0: "Real", 1: "Fake"}),
    ("prithivMLmods/Deep-Fake-Detector-v2-Model", "vit", {0: "Realism", 1: "Deepfake"}),
    ("prithivMLmods/open-deepfake-detection", "siglip", {0: "Fake", 1: "Real"}),
)


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return round(values.get("VmRSS", 0), 1), round(values.get("VmHWM", 0), 1)


def use_workdir(workdir: Path) -> Path:
    """Point the HF cache at workdir (offline) before transformers is imported; returns the HF home."""
    hf_home = workdir / "hf_home"
    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return hf_home


def write_media(workdir: Path, seconds: int) -> tuple[Path, Path]:
    """The 1280x720 face photo (JPEG, quality 90) and a seconds-long 720p30 H.264 clip (kept between runs)."""
    from tests.support import media

    workdir.mkdir(parents=True, exist_ok=True)
    photo_path = workdir / "face_720p.jpg"
    media.face_photo(False, size=(1280, 720)).save(photo_path, quality=90)
    video = workdir / f"clip_{seconds}s_720p30.mp4"
    if not video.exists():
        media.write_video(video, seconds=seconds, fps=30, size=(1280, 720), fake=[i % 4 == 3 for i in range(seconds)])
    return photo_path, video


def build_models(hf_home: Path) -> None:
    """Full-size random models under the real ids, in the standard hub cache layout."""
    import torch
    from transformers import (
        SiglipConfig,
        SiglipForImageClassification,
        SiglipImageProcessor,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
    )

    from tests.support.tiny_models import hub_snapshot_dir, save_hub_snapshot

    torch.manual_seed(0)
    for model_id, arch, id2label in MODELS:
        if (hub_snapshot_dir(hf_home / "hub", model_id, REVISION) / "model.safetensors").exists():
            continue
        label2id = {v: k for k, v in id2label.items()}
        if arch == "vit":  # ViTConfig() defaults are ViT-base/16 at 224
            model = ViTForImageClassification(ViTConfig(id2label=id2label, label2id=label2id))
            processor = ViTImageProcessor(size={"height": 224, "width": 224})
        else:  # SiglipVisionConfig() defaults are SigLIP-base/16 at 224
            model = SiglipForImageClassification(SiglipConfig(id2label=id2label, label2id=label2id))
            processor = SiglipImageProcessor(size={"height": 224, "width": 224})
        save_hub_snapshot(hf_home / "hub", model_id, model, processor, REVISION)
        del model
        gc.collect()


def make_engine(precision: str, threads: int):
    from deepfake_detection.engine import DetectionEngine, EngineSettings

    env = dict(os.environ, DEEPFAKE_PRECISION=precision, DEEPFAKE_TORCH_THREADS=str(threads))
    return DetectionEngine(EngineSettings.from_env(env))


def median_ms(fn, runs: int, warmups: int = 1) -> float:
    """Median wall time of fn() in ms over runs calls, after warmups untimed ones."""
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def run_json_process(code: str, env: dict, timeout: int) -> dict:
    """Run ``python -c code`` in a fresh process; the JSON object on its last line of output."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_results(results: dict, json_path: Path | None) -> None:
    """Print the results as JSON, and write them to json_path too when given."""
    text = json.dumps(results, indent=2)
    print(text)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text)


def bench_photo(engine, photo_jpeg: bytes, runs: int) -> dict:
    from deepfake_detection.engine.analysis import prepare_image
    from deepfake_detection.engine.images import load_rgb

    engine.detect_image(photo_jpeg)  # warm: model loaded, first-call allocations done
    engine.detect_image(photo_jpeg)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        verdict = engine.detect_image(photo_jpeg)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    rgb = load_rgb(photo_jpeg, max_pixels=10**9)
    detector, classifier = engine.face_detector(), engine.classifier()
    prepared = prepare_image(rgb, detector=detector, settings=engine.settings)
    pixels = classifier._preprocess(prepared.inputs)
    parts = {
        "decode_ms": median_ms(lambda: load_rgb(photo_jpeg, max_pixels=10**9), 10),
        "faces_ms": median_ms(lambda: prepare_image(rgb, detector=detector, settings=engine.settings), 10),
        "model_ms": median_ms(lambda: classifier._forward(pixels), 10),
    }
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1),
        "runs": runs,
        "face_found": verdict.face_found,
        "parts": parts,
    }


def baseline_video(video: Path, threads: int) -> dict:
    """Decode every frame; every fps-th one: face crop, then one fp32 forward at batch 1."""
    import av
    import torch

    from deepfake_detection.engine.analysis import analyse_images

    engine = make_engine("fp32", threads)
    classifier = engine.classifier()
    classifier.batch_size = 1
    detector = engine.face_detector()
    start = time.perf_counter()
    analysed = 0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = int(round(float(stream.average_rate)))
        for index, frame in enumerate(container.decode(stream)):
            rgb = frame.to_ndarray(format="rgb24")  # what cv2.VideoCapture.read() would hand over
            if index % step:
                continue
            analyse_images([rgb], classifier=classifier, detector=detector, settings=engine.settings)
            analysed += 1
    seconds = time.perf_counter() - start
    del engine, classifier
    gc.collect()
    torch.set_num_threads(threads)
    return {"seconds": round(seconds, 2), "frames_analyzed": analysed}


def engine_video(engine, video: Path, runs: int) -> dict:
    """The engine on the clip: a first run (first batch shapes of a warm model), then runs more, median."""
    from deepfake_detection.engine.video import VideoReader

    with VideoReader(video) as reader:
        decode_start = time.perf_counter()
        targets = [float(i) for i in range(int(reader.info.duration))]
        sampled = sum(1 for _ in reader.frames_at(targets))
        decode_s = time.perf_counter() - decode_start
        decoded = reader.decoded
    engine.classifier()  # loaded, as in a running server or worker: loading is not what is timed
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        verdict = engine.detect_video(video)
        times.append(time.perf_counter() - start)
    return {
        "seconds": round(statistics.median(times[1:]), 2),
        "first_run_seconds": round(times[0], 2),
        "runs": [round(t, 2) for t in times[1:]],
        "frames_analyzed": verdict.frames_analyzed,
        "backend": verdict.backend,
        "faces_per_frame": round(sum(f.faces for f in verdict.timeline) / max(1, len(verdict.timeline)), 2),
        "prefetch": engine.video_prefetch(),
        "sampling_only_seconds": round(decode_s, 2),
        "frames_decoded_for_sampling": decoded,
        "frames_sampled": sampled,
    }


def agreement(threads: int, images: list) -> dict:
    """Same inputs through fp32 and each reduced-precision mode: verdict agreement and probability gap."""
    result = {}
    fp32 = make_engine("fp32", threads)
    reference = {
        key: [fp32.detect_image(img, model_key=key) for img in images]
        for key in ("dima806", "deep-fake-v2", "open-deepfake")
    }
    del fp32
    for mode in ("bf16", "bf16-autocast", "int8"):
        other = make_engine(mode, threads)
        for key, expected in reference.items():
            got = [other.detect_image(img, model_key=key) for img in images]
            same = sum(x.is_fake == y.is_fake for x, y in zip(expected, got))
            gaps = [abs(x.fake_probability - y.fake_probability) for x, y in zip(expected, got)]
            margins = [abs(x.fake_probability - 0.5) for x in expected]
            result[f"{mode}/{key}"] = {
                "agree": f"{same}/{len(got)}",
                "max_prob_gap": round(max(gaps), 4),
                "median_fp32_margin": round(statistics.median(margins), 4),
            }
        del other
        gc.collect()
    return result


def rss_three_models(hf_home: Path, threads: int, photo: Path, precision: str = "auto") -> dict:
    """A fresh process loads all three models and classifies one photo with each."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from bench.engine_bench import make_engine, rss_mb\n"
        f"e = make_engine({precision!r}, {threads})\n"
        "for k in ('dima806', 'deep-fake-v2', 'open-deepfake'):\n"
        f"    e.detect_image({str(photo)!r}, model_key=k)\n"
        "rss, peak = rss_mb()\n"
        "print(json.dumps({'rss_mb': rss, 'peak_rss_mb': peak, 'loaded': e.loaded_models()}))\n"
    )
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    return run_json_process(code, env, timeout=600)


#: The CPU flags that decide the backend and precision, reported with every figure.
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8")


def machine() -> dict:
    from deepfake_detection.engine.device import cpu_flags, cpu_supports_bf16

    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "bf16_cpu": cpu_supports_bf16(),
        "flags": [flag for flag in REPORTED_FLAGS if flag in cpu_flags()],
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s video, few runs: checks the script works")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "deepfake-engine-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--precision", default="auto", help="DEEPFAKE_PRECISION for photo, video and memory")
    parser.add_argument(
        "--only",
        default="photo,video,baseline,agreement,memory",
        help="comma-separated subset of: photo,video,baseline,agreement,memory",
    )
    args = parser.parse_args()

    hf_home = use_workdir(args.workdir)

    import torch

    from tests.support import media

    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    seconds = 10 if args.quick else 60
    results: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "threads": args.threads,
        "video_seconds": seconds,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    t = time.perf_counter()
    build_models(hf_home)
    results["build_models_seconds"] = round(time.perf_counter() - t, 1)
    photo_path, video = write_media(args.workdir, seconds)
    photo_jpeg = photo_path.read_bytes()
    print(f"models and media ready ({results['build_models_seconds']} s)", file=sys.stderr)

    only = set(args.only.split(","))
    engine = make_engine(args.precision, args.threads)
    results["placement"] = engine.placement.label
    if "photo" in only:
        results["photo"] = bench_photo(engine, photo_jpeg, runs=5 if args.quick else 30)
        print("photo", results["photo"], file=sys.stderr)
        fp32_engine = make_engine("fp32", args.threads)
        results["photo_fp32"] = bench_photo(fp32_engine, photo_jpeg, runs=5 if args.quick else 15)
        print("photo fp32", results["photo_fp32"], file=sys.stderr)
        del fp32_engine
        gc.collect()
    if "video" in only:
        results["video_engine"] = engine_video(engine, video, runs=1 if args.quick else 3)
        print("video (engine)", results["video_engine"], file=sys.stderr)
    del engine
    gc.collect()
    if "baseline" in only:
        results["video_baseline"] = baseline_video(video, args.threads)
        print("video (baseline)", results["video_baseline"], file=sys.stderr)
    if "video" in only and "baseline" in only:
        results["video_speedup"] = round(results["video_baseline"]["seconds"] / results["video_engine"]["seconds"], 2)

    if "agreement" in only:
        results["reduced_vs_fp32"] = agreement(args.threads, _agreement_samples(media, args.quick))
        print("bf16/int8 vs fp32", results["reduced_vs_fp32"], file=sys.stderr)
    if "memory" in only:
        results["memory_three_models"] = rss_three_models(hf_home, args.threads, photo_path, args.precision)
        print("memory", results["memory_three_models"], file=sys.stderr)

    checks = {
        "photo_p50_ms<=100": lambda: results["photo"]["p50_ms"] <= 100,
        "video_s<=3": lambda: results["video_engine"]["seconds"] <= 3,
        "video_speedup>=4": lambda: results["video_speedup"] >= 4,
        "rss_mb<=1800": lambda: results["memory_three_models"]["rss_mb"] <= 1800,
    }
    results["targets_met"] = {name: check() for name, check in checks.items() if _has(check)}
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_results(results, args.json)


def _has(check) -> bool:
    try:
        check()
        return True
    except KeyError:
        return False


def _agreement_samples(media, quick: bool) -> list:
    samples = [media.face_photo(f, size=(1280, 720)) for f in (False, True)]
    samples += [media.no_face_image(f) for f in (False, True)] + [media.two_faces_photo()]
    if not quick:
        from PIL import Image

        samples += [
            Image.open(io.BytesIO(media.image_bytes(media.face_photo(bool(i % 2)).rotate(i * 7)))) for i in range(1, 16)
        ]
    return samples


if __name__ == "__main__":
    main()
