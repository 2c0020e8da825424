"""Backend benchmark, CPU only, no download needed: every backend/precision against the fp32 PyTorch baseline.

Reuses engine_bench's full-size random models (ViT-base/16 and SigLIP-base/16 at 224 under the real
ids, in a temporary HF cache) and measures, in one run, at --threads threads:

  * image p50 of DetectionEngine.detect_image (1280x720 face photo, model warm) and the bare forward
    pass at batch 1, for the baseline (PyTorch fp32, batch 1) and each backend/precision, measured
    round-robin (all variants loaded at once) in wall and in CPU time, so a shared machine's load
    changes disturb every variant alike;
  * preparation time (export, quantization, self-check) of each fast backend;
  * agreement with fp32 on full-size random models: the self-check figures (generated images) and
    verdicts / largest probability gap on engine_bench's photos, all three models, for the auto choice;
  * RSS of a fresh process with all three models resident with the automatically chosen backend.

Usage:  python bench/backends_bench.py [--quick] [--threads N] [--only dima806] [--json results.json]
Random weights make the verdicts meaningless; only time, memory and agreement with fp32 are measured.
Figures go in the README section "Engine: backends".
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.engine_bench import (  # noqa: E402
    _agreement_samples,
    build_models,
    machine,
    run_json_process,
    write_results,
)

VARIANTS = (  # (label, DEEPFAKE_BACKEND, DEEPFAKE_PRECISION)
    ("pytorch/fp32 (baseline)", "pytorch", "fp32"),
    ("pytorch/bf16", "pytorch", "bf16"),
    ("pytorch/int8-dynamic", "pytorch", "int8"),
    ("onnxruntime/fp32", "onnxruntime", "fp32"),
    ("onnxruntime/int8-static", "onnxruntime", "int8"),
    ("openvino/fp32", "openvino", "fp32"),
    ("openvino/bf16", "openvino", "bf16"),
    ("openvino/int8-static", "openvino", "int8"),
    ("auto (the rule's choice)", "auto", "auto"),  # on AMX CPUs openvino/int8-static-sym, else one of the above
)
KEYS = ("dima806", "deep-fake-v2", "open-deepfake")


def make_engine(backend: str, precision: str, threads: int, prepared: Path, batch_size: int = 8):
    from deepfake_detection.engine import DetectionEngine, EngineSettings

    env = dict(
        os.environ,
        DEEPFAKE_BACKEND=backend,
        DEEPFAKE_PRECISION=precision,
        DEEPFAKE_TORCH_THREADS=str(threads),
        DEEPFAKE_PREPARED_CACHE=str(prepared),
        DEEPFAKE_BATCH_SIZE=str(batch_size),
    )
    return DetectionEngine(EngineSettings.from_env(env))


def load_variant(backend: str, precision: str, threads: int, prepared: Path, photo: bytes) -> dict:
    """Engine and classifier for one variant (preparing it if needed), with the model input of the photo's face."""
    from deepfake_detection.engine.analysis import prepare_image
    from deepfake_detection.engine.images import load_rgb

    engine = make_engine(backend, precision, threads, prepared, batch_size=1 if backend == "pytorch" else 8)
    start = time.perf_counter()
    classifier = engine.classifier("dima806")
    load_s = round(time.perf_counter() - start, 1)
    rgb = load_rgb(photo, max_pixels=10**9)
    inputs = prepare_image(rgb, detector=engine.face_detector(), settings=engine.settings).inputs[:1]
    return {
        "engine": engine,
        "classifier": classifier,
        "pixels": classifier._preprocess(inputs),
        "load_or_prepare_s": load_s,
    }


def _timed(fn, *args) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def interleaved(loaded: dict[str, dict], photo: bytes, runs: int) -> dict:
    """Round-robin over the variants, run by run, so a shared machine's load changes hit all of them alike.

    Wall time is the latency a request sees; CPU time (all threads of this process) is the work done,
    which another process's load disturbs much less.
    """
    samples: dict[str, dict[str, list[float]]] = {
        k: {"image": [], "image_cpu": [], "fwd": [], "fwd_cpu": []} for k in loaded
    }
    for item in loaded.values():  # warm: first-call allocations and kernel selection
        for _ in range(2):
            item["engine"].detect_image(photo)
            item["classifier"]._forward(item["pixels"])
    for _ in range(runs):
        for label, item in loaded.items():
            engine, classifier, pixels = item["engine"], item["classifier"], item["pixels"]
            wall, cpu = _timed(engine.detect_image, photo)
            samples[label]["image"].append(wall)
            samples[label]["image_cpu"].append(cpu)
            wall, cpu = _timed(classifier._forward, pixels)
            samples[label]["fwd"].append(wall)
            samples[label]["fwd_cpu"].append(cpu)
    out = {}
    for label, item in loaded.items():
        med = {name: round(statistics.median(values), 1) for name, values in samples[label].items()}
        out[label] = {
            "served_by": item["classifier"].backend,
            "load_or_prepare_s": item["load_or_prepare_s"],
            "image_p50_ms": med["image"],
            "image_cpu_p50_ms": med["image_cpu"],
            "forward_p50_ms": med["fwd"],
            "forward_cpu_p50_ms": med["fwd_cpu"],
            "self_check": item["classifier"].agreement,
        }
    return out


