"""A process serving prepared fast models loads neither transformers' modelling stack nor what only preparing needs.

Issue 12's memory target (three models resident <= 1.2 GB): transformers' image-processing and modelling
stack (about 130 MB of RSS), ONNX Runtime's quantizer (about 20 MB) and scikit-learn (about 45 MB) are
imported only by the paths that need them. The plain processor reader that makes this possible must give
exactly the inputs transformers' own processor gives.
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoImageProcessor

import deepfake_detection
from deepfake_detection.engine import DetectionEngine, EngineSettings
from deepfake_detection.engine.backends.base import Classifier
from deepfake_detection.engine.backends.processor import PlainImageProcessor, plain_processor, read_plain_processor
from deepfake_detection.engine.memory import drop_mapped_pages
from deepfake_detection.engine.registry import ModelSpec
from tests.support import media
from tests.support.tiny_models import build_local_model

KEYS = ("dima806", "deep-fake-v2", "open-deepfake")
#: Modules a serving process must not import (each is what one of the lazily imported dependencies pulls in).
PREPARING_ONLY = (
    "transformers.modeling_utils",
    "transformers.image_processing_utils",
    "onnxruntime.quantization",
    "sklearn",
)

SERVE_CODE = """
import json, sys
sys.path.insert(0, {src!r})
from deepfake_detection.engine import DetectionEngine, EngineSettings
engine = DetectionEngine(EngineSettings.from_env())
photo = open({photo!r}, 'rb').read()
backends = {{key: engine.detect_image(photo, model_key=key).backend for key in {keys!r}}}
dropped = {{key: engine.classifier(key).weights_pages_dropped for key in {keys!r}}}
loaded = sorted(name for name in {watched!r} if name in sys.modules)
print(json.dumps({{'backends': backends, 'dropped': dropped, 'loaded': loaded}}))
"""


def _serve_in_fresh_process(prepared: Path, photo: Path) -> dict:
    src = str(Path(deepfake_detection.__file__).resolve().parent.parent)
    code = SERVE_CODE.format(src=src, photo=str(photo), keys=KEYS, watched=PREPARING_ONLY)
    env = dict(os.environ, DEEPFAKE_BACKEND="openvino", DEEPFAKE_PREPARED_CACHE=str(prepared))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_process_serving_prepared_models_imports_nothing_only_preparing_needs(tiny_hf_home, tmp_path):
    prepared = tmp_path / "prepared"
    preparer = DetectionEngine(
        EngineSettings.from_env(dict(os.environ, DEEPFAKE_BACKEND="openvino", DEEPFAKE_PREPARED_CACHE=str(prepared)))
    )
    for key in KEYS:
        assert preparer.classifier(key).backend == "openvino/int8-static"
    photo = tmp_path / "face.jpg"
    photo.write_bytes(media.image_bytes(media.face_photo(True)))

    served = _serve_in_fresh_process(prepared, photo)

    assert served["backends"] == {key: "openvino/int8-static" for key in KEYS}
    assert served["loaded"] == []
    # OpenVINO's memory-mapped weights file left the process once the plugin had repacked the weights.
    assert all(dropped > 0 for dropped in served["dropped"].values()), served["dropped"]
    entry_files = {path.name for path in prepared.rglob("model.*")}
    assert entry_files == {"model.xml", "model.bin"}  # OpenVINO's own format; the exported ONNX is gone
    # The check can fail: preparing (and so the PyTorch path) does import them.
    assert {"transformers.modeling_utils", "onnxruntime.quantization"} <= set(sys.modules)


SOURCE_BY_ARCHITECTURE = {
    "vit": "dima806/deepfake_vs_real_image_detection",
    "siglip": "prithivMLmods/open-deepfake-detection",
}


def _tiny_spec(tmp_path: Path, architecture: str) -> ModelSpec:
    directory = build_local_model(tmp_path / architecture, source_model_id=SOURCE_BY_ARCHITECTURE[architecture])
    return ModelSpec(key=architecture, model_id=str(directory), name=architecture, description="a tiny local model")


class _Inputs(Classifier):
    """A classifier with no runtime: only its preprocessing is used."""


@pytest.mark.parametrize("architecture", ["vit", "siglip"])
def test_the_plain_reader_gives_exactly_the_inputs_of_transformers_processor(tiny_hf_home, tmp_path, architecture):
    spec = _tiny_spec(tmp_path, architecture)
    ours = read_plain_processor(spec.local_path / "preprocessor_config.json")
    theirs = AutoImageProcessor.from_pretrained(str(spec.local_path))
    assert isinstance(ours, PlainImageProcessor)
    labels = {0: "Real", 1: "Fake"}
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in ((40, 90), (300, 200), (32, 32))]

    from_ours = _Inputs(spec, labels, ours, max_batch=8)._preprocess(images)
    from_theirs = _Inputs(spec, labels, theirs, max_batch=8)._preprocess(images)
    by_transformers = theirs(images=images, return_tensors="pt")["pixel_values"]

    assert torch.equal(from_ours, from_theirs)
    assert torch.allclose(from_ours, by_transformers, atol=1e-5)


PLAIN = {
    "image_processor_type": "ViTImageProcessor",
    "do_resize": True,
    "size": {"height": 224, "width": 224},
    "resample": 2,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}


@pytest.mark.parametrize(
    "change",
    [
        {"image_processor_type": "DeiTImageProcessor"},  # centre-crops
        {"image_processor_type": None},
        {"size": {"shortest_edge": 224}},
        {"do_center_crop": True},
        {"do_pad": True},
        {"do_resize": False},
        {"resample": 99},
        {"image_std": [0.5, 0.0, 0.5]},
        {"image_mean": [0.5, 0.5]},
        {"rescale_factor": "1/255"},
    ],
)
def test_anything_but_a_plain_processor_is_left_to_transformers(change):
    assert plain_processor(PLAIN) is not None
    assert plain_processor({**PLAIN, **change}) is None


@pytest.mark.parametrize("missing", ["resample", "image_mean", "rescale_factor", "size"])
def test_a_key_left_to_transformers_defaults_is_not_guessed(missing):
    assert plain_processor({k: v for k, v in PLAIN.items() if k != missing}) is None


def test_a_model_whose_processor_is_not_plain_still_loads_through_transformers(tiny_hf_home, tmp_path):
    spec = _tiny_spec(tmp_path, "vit")
    config_path = spec.local_path / "preprocessor_config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(
        json.dumps(
            {**config, "size": {"shortest_edge": 32}, "do_center_crop": True, "crop_size": {"height": 32, "width": 32}}
        )
    )
    assert read_plain_processor(config_path) is None
    engine = DetectionEngine(
        EngineSettings.from_env(
            dict(os.environ, DEEPFAKE_BACKEND="pytorch", DEEPFAKE_EXTRA_MODELS=f"odd={spec.local_path}")
        )
    )
    verdict = engine.detect_image(media.image_bytes(media.face_photo(True)), model_key="odd")
    assert 0.0 <= verdict.fake_probability <= 1.0
    assert not isinstance(engine.classifier("odd").processor, PlainImageProcessor)
    assert isinstance(engine.classifier("dima806").processor, PlainImageProcessor)  # from the hub cache


def _resident_kb(path: Path) -> int:
    """Resident kB of this process's mappings of path (from /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and fields[0][0] in "0123456789abcdef" and ":" in fields[3]:
            inside = len(fields) >= 6 and fields[5] == str(path.resolve())
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux only")
def test_dropping_a_read_only_mapping_keeps_its_content_and_leaves_writable_ones(tmp_path):
    data = os.urandom(1 << 20)
    weights, scratch = tmp_path / "weights.bin", tmp_path / "scratch.bin"
    weights.write_bytes(data)
    scratch.write_bytes(data)
    with open(weights, "rb") as read_only, open(scratch, "r+b") as writable:
        with mmap.mmap(read_only.fileno(), 0, prot=mmap.PROT_READ) as mapped, mmap.mmap(writable.fileno(), 0) as shared:
            assert mapped[:] == data and shared[:] == data
            assert _resident_kb(weights) >= 1024 and _resident_kb(scratch) >= 1024

            assert drop_mapped_pages(weights) >= len(data)
            assert drop_mapped_pages(scratch) == 0  # a writable mapping may hold changes: never dropped

            assert _resident_kb(weights) == 0
            assert _resident_kb(scratch) >= 1024
            assert mapped[:] == data  # read again from the file
