"""Backends (PyTorch, ONNX Runtime, OpenVINO), the per-machine choice among them, and the fallback chain.

Every backend implements ``Classifier.fake_probabilities``. A fast backend runs a model prepared
ahead of time (exported to ONNX, statically quantized to int8 when asked) and kept in the prepared
cache; it is only used after the agreement self-check on the real weights passed. When a fast
backend fails to prepare, to load or the check, the next one in the chain is tried; the chain
always ends with PyTorch.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnxruntime
import openvino
import torch
import transformers

from ..agreement import Agreement, calibration_images, check_images, compare
from ..device import Placement, choose_placement, cpu_has_amx_int8
from ..errors import ModelLabelError, ModelUnavailableError
from ..memory import release_freed_memory
from ..prepared import PreparedStore, file_digest
from ..registry import ModelSpec
from ..settings import EngineSettings
from .base import Classifier
from .onnx_backend import OnnxRuntimeClassifier
from .openvino_backend import IR_FILE, WEIGHTS_FILE, OpenVinoClassifier, save_ir
from .pytorch import TorchClassifier, load_torch_classifier, load_torch_model
from .source import load_processor_and_labels, source_fingerprint

__all__ = ["Classifier", "TorchClassifier", "BackendChoice", "backend_chain", "load_with_fallback"]

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "pytorch", "onnxruntime", "openvino")
FAST_PRECISIONS = {"onnxruntime": ("fp32", "int8-static"), "openvino": ("fp32", "bf16", "int8-static")}
#: Static int8 with symmetric activations: chosen automatically only on AMX CPUs, where it was measured.
SYMMETRIC_INT8 = "int8-static-sym"
ONNX_FILE = "model.onnx"
#: The file each fast backend opens, and the files its self-check record's digest covers.
MODEL_FILES = {"onnxruntime": (ONNX_FILE,), "openvino": (IR_FILE, WEIGHTS_FILE)}
CHECK_FILE = "check.json"


@dataclass(frozen=True)
class BackendChoice:
    """One runtime with one precision; PyTorch's carries its placement."""

    backend: str
    precision: str
    placement: Placement | None = None

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.precision}"


def _pytorch(placement: Placement) -> BackendChoice:
    return BackendChoice("pytorch", placement.label.split("/", 1)[1], placement)


