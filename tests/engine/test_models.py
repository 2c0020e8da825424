"""Registry, loading from the HF cache and local dirs, label mapping by name, typed errors."""

from __future__ import annotations

import json
import os
import threading

import pytest
from transformers import AutoImageProcessor

from deepfake_detection.engine import DetectionEngine, EngineSettings, ModelLabelError, ModelUnavailableError
from deepfake_detection.engine.backends.source import model_source
from deepfake_detection.engine.device import (
    BF16_MATMUL_ATTENTION,
    bf16_matmul_attention,
    choose_placement,
    cpu_supports_bf16,
    tune_allocator,
)
from deepfake_detection.engine.labels import fake_class_indices
from tests.support import media
from tests.support.tiny_models import TINY_MODELS, build_local_model, unmappable_local_model


def make_engine(**overrides) -> DetectionEngine:
    env = dict(os.environ)
    env.update(overrides)
    return DetectionEngine(EngineSettings.from_env(env))


def test_registry_lists_the_documented_models(engine):
    specs = {m.key: m for m in engine.models()}
    assert list(specs)[:3] == ["dima806", "deep-fake-v2", "open-deepfake"]
    assert specs["dima806"].model_id == "dima806/deepfake_vs_real_image_detection"
    assert specs["dima806"].name == "Dima806 Deepfake Detector"
    assert specs["dima806"].description == "General purpose detection"
    assert specs["deep-fake-v2"].model_id == "prithivMLmods/Deep-Fake-Detector-v2-Model"
    assert specs["deep-fake-v2"].name == "Deep Fake Detector v2"
    assert specs["deep-fake-v2"].description == "Advanced detection with Vision Transformer"
    assert specs["open-deepfake"].model_id == "prithivMLmods/open-deepfake-detection"
    assert specs["open-deepfake"].name == "Open Deepfake Detection"
    assert specs["open-deepfake"].description == "SigLIP-based detection"
    assert engine.default_model_key == "dima806"
    assert [m.key for m in engine.models() if m.is_default] == ["dima806"]
    json.dumps([m.to_dict() for m in engine.models()])


def test_all_three_are_cached_in_the_tiny_hub(engine):
    assert all(engine.is_cached(m.key) for m in engine.models())


@pytest.mark.parametrize(
    "id2label, fake",
    [
        ({0: "Real", 1: "Fake"}, [1]),
        ({0: "Realism", 1: "Deepfake"}, [1]),
        ({0: "Fake", 1: "Real"}, [0]),
        ({"0": "authentic", "1": "AI-generated"}, [1]),
    ],
)
def test_labels_are_mapped_by_name(id2label, fake):
    assert fake_class_indices(id2label, model_label="m") == fake


@pytest.mark.parametrize("id2label", [{0: "LABEL_0", 1: "LABEL_1"}, {0: "cat", 1: "Fake"}, {0: "Fake"}, {}])
def test_unmappable_labels_are_refused(id2label):
    with pytest.raises(ModelLabelError):
        fake_class_indices(id2label, model_label="m")


@pytest.mark.parametrize("tiny", TINY_MODELS, ids=lambda t: t.model_id)
def test_loaded_models_keep_their_own_label_order(engine, tiny):
    key = {m.model_id: m.key for m in engine.models()}[tiny.model_id]
    classifier = engine.classifier(key)
    assert classifier.model.dtype == engine.placement.dtype
    assert classifier.model.config.id2label == tiny.id2label
    expected_fake = [i for i, name in tiny.id2label.items() if name in ("Fake", "Deepfake")]
    assert classifier.fake_indices == expected_fake
    assert engine.detect_image(media.face_photo(True), model_key=key).is_fake is True


def test_operator_adds_a_local_model_directory(tmp_path):
    local = build_local_model(tmp_path / "my-model", id2label={0: "authentic", 1: "synthetic"})
    extra = json.dumps([{"key": "mine", "model_id": str(local), "name": "My detector"}])
    eng = make_engine(DEEPFAKE_EXTRA_MODELS=extra)
    spec = eng.model("mine")
    assert spec.name == "My detector" and spec.local_path == local
    assert eng.is_cached("mine") is True
    assert eng.detect_image(media.face_photo(True), model_key="mine").is_fake is True
    assert eng.detect_image(media.face_photo(False), model_key="mine").is_fake is False


