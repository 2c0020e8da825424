"""Fast backends (ONNX Runtime, OpenVINO): the self-check on the tiny trained models, fallback, the prepared cache."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import openvino
import openvino.opset13
import pytest
from click.testing import CliRunner
from onnx import numpy_helper
from transformers import PreTrainedModel

import deepfake_detection
from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.agreement import DEFAULT_MAX_GAP, check_images
from deepfake_detection.engine.backends import (
    CHECK_FILE,
    BackendChoice,
    backend_chain,
    load_with_fallback,
    model_path,
    prepared_key,
)
from deepfake_detection.engine.batching import PassLimiter
from deepfake_detection.engine.cli import main
from deepfake_detection.engine.device import choose_placement, cpu_has_amx_int8, cpu_supports_bf16
from deepfake_detection.engine.prepared import PreparedStore
from tests.support import media
from tests.support.tiny_models import build_local_model

KEYS = ("dima806", "deep-fake-v2", "open-deepfake")
FAST = ("onnxruntime", "openvino")


def make_engine(prepared: Path, **overrides: str) -> DetectionEngine:
    env = dict(os.environ, DEEPFAKE_PREPARED_CACHE=str(prepared))
    env.update(overrides)
    return DetectionEngine(EngineSettings.from_env(env))


@pytest.fixture(scope="module")
def shared_prepared(tmp_path_factory) -> Path:
    """One prepared cache for the read-only tests of this module (each model is built once per backend)."""
    return tmp_path_factory.mktemp("prepared")


def _photos() -> list[np.ndarray]:
    images = [np.asarray(media.face_photo(bool(i % 2)).rotate(i * 9)) for i in range(6)]
    images += [np.asarray(media.no_face_image(fake)) for fake in (False, True)]
    return images


@pytest.mark.parametrize("backend", FAST)
def test_self_check_passes_on_the_tiny_trained_models(tiny_hf_home, shared_prepared, backend):
    fast = make_engine(shared_prepared, DEEPFAKE_BACKEND=backend)
    reference = make_engine(shared_prepared, DEEPFAKE_BACKEND="pytorch", DEEPFAKE_PRECISION="fp32")
    photos = _photos()
    for key in KEYS:
        classifier = fast.classifier(key)
        assert classifier.backend == f"{backend}/int8-static"
        check = classifier.agreement
        assert check is not None and check["passed"], check
        assert check["verdicts_agree"] == check["images"] == len(check_images())
        assert check["max_gap"] <= DEFAULT_MAX_GAP
        # Beyond the generated check images: the test photos, which the tiny models really classify.
        expected = reference.classifier(key).fake_probabilities(photos)
        got = classifier.fake_probabilities(photos)
        assert list(got >= 0.5) == list(expected >= 0.5)
        assert float(np.max(np.abs(got - expected))) <= DEFAULT_MAX_GAP
        assert {bool(v) for v in expected >= 0.5} == {True, False}  # both verdicts are exercised


@pytest.mark.parametrize("backend", FAST)
def test_verdicts_name_the_backend_and_batches_do_not_change_results(tiny_hf_home, shared_prepared, backend):
    engine = make_engine(shared_prepared, DEEPFAKE_BACKEND=backend)
    verdict = engine.detect_image(media.face_photo(True))
    assert verdict.is_fake and verdict.backend == f"{backend}/int8-static"
    assert verdict.to_dict()["backend"] == verdict.backend
    classifier = engine.classifier()
    assert classifier.max_batch == engine.settings.batch_size > 1
    images = _photos()
    alone = [float(classifier.fake_probabilities([image])[0]) for image in images]
    together = [float(p) for p in classifier.fake_probabilities(images)]
    assert together == pytest.approx(alone, abs=1e-5)  # static int8: fixed activation scales


def _noisy(values: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """values with heavy noise (int8 or float32 weights of 64 values or more), else None."""
    if values.size < 64:
        return None
    if values.dtype == np.int8:
        return rng.integers(-127, 128, values.shape).astype(np.int8)
    if values.dtype == np.float32:
        return (values + rng.normal(0, 3 * float(values.std()) + 0.1, values.shape)).astype(np.float32)
    return None


def _corrupt(entry: Path, backend: str) -> None:
    """Add noise to every sizeable weight of a prepared model (a fast path that is plainly wrong)."""
    rng = np.random.default_rng(0)
    path = model_path(entry, backend)
    if backend == "onnxruntime":
        model = onnx.load(str(path))
        for initializer in model.graph.initializer:
            noisy = _noisy(numpy_helper.to_array(initializer), rng)
            if noisy is not None:
                initializer.CopyFrom(numpy_helper.from_array(noisy, initializer.name))
        onnx.save(model, str(path))
        return
    graph = openvino.Core().read_model(str(path))
    for node in graph.get_ordered_ops():
        noisy = _noisy(node.get_data(), rng) if node.get_type_name() == "Constant" else None
        if noisy is not None:
            replacement = openvino.opset13.constant(noisy)
            for target in node.output(0).get_target_inputs():
                target.replace_source_output(replacement.output(0))
    rewritten = entry / "rewritten"
    rewritten.mkdir()
    openvino.save_model(graph, str(rewritten / path.name), compress_to_fp16=False)
    del graph  # it maps the old weights file
    for written in rewritten.iterdir():
        os.replace(written, entry / written.name)
    rewritten.rmdir()


@pytest.mark.parametrize("backend", FAST)
def test_a_broken_fast_path_is_refused_and_falls_back_with_the_reason_logged(tiny_hf_home, tmp_path, caplog, backend):
    first = make_engine(tmp_path, DEEPFAKE_BACKEND=backend)
    assert first.classifier("dima806").backend == f"{backend}/int8-static"
    spec = first.model("dima806")
    key = prepared_key(spec, first.settings, backend_chain(first.settings, first.placement)[0])
    entry = PreparedStore(tmp_path).lookup(key)
    assert entry is not None
    _corrupt(entry, backend)

    again = make_engine(tmp_path, DEEPFAKE_BACKEND=backend)
    with caplog.at_level(logging.WARNING, logger="deepfake_detection.engine.backends"):
        classifier = again.classifier("dima806")
    assert classifier.backend == "pytorch/float32"  # an explicit fast backend falls back to PyTorch fp32
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert "dima806" in message and f"{backend}/int8-static" in message and "gap" in message
    check = json.loads((entry / CHECK_FILE).read_text())["check"]
    assert check["passed"] is False
    assert check["verdicts_agree"] < check["images"] or check["max_gap"] > DEFAULT_MAX_GAP
    assert again.detect_image(media.face_photo(True)).backend == "pytorch/float32"


def test_auto_falls_back_along_the_chain(tiny_hf_home, tmp_path, caplog):
    """A bound no int8 path can meet: OpenVINO, then ONNX Runtime are refused, PyTorch serves."""
    engine = make_engine(tmp_path, DEEPFAKE_BACKEND="auto", DEEPFAKE_AGREEMENT_MAX_GAP="1e-12")
    with caplog.at_level(logging.WARNING, logger="deepfake_detection.engine.backends"):
        classifier = engine.classifier("dima806")
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    chain = [c.label for c in backend_chain(engine.settings, engine.placement)]  # AMX CPUs try one more
    assert len(refused) == len(chain) - 1
    for message, tried, following in zip(refused, chain, chain[1:]):
        assert f"backend {tried} refused" in message and f"falling back to {following}" in message
    assert "onnxruntime/int8-static" in refused[-1] and "falling back to pytorch/" in refused[-1]
    assert classifier.backend.startswith("pytorch/")
    status = engine.backend_status("dima806")
    assert status["loaded"] and status["backend"] == classifier.backend


def test_the_prepared_model_is_reused_not_rebuilt(tiny_hf_home, tmp_path):
    first = make_engine(tmp_path, DEEPFAKE_BACKEND="onnxruntime")
    first.classifier("dima806")
    assert first._models is not None and first._models.store.builds == 1
    [entry] = [p for p in tmp_path.iterdir() if p.is_dir()]
    mtime = model_path(entry, "onnxruntime").stat().st_mtime_ns

    second = make_engine(tmp_path, DEEPFAKE_BACKEND="onnxruntime")
    assert second.backend_status("dima806") == {
        "loaded": False,
        "backend": "onnxruntime/int8-static",
        "prepared": True,
        "max_gap": first.classifier("dima806").agreement["max_gap"],
        "passed": True,
    }
    assert second.classifier("dima806").backend == "onnxruntime/int8-static"
    assert second._models is not None and second._models.store.builds == 0
    assert model_path(entry, "onnxruntime").stat().st_mtime_ns == mtime


def test_a_stale_entry_is_rebuilt_for_new_weights_and_a_new_runtime_version(tiny_hf_home, tmp_path, monkeypatch):
    local = build_local_model(tmp_path / "mine")
    prepared = tmp_path / "prepared"
    env = {"DEEPFAKE_BACKEND": "onnxruntime", "DEEPFAKE_EXTRA_MODELS": f"mine={local}"}
    first = make_engine(prepared, **env)
    first.classifier("mine")
    [old] = [p for p in prepared.iterdir() if p.is_dir()]

    weights = local / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # rewritten weights
    second = make_engine(prepared, **env)
    assert second.backend_status("mine")["prepared"] is False
    assert second.classifier("mine").agreement["passed"]
    assert second._models is not None and second._models.store.builds == 1
    [new] = [p for p in prepared.iterdir() if p.is_dir()]
    assert new != old  # the stale entry was replaced, not reused

    monkeypatch.setattr(onnxruntime, "__version__", onnxruntime.__version__ + ".post1")
    third = make_engine(prepared, **env)
    third.classifier("mine")
    assert third._models is not None and third._models.store.builds == 1


def test_concurrent_loads_in_threads_build_once(tiny_hf_home, tmp_path):
    engines = [make_engine(tmp_path, DEEPFAKE_BACKEND="onnxruntime") for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    backends: list[str] = []

    def load(engine: DetectionEngine) -> None:
        barrier.wait()
        backends.append(engine.classifier("deep-fake-v2").backend)

    threads = [threading.Thread(target=load, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backends == ["onnxruntime/int8-static"] * 3
    assert sum(e._models.store.builds for e in engines if e._models is not None) == 1


def test_concurrent_loads_in_processes_build_once(tiny_hf_home, tmp_path):
    code = (
        "import json, os, sys\n"
        f"sys.path.insert(0, {str(Path(deepfake_detection.__file__).parent.parent)!r})\n"
        "from deepfake_detection.engine import DetectionEngine, EngineSettings\n"
        "e = DetectionEngine(EngineSettings.from_env())\n"
        "c = e.classifier('open-deepfake')\n"
        "print(json.dumps({'backend': c.backend, 'builds': e._models.store.builds}))\n"
    )
    env = dict(os.environ, DEEPFAKE_BACKEND="onnxruntime", DEEPFAKE_PREPARED_CACHE=str(tmp_path))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["backend"] for r in results] == ["onnxruntime/int8-static"] * 2
    assert sorted(r["builds"] for r in results) == [0, 1]


def test_the_documented_choice_rule():
    settings = EngineSettings(backend="auto", precision="auto", device="cpu")
    chain = [c.label for c in backend_chain(settings, choose_placement(settings))]
    torch_auto = "pytorch/bfloat16" if cpu_supports_bf16() else "pytorch/float32"  # bf16 only when native
    symmetric = ["openvino/int8-static-sym"] if cpu_has_amx_int8() else []  # measured faster on AMX only
    assert chain == [*symmetric, "openvino/int8-static", "onnxruntime/int8-static", torch_auto]
    fp32 = replace(settings, precision="fp32")
    assert [c.label for c in backend_chain(fp32, choose_placement(fp32))] == ["pytorch/float32"]
    pinned = replace(settings, backend="pytorch")
    assert [c.label for c in backend_chain(pinned, choose_placement(pinned))] == [torch_auto]
    ort = replace(settings, backend="onnxruntime", precision="int8")
    assert [c.label for c in backend_chain(ort, choose_placement(ort))] == [
        "onnxruntime/int8-static",
        "pytorch/float32",
    ]
    ov_bf16 = replace(settings, backend="openvino", precision="bf16")
    assert backend_chain(ov_bf16, choose_placement(ov_bf16))[0].label == "openvino/bf16"
    for backend, precision in (("onnxruntime", "bf16"), ("openvino", "fp16"), ("tensorrt", "auto")):
        bad = replace(settings, backend=backend, precision=precision)
        with pytest.raises(ValueError):
            backend_chain(bad, choose_placement(replace(bad, precision="fp32")))


def test_download_models_prepares_and_models_shows_backend_and_gap(tiny_hf_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPFAKE_BACKEND", "onnxruntime")
    monkeypatch.setenv("DEEPFAKE_PREPARED_CACHE", str(tmp_path))
    before = CliRunner().invoke(main, ["models", "--format", "json"], catch_exceptions=False)
    row = {r["key"]: r for r in json.loads(before.stdout)}["dima806"]
    assert row["backend"]["backend"] == "onnxruntime/int8-static" and row["backend"]["prepared"] is False

    prepared = CliRunner().invoke(main, ["download-models", "--model", "dima806"], catch_exceptions=False)
    assert prepared.exit_code == 0
    assert "dima806: ready, runs on onnxruntime/int8-static, self-check gap" in prepared.output

    after = CliRunner().invoke(main, ["models"], catch_exceptions=False).stdout
    line = next(line for line in after.splitlines() if line.startswith("dima806"))
    assert "onnxruntime/int8-static" in line and "not prepared" not in line
    assert f"Prepared models: {tmp_path}" in after


def _live_torch_models() -> set[int]:
    gc.collect()
    return {id(obj) for obj in gc.get_objects() if isinstance(obj, PreTrainedModel)}


@pytest.mark.parametrize("backend", FAST)
def test_no_pytorch_model_stays_resident_after_a_fast_backend_is_prepared_and_loaded(tiny_hf_home, tmp_path, backend):
    """Preparing loads the fp32 PyTorch model for the export and the self-check; it must be gone afterwards."""
    before = _live_torch_models()
    engine = make_engine(tmp_path, DEEPFAKE_BACKEND=backend)
    assert engine.classifier("dima806").backend == f"{backend}/int8-static"
    assert engine._models is not None and engine._models.store.builds == 1  # it was prepared in this process
    assert _live_torch_models() - before == set()


def test_openvino_models_share_one_core(tiny_hf_home, shared_prepared):
    """One CPU plugin instance for every OpenVINO model of the process (a Core per model cost memory)."""
    engine = make_engine(shared_prepared, DEEPFAKE_BACKEND="openvino")
    first, second = engine.classifier("dima806"), engine.classifier("open-deepfake")
    assert first.backend == second.backend == "openvino/int8-static"
    assert first.core is second.core
    assert make_engine(shared_prepared, DEEPFAKE_BACKEND="openvino").classifier("dima806").core is first.core


@pytest.mark.parametrize("backend", FAST)
def test_a_recorded_refusal_is_not_compiled_and_checked_again(tiny_hf_home, tmp_path, caplog, backend):
    """A fast model already refused for this file and bound is refused from the record, without opening it."""
    first = make_engine(tmp_path, DEEPFAKE_BACKEND=backend)
    first.classifier("dima806")
    spec = first.model("dima806")
    entry = PreparedStore(tmp_path).lookup(
        prepared_key(spec, first.settings, backend_chain(first.settings, first.placement)[0])
    )
    assert entry is not None
    _corrupt(entry, backend)
    assert make_engine(tmp_path, DEEPFAKE_BACKEND=backend).classifier("dima806").backend == "pytorch/float32"
    refused = json.loads((entry / CHECK_FILE).read_text())["check"]
    assert refused["passed"] is False

    again = make_engine(tmp_path, DEEPFAKE_BACKEND=backend)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="deepfake_detection.engine.backends"):
        assert again.classifier("dima806").backend == "pytorch/float32"
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert "recorded when it was checked" in record.getMessage()
    assert f"gap {refused['max_gap']:.4f}" in record.getMessage()


def test_at_rest_openvino_frees_its_buffers_and_answers_the_same_afterwards(tiny_hf_home, shared_prepared):
    """The pass limiter's release at rest reaches the compiled models (their per-batch-size buffers)."""
    env = dict(os.environ, DEEPFAKE_PREPARED_CACHE=str(shared_prepared), DEEPFAKE_BACKEND="openvino")
    engine = DetectionEngine(EngineSettings.from_env(env), pass_limiter=PassLimiter(1, idle_release_seconds=0))
    classifier = engine.classifier("dima806")
    assert classifier.backend == "openvino/int8-static" and classifier.memory_releases == 0
    photos = _photos()
    first = engine.batcher("dima806").alone.fake_probabilities(photos)  # passes of several images, then rest
    assert classifier.memory_releases >= 1
    again = engine.batcher("dima806").alone.fake_probabilities(photos)
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_symmetric_int8_passes_the_self_check_on_the_tiny_models_on_any_cpu(tiny_hf_home, shared_prepared):
    """The AMX-first variant (int8 activations, zero points 0) is built and checked like the others."""
    engine = make_engine(shared_prepared)
    fallback = backend_chain(replace(engine.settings, backend="pytorch"), engine.placement)
    store = PreparedStore(shared_prepared)
    for key in KEYS:
        spec = engine.model(key)
        chain = [BackendChoice("openvino", "int8-static-sym"), *fallback]
        classifier = load_with_fallback(spec, engine.settings, chain, store)
        assert classifier.backend == "openvino/int8-static-sym", key
        assert classifier.agreement is not None and classifier.agreement["passed"], classifier.agreement
        entry = store.lookup(prepared_key(spec, engine.settings, chain[0]))
        assert entry is not None and (entry / "model.xml").is_file()
        probabilities = classifier.fake_probabilities(_photos())
        alone = np.concatenate([classifier.fake_probabilities([photo]) for photo in _photos()])
        np.testing.assert_allclose(probabilities, alone, atol=1e-5)  # fixed scales: batch-independent