def backend_chain(settings: EngineSettings, placement: Placement) -> list[BackendChoice]:
    """The backends to try, in order, for these settings on this machine (the documented rule).

    auto (with DEEPFAKE_PRECISION=auto, on CPU): on CPUs with AMX int8 first OpenVINO static int8 with
    symmetric activations; then OpenVINO static int8, then ONNX Runtime static int8, then PyTorch in the
    automatic placement (bf16 only with native bf16, else fp32). Measured on AVX-512 (VNNI, BF16) and on an
    AMX Xeon, reasoned for AVX2-only CPUs in the README ("Engine: backends"). An explicit
    DEEPFAKE_PRECISION with auto keeps PyTorch (the precision names its modes); on CUDA, PyTorch.
    An explicit fast backend takes fp32, bf16 (OpenVINO) or int8 (static) and falls back to PyTorch fp32.
    """
    backend = settings.backend
    if backend not in BACKENDS:
        raise ValueError(f"DEEPFAKE_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "pytorch" or placement.device.type != "cpu":
        if backend not in ("pytorch", "auto"):
            raise ValueError(f"DEEPFAKE_BACKEND={backend} runs on the CPU only")
        return [_pytorch(placement)]
    if backend == "auto":
        if settings.precision != "auto":
            return [_pytorch(placement)]
        symmetric = [BackendChoice("openvino", SYMMETRIC_INT8)] if cpu_has_amx_int8() else []
        return [
            *symmetric,
            BackendChoice("openvino", "int8-static"),
            BackendChoice("onnxruntime", "int8-static"),
            _pytorch(placement),
        ]
    precision = {"auto": "int8-static", "int8": "int8-static"}.get(settings.precision, settings.precision)
    if precision not in FAST_PRECISIONS[backend]:
        raise ValueError(
            f"DEEPFAKE_BACKEND={backend} takes DEEPFAKE_PRECISION "
            f"{', '.join(p.replace('int8-static', 'int8') for p in ('auto', *FAST_PRECISIONS[backend]))}"
            f", got {settings.precision!r}"
        )
    fp32 = choose_placement(replace(settings, precision="fp32"))
    return [BackendChoice(backend, precision), _pytorch(fp32)]


def runtime_version(backend: str) -> str:
    """Version of the runtime that executes (and, for int8, of the quantizer that prepared) a fast model."""
    if backend == "openvino":
        return f"openvino-{openvino.__version__}+onnxruntime-{onnxruntime.__version__}"
    return f"onnxruntime-{onnxruntime.__version__}"


def prepared_key(spec: ModelSpec, settings: EngineSettings, choice: BackendChoice) -> dict[str, Any]:
    """Everything a prepared model depends on: weights version, exporter, runtime and precision."""
    key: dict[str, Any] = {
        "model_id": spec.model_id,
        "weights": source_fingerprint(spec, settings),
        "backend": choice.backend,
        "precision": choice.precision,
        "runtime": runtime_version(choice.backend),
        "exporter": f"torch-{torch.__version__}+transformers-{transformers.__version__}",
    }
    if choice.backend == "openvino":  # its entries became OpenVINO IR: older ONNX-only ones are rebuilt
        key["model_format"] = "openvino-ir"  # (the store adds a "format" key of its own)
    return key


def _open(
    choice: BackendChoice,
    spec: ModelSpec,
    id2label: dict[int | str, str],
    processor: Any,
    path: Path,
    settings: EngineSettings,
) -> Classifier:
    cls = OpenVinoClassifier if choice.backend == "openvino" else OnnxRuntimeClassifier
    return cls(
        spec,
        id2label,
        processor,
        model_path=path,
        precision=choice.precision,
        threads=torch.get_num_threads(),
        max_batch=settings.batch_size,
    )


def _build(spec: ModelSpec, settings: EngineSettings, choice: BackendChoice, store: PreparedStore, entry: Path) -> None:
    """Export (and quantize) the model into entry, then self-check it against fp32 PyTorch."""
    # Imported here, not at the top: only a process that prepares a model needs the exporter and
    # ONNX Runtime's quantizer (about 20 MB of RSS; tests/test_imports.py).
    from .export import export_onnx, quantize_onnx

    model, processor = load_torch_model(spec, settings, torch.float32)
    reference = TorchClassifier(spec, model, processor, choose_placement(replace(settings, precision="fp32")), 8)
    images = check_images()
    expected = reference.fake_probabilities(images)
    fp32_path = entry / "model.fp32.onnx"
    export_onnx(model, reference._preprocess(images[:1]), fp32_path)
    if choice.precision in ("int8-static", SYMMETRIC_INT8):
        calibration = [reference._preprocess([image]).numpy() for image in calibration_images()]
        quantize_onnx(fp32_path, entry / ONNX_FILE, calibration, symmetric=choice.precision == SYMMETRIC_INT8)
        fp32_path.unlink()
    else:
        fp32_path.rename(entry / ONNX_FILE)
    if choice.backend == "openvino":
        save_ir(entry / ONNX_FILE, entry / IR_FILE)
        (entry / ONNX_FILE).unlink()
    del reference, model
    gc.collect()
    release_freed_memory()  # the fp32 model's pages: glibc would keep them for this long-lived process
    store.write_json(entry, CHECK_FILE, {"reference": [float(p) for p in expected]})


def model_path(entry: Path, backend: str) -> Path:
    """The file a fast backend opens in a prepared entry."""
    return entry / MODEL_FILES[backend][0]


def _model_digest(entry: Path, backend: str) -> str:
    """sha256 of the prepared model's files (for OpenVINO the graph and its weights file)."""
    return "+".join(file_digest(entry / name) for name in MODEL_FILES[backend])


def _recorded(
    store: PreparedStore, entry: Path, backend: str, settings: EngineSettings
) -> tuple[list[Any], str, Agreement | None]:
    """(fp32 reference, model files digest, the recorded check result if it is for these files and bound, else None)."""
    record = store.read_json(entry, CHECK_FILE) or {}
    reference = record.get("reference")
    if not isinstance(reference, list) or len(reference) != len(check_images()):
        raise RuntimeError("the prepared model has no fp32 reference for the self-check")
    digest = _model_digest(entry, backend)
    done = record.get("check")
    if isinstance(done, dict) and done.get("digest") == digest and done.get("bound") == settings.agreement_max_gap:
        recorded = Agreement(
            images=int(done["images"]),
            verdicts_agree=int(done["verdicts_agree"]),
            max_gap=float(done["max_gap"]),
            bound=float(done["bound"]),
        )
        return reference, digest, recorded
    return reference, digest, None


def _checked(
    store: PreparedStore, entry: Path, backend: str, classifier: Classifier, settings: EngineSettings
) -> Agreement:
    """The self-check result for entry's model files: recorded when they are unchanged, else run now."""
    reference, digest, recorded = _recorded(store, entry, backend, settings)
    if recorded is not None:
        return recorded
    result = compare(reference, classifier.fake_probabilities(check_images()), bound=settings.agreement_max_gap)
    store.write_json(entry, CHECK_FILE, {"reference": reference, "check": {**result.to_dict(), "digest": digest}})
    return result


class AgreementRefused(RuntimeError):
    """A fast path whose results differ from fp32 beyond the bound."""

    def __init__(self, agreement: Agreement, *, recorded: bool = False) -> None:
        super().__init__(agreement.describe() + (" (recorded when it was checked)" if recorded else ""))
        self.agreement = agreement


def load_fast(spec: ModelSpec, settings: EngineSettings, choice: BackendChoice, store: PreparedStore) -> Classifier:
    """The prepared (building it if needed) and self-checked fast classifier; AgreementRefused if it fails the check."""
    key = prepared_key(spec, settings, choice)
    entry = store.get_or_build(key, lambda path: _build(spec, settings, choice, store, path))
    if ((store.read_json(entry, CHECK_FILE) or {}).get("check") or {}).get("passed") is False:
        _, _, recorded = _recorded(store, entry, choice.backend, settings)
        if recorded is not None and not recorded.passed:
            # Refused for this very file and bound before: compiling it again would only cost memory and time.
            raise AgreementRefused(recorded, recorded=True)
    processor, id2label = load_processor_and_labels(spec, settings)
    classifier = _open(choice, spec, id2label, processor, model_path(entry, choice.backend), settings)
    with store.lock(key):  # one process runs a missing check; the others read its result
        agreement = _checked(store, entry, choice.backend, classifier, settings)
    classifier.agreement = agreement.to_dict()
    if not agreement.passed:
        classifier.close()
        raise AgreementRefused(agreement)
    return classifier


def load_with_fallback(
    spec: ModelSpec, settings: EngineSettings, chain: list[BackendChoice], store: PreparedStore
) -> Classifier:
    """The first backend of chain that loads and passes its self-check; each refusal is logged as a WARNING."""
    classifier = _first_loadable(spec, settings, chain, store)
    # Loading leaves hundreds of MB of freed temporaries (parsed ONNX graph, runtime transformations, refused
    # fast paths) in glibc's arenas, kept there up to the raised trim threshold: measured 85-150 MB per model.
    gc.collect()
    release_freed_memory()
    return classifier


def _first_loadable(
    spec: ModelSpec, settings: EngineSettings, chain: list[BackendChoice], store: PreparedStore
) -> Classifier:
    for index, choice in enumerate(chain):
        if choice.backend == "pytorch":
            assert choice.placement is not None
            return load_torch_classifier(spec, settings, choice.placement)
        following = chain[index + 1].label if index + 1 < len(chain) else "nothing"
        try:
            return load_fast(spec, settings, choice, store)
        except (ModelUnavailableError, ModelLabelError):
            raise  # the weights or labels themselves: every backend would fail the same way
        except AgreementRefused as refused:
            logger.warning(
                "model %s (%s): backend %s refused by the self-check: %s; falling back to %s",
                spec.key,
                spec.model_id,
                choice.label,
                refused,
                following,
            )
        except Exception as exc:  # export, quantization or runtime failure: the next backend may work
            logger.warning(
                "model %s (%s): backend %s could not be prepared or loaded (%s: %s); falling back to %s",
                spec.key,
                spec.model_id,
                choice.label,
                type(exc).__name__,
                str(exc).splitlines()[0][:300] if str(exc) else "",
                following,
            )
    raise ModelUnavailableError(spec.key, spec.model_id, "no backend could load it")


def prepared_status(
    spec: ModelSpec, settings: EngineSettings, chain: list[BackendChoice], store: PreparedStore
) -> dict[str, Any]:
    """What the prepared cache holds for spec along chain (no building, no loading): backend, precision, gap."""
    for choice in chain:
        if choice.backend == "pytorch":
            return {"backend": choice.label, "prepared": None, "max_gap": None, "passed": None}
        try:
            entry = store.lookup(prepared_key(spec, settings, choice))
        except Exception:  # e.g. the weights are not on disk yet
            entry = None
        record = store.read_json(entry, CHECK_FILE) if entry is not None else None
        check = (record or {}).get("check")
        if not isinstance(check, dict):
            return {"backend": choice.label, "prepared": entry is not None, "max_gap": None, "passed": None}
        if check.get("passed"):
            return {"backend": choice.label, "prepared": True, "max_gap": check.get("max_gap"), "passed": True}
    return {"backend": chain[-1].label, "prepared": None, "max_gap": None, "passed": None}