def agreement_photos(threads: int, prepared: Path, samples: list) -> dict:
    """Verdicts and largest probability gap of the auto choice against PyTorch fp32 on photos, all models."""
    reference = make_engine("pytorch", "fp32", threads, prepared)
    expected = {k: [reference.detect_image(s, model_key=k) for s in samples] for k in KEYS}
    del reference
    gc.collect()
    auto = make_engine("auto", "auto", threads, prepared)
    out = {}
    for key in KEYS:
        got = [auto.detect_image(s, model_key=key) for s in samples]
        same = sum(a.is_fake == b.is_fake for a, b in zip(expected[key], got))
        gaps = [abs(a.fake_probability - b.fake_probability) for a, b in zip(expected[key], got)]
        out[key] = {
            "backend": got[0].backend,
            "agree": f"{same}/{len(got)}",
            "max_prob_gap": round(max(gaps), 4),
            "self_check": auto.classifier(key).agreement,
        }
    return out


MEMORY_CODE = """
import json, sys
import deepfake_detection  # first: the engine under test comes from PYTHONPATH, before bench/ adds this checkout's src
sys.path.insert(0, {repo!r})
from bench.backends_bench import make_engine
from bench.engine_bench import rss_mb
def status():
    values = {{}}
    for line in open('/proc/self/status'):
        if line.startswith(('VmRSS', 'RssAnon', 'RssFile')):
            key, value = line.split(':')
            values[key] = round(int(value.split()[0]) / 1024)
    return values
e = make_engine('auto', 'auto', {threads}, __import__('pathlib').Path({prepared!r}))
e.face_detector()
steps = [{{'loaded': 'engine and face detector', **status()}}]
for k in ('dima806', 'open-deepfake', 'deep-fake-v2'):
    e.detect_image({photo!r}, model_key=k)
    steps.append({{'loaded': k, 'backend': e.classifier(k).backend, **status()}})
rss, peak = rss_mb()
print(json.dumps({{'rss_mb': rss, 'peak_rss_mb': peak, 'steps': steps, 'engine_src': deepfake_detection.__file__}}))
"""


def rss_three_models(hf_home: Path, threads: int, prepared: Path, photo: Path, src: Path | None = None) -> dict:
    """A fresh process loads the three models one by one (auto backend): RSS (anonymous, file-backed) after each.

    src: the engine's source folder to import instead of this checkout's (an older version, for a
    before/after comparison in one run).
    """
    code = MEMORY_CODE.format(repo=str(REPO), threads=threads, prepared=str(prepared), photo=str(photo))
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src or REPO / "src"), env.get("PYTHONPATH")]))
    return run_json_process(code, env, timeout=1800)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few runs, few photos: checks the script works")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "deepfake-engine-bench")
    parser.add_argument(
        "--variants",
        default="",
        help="comma-separated labels to run, first word only, e.g. pytorch/fp32,auto (default: all)",
    )
    parser.add_argument("--only", default="speed,agreement,memory", help="subset of: speed,agreement,memory")
    parser.add_argument("--runs", type=int, default=0, help="timed runs per variant (default 20, 5 with --quick)")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--before-src", type=Path, help="memory: also measure the engine in this source folder (before/after)"
    )
    args = parser.parse_args()

    hf_home = args.workdir / "hf_home"
    prepared = args.workdir / "prepared"
    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    import torch

    from tests.support import media

    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    build_models(hf_home)
    photo_path = args.workdir / "face_720p.jpg"
    media.face_photo(False, size=(1280, 720)).save(photo_path, quality=90)
    photo = photo_path.read_bytes()
    results: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "threads": args.threads,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    only = set(args.only.split(","))
    runs = args.runs or (5 if args.quick else 20)
    if "speed" in only:
        wanted = set(filter(None, args.variants.split(",")))
        loaded = {}
        for label, backend, precision in VARIANTS:
            if wanted and label.split(" ")[0] not in wanted:
                continue
            loaded[label] = load_variant(backend, precision, args.threads, prepared, photo)
            print(label, "loaded in", loaded[label]["load_or_prepare_s"], "s", file=sys.stderr, flush=True)
        speed = interleaved(loaded, photo, runs)
        base = speed.get(VARIANTS[0][0])
        if base:
            for row in speed.values():
                for name in ("image", "image_cpu", "forward", "forward_cpu"):
                    row[f"{name}_speedup"] = round(base[f"{name}_p50_ms"] / row[f"{name}_p50_ms"], 2)
        results["speed"] = speed
        del loaded
        gc.collect()
    if "agreement" in only:
        samples = _agreement_samples(media, args.quick)
        results["agreement_auto_vs_fp32"] = agreement_photos(args.threads, prepared, samples)
        print("agreement", results["agreement_auto_vs_fp32"], file=sys.stderr, flush=True)
    if "memory" in only:
        if args.before_src:
            before = rss_three_models(hf_home, args.threads, prepared, photo_path, args.before_src)
            results["memory_three_models_auto_before"] = before
            print("memory before", before, file=sys.stderr, flush=True)
        results["memory_three_models_auto"] = rss_three_models(hf_home, args.threads, prepared, photo_path)
        print("memory", results["memory_three_models_auto"], file=sys.stderr, flush=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_results(results, args.json)


if __name__ == "__main__":
    main()