def test_extra_models_short_form_and_revisions(tmp_path):
    eng = make_engine(
        DEEPFAKE_EXTRA_MODELS=f"a=org/model-a@abc123; b={tmp_path}",
        DEEPFAKE_MODEL_REVISIONS="dima806=0000000000000000000000000000000000000001",
    )
    assert eng.model("a").model_id == "org/model-a" and eng.model("a").revision == "abc123"
    assert eng.model("b").local_path == tmp_path
    assert eng.model("dima806").revision == "0000000000000000000000000000000000000001"
    assert eng.detect_image(media.face_photo(True)).is_fake is True


def test_bad_extra_model_config_is_rejected():
    with pytest.raises(ValueError, match="key=model_id"):
        make_engine(DEEPFAKE_EXTRA_MODELS="no-equals-sign")
    with pytest.raises(ValueError, match="DEEPFAKE_DEFAULT_MODEL"):
        make_engine(DEEPFAKE_DEFAULT_MODEL="missing")


def test_unmappable_local_model_is_refused_at_load(tmp_path):
    local = unmappable_local_model(tmp_path / "bad")
    eng = make_engine(DEEPFAKE_EXTRA_MODELS=f"bad={local}")
    with pytest.raises(ModelLabelError, match="LABEL_0"):
        eng.detect_image(media.face_photo(), model_key="bad")


def test_uncached_model_offline_names_the_fetch_command():
    eng = make_engine(DEEPFAKE_EXTRA_MODELS="ghost=nobody/not-downloaded")
    assert eng.is_cached("ghost") is False
    with pytest.raises(ModelUnavailableError) as err:
        eng.detect_image(media.face_photo(), model_key="ghost")
    assert err.value.command == "deepfake download-models --model ghost"
    assert "nobody/not-downloaded" in err.value.message and err.value.command in err.value.message


def test_missing_local_directory_is_unavailable(tmp_path):
    eng = make_engine(DEEPFAKE_EXTRA_MODELS=f"gone={tmp_path / 'nothing-here'}")
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        eng.detect_image(media.face_photo(), model_key="gone")


def test_broken_weights_become_a_typed_error(tmp_path):
    local = build_local_model(tmp_path / "broken")
    (local / "model.safetensors").write_bytes(b"not safetensors")
    eng = make_engine(DEEPFAKE_EXTRA_MODELS=f"broken={local}")
    with pytest.raises(ModelUnavailableError, match="loading failed"):
        eng.detect_image(media.face_photo(), model_key="broken")


def test_concurrent_first_requests_load_once():
    eng = make_engine()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(eng.detect_image(media.face_photo(True), model_key="open-deepfake").is_fake)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [True] * 4
    assert eng._models.load_count == 1 and eng.loaded_models() == ["open-deepfake"]


def test_precision_setting():
    import torch

    fp32 = choose_placement(EngineSettings(precision="fp32"))
    assert fp32.autocast is None and fp32.dtype == torch.float32 and fp32.label == "cpu/float32"
    bf16 = choose_placement(EngineSettings(precision="bf16"))
    assert bf16.dtype == torch.bfloat16 and bf16.autocast is None and bf16.label == "cpu/bfloat16"
    autocast = choose_placement(EngineSettings(precision="bf16-autocast"))
    assert autocast.autocast == torch.bfloat16 and autocast.label == "cpu/bfloat16-autocast"
    int8 = choose_placement(EngineSettings(precision="int8"))
    assert int8.int8 and int8.dtype == torch.float32 and int8.autocast is None and int8.label == "cpu/int8-dynamic"
    assert not choose_placement(EngineSettings(precision="auto")).int8
    with pytest.raises(ValueError):
        choose_placement(EngineSettings(precision="int3"))
    # Attention: plain matmuls where torch's fused CPU kernel is the slower one (bf16 inputs).
    assert fp32.attention is None and bf16.attention == "eager"
    assert int8.attention == (BF16_MATMUL_ATTENTION if cpu_supports_bf16() else None)


def test_bf16_matmul_attention_matches_torch_attention():
    import torch

    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 4, 197, 16) for _ in range(3))
    expected = torch.nn.functional.scaled_dot_product_attention(query, key, value).transpose(1, 2)
    got, weights = bf16_matmul_attention(None, query, key, value, None)
    assert weights is None and got.dtype == torch.float32 and got.shape == expected.shape
    assert torch.allclose(got, expected, atol=0.02)


@pytest.mark.parametrize("precision, attention", [("fp32", "sdpa"), ("bf16", "eager"), ("int8", "int8-default")])
def test_loaded_models_use_the_placements_attention(tiny_hf_home, precision, attention):
    eng = make_engine(DEEPFAKE_PRECISION=precision)
    if attention == "int8-default":
        attention = BF16_MATMUL_ATTENTION if cpu_supports_bf16() else "sdpa"
    for key in ("dima806", "open-deepfake"):  # ViT and SigLIP
        assert eng.classifier(key).model.config._attn_implementation == attention
        assert eng.detect_image(media.face_photo(True), model_key=key).face_found


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_a_probability_does_not_depend_on_the_rest_of_the_batch(tiny_hf_home, precision):
    import numpy as np

    classifier = make_engine(DEEPFAKE_PRECISION=precision).classifier("dima806")
    images = [np.asarray(media.face_photo(bool(i % 2)).rotate(i * 9)) for i in range(6)]
    alone = [float(classifier.fake_probabilities([image])[0]) for image in images]
    together = [float(p) for p in classifier.fake_probabilities(images)]
    assert together == pytest.approx(alone, abs=1e-6)


def test_int8_weights_are_copied_out_of_the_mapped_weights_file(tiny_hf_home):
    """No tensor of an int8 model may point into the safetensors mapping, which would keep it resident."""
    import torch

    eng = make_engine(DEEPFAKE_PRECISION="int8")
    models = [eng.classifier(key).model for key in ("dima806", "deep-fake-v2", "open-deepfake")]
    mapped = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].endswith(".safetensors"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                mapped.append((start, end))
    tensors = [t for model in models for t in list(model.parameters()) + list(model.buffers())]
    quantized = [m for model in models for m in model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    tensors += [m.bias() for m in quantized if m.bias() is not None]  # the float biases int8 layers keep
    assert quantized and tensors
    inside = [t for t in tensors for start, end in mapped if start <= t.data_ptr() < end]
    assert not inside


def test_allocator_tuning_applies_on_glibc():
    import platform

    assert tune_allocator() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")


def test_fp32_and_bf16_agree_on_the_tiny_models():
    photos = [media.face_photo(f) for f in (False, True)] + [media.no_face_image(f) for f in (False, True)]
    fp32 = make_engine(DEEPFAKE_PRECISION="fp32")
    bf16 = make_engine(DEEPFAKE_PRECISION="bf16")
    for photo in photos:
        a, b = fp32.detect_image(photo), bf16.detect_image(photo)
        assert a.is_fake == b.is_fake
        assert abs(a.fake_probability - b.fake_probability) < 0.05


def test_int8_loads_quantized_and_keeps_the_fp32_verdicts(tiny_hf_home):
    """DEEPFAKE_PRECISION=int8: every Linear becomes a dynamic int8 Linear; same verdicts as fp32."""
    import torch

    photos = [media.face_photo(f) for f in (False, True)] + [media.no_face_image(f) for f in (False, True)]
    fp32 = make_engine(DEEPFAKE_PRECISION="fp32")
    int8 = make_engine(DEEPFAKE_PRECISION="int8")
    assert int8.placement.label == "cpu/int8-dynamic"
    for key in ("dima806", "deep-fake-v2", "open-deepfake"):
        modules = list(int8.classifier(key).model.modules())
        assert not any(type(m) is torch.nn.Linear for m in modules)
        assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in modules)
        for photo in photos:
            a, b = fp32.detect_image(photo, model_key=key), int8.detect_image(photo, model_key=key)
            assert a.is_fake == b.is_fake, (key, a.fake_probability, b.fake_probability)
            assert abs(a.fake_probability - b.fake_probability) < 0.05


def _preprocessing_crops() -> list:
    """Crops of many sizes and aspect ratios: shrunk a lot or a little, enlarged, stretched either way."""
    import numpy as np

    face = np.asarray(media.face_photo())
    photo = np.asarray(media.no_face_image())
    return [
        face[40:240, 150:300],
        photo,
        face[100:400, 200:300],
        face[180:204, 230:250],
        photo[150:240, :],
        np.asarray(media.scaled_face_photo((1000, 1000))),
        face[:, ::-1].copy(),
        photo[:45, :60],
    ]


def _transformers_processor(engine, classifier):
    """transformers' own image processor of the model (the engine reads a plain one from its config itself)."""
    source, kwargs = model_source(classifier.spec, engine.settings)
    return AutoImageProcessor.from_pretrained(source, **kwargs)


def _processor_probabilities(processor, classifier, images):
    """Fake probabilities through the model's own image processor (the reference)."""
    import torch

    pixel_values = processor(images=images, return_tensors="pt")["pixel_values"]
    model = classifier.model
    with torch.inference_mode():
        logits = model(pixel_values=pixel_values.to(model.device, dtype=model.dtype)).logits.float()
    return logits.softmax(dim=-1)[:, classifier.fake_indices].sum(dim=-1).numpy()


def _hesitant_tint(processor, classifier, crop):
    """The crop tinted to where the model hesitates (reference probability near 0.5), found by bisection.

    Only there does a different resize show in the probability. Where that tint lies depends on the
    training run, which differs between CPUs (the tiny models are trained on the machine), so it is
    searched for rather than fixed.
    """
    low, high = 0.0, 0.6
    for _ in range(12):
        middle = (low + high) / 2
        [p] = _processor_probabilities(processor, classifier, [media.tint(crop, middle)])
        if 0.2 < p < 0.8:
            break
        low, high = (middle, high) if p < 0.5 else (low, middle)
    return media.tint(crop, middle)


@pytest.mark.parametrize("key", ["dima806", "deep-fake-v2", "open-deepfake"])
def test_fast_preprocessing_matches_the_image_processor(engine, key):
    """The engine's own resize and normalisation give the probabilities the model's processor gives."""
    classifier = engine.classifier(key)
    assert classifier._normalisation is not None, "the fast path is the one under test"
    processor = _transformers_processor(engine, classifier)
    crops = [_hesitant_tint(processor, classifier, crop) for crop in _preprocessing_crops()]
    ours = classifier.fake_probabilities(crops)
    theirs = _processor_probabilities(processor, classifier, crops)
    assert sum(0.05 < p < 0.95 for p in theirs) >= 3, f"too few undecided inputs to compare: {theirs}"
    differences = [round(float(abs(a - b)), 4) for a, b in zip(ours, theirs)]
    assert max(differences) < 0.01, differences


# Run where huggingface_hub is online (it reads HF_HUB_OFFLINE and HF_ENDPOINT once, on import) but its
# endpoint is a local port that refuses connections.
# huggingface_hub has no setting for its retries: after the first refused HEAD it tries 5 more times
# with backoff (1 + 2 + 4 + 8 + 8 s) when its error is one of these types. Emptied, the first refusal is
# the final error, the one the retries would have ended with.
_DOWNLOAD_SCRIPT = """
import json
import huggingface_hub.file_download
from PIL import Image
assert isinstance(huggingface_hub.file_download._DEFAULT_RETRY_ON_EXCEPTIONS, tuple)
huggingface_hub.file_download._DEFAULT_RETRY_ON_EXCEPTIONS = ()
from deepfake_detection.engine import DetectionEngine, EngineSettings, ModelUnavailableError
engine = DetectionEngine(EngineSettings.from_env())
try:
    engine.detect_image(Image.new("RGB", (64, 64)), model_key="ghost")
except ModelUnavailableError as err:
    print(json.dumps({"message": err.message, "command": err.command}))
"""


def test_failed_download_is_a_typed_error_not_a_hang(tmp_path):
    """A model that must be downloaded while the hub cannot be reached: ModelUnavailableError, in bounded time."""
    import socket
    import subprocess
    import sys

    with socket.socket() as closed:  # bound but not listening: connections are refused, and no one else gets it
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="0",
            DEEPFAKE_OFFLINE="0",
            HF_ENDPOINT=endpoint,
            HF_HOME=str(tmp_path),
            DEEPFAKE_EXTRA_MODELS="ghost=nobody/not-on-the-hub",
        )
        done = subprocess.run(
            [sys.executable, "-c", _DOWNLOAD_SCRIPT], env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-2000:]
    error = json.loads(done.stdout.strip().splitlines()[-1])
    assert "loading failed" in error["message"] and error["command"].endswith("--model ghost")
    assert endpoint in error["message"], "it tried the local endpoint, nothing else"


def test_the_suite_never_reaches_the_real_hub():
    import huggingface_hub.constants

    assert huggingface_hub.constants.ENDPOINT.startswith("http://127.0.0.1:")
    assert os.environ["HF_ENDPOINT"] == huggingface_hub.constants.ENDPOINT
