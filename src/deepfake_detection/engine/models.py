"""Load detectors (lazily, once per process, thread-safely) and run them in batches."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import threading
import warnings
from typing import Any, Callable

import numpy as np
import torch
from huggingface_hub import try_to_load_from_cache
from PIL import Image
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
from transformers import AutoImageProcessor, AutoModelForImageClassification

from .device import BF16_MATMUL_ATTENTION, Placement, register_attention
from .errors import ModelUnavailableError
from .labels import fake_class_indices
from .registry import ModelSpec
from .settings import EngineSettings

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def is_cached(spec: ModelSpec, settings: EngineSettings) -> bool:
    """True when config, image processor config and weights are on disk (never touches the network)."""
    local = spec.local_path
    if local is not None:
        return (local / "config.json").is_file() and any((local / f).is_file() for f in WEIGHT_FILES)

    def cached(filename: str) -> bool:
        found = try_to_load_from_cache(spec.model_id, filename, cache_dir=settings.cache_dir, revision=spec.revision)
        return isinstance(found, str)

    return cached("config.json") and cached("preprocessor_config.json") and any(map(cached, WEIGHT_FILES))


def _processor_backend() -> str:
    """transformers' torchvision image processors when installed, else its PIL ones."""
    return "torchvision" if importlib.util.find_spec("torchvision") else "pil"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class Classifier:
    """A loaded image classifier that answers fake probabilities, batch by batch."""

    def __init__(self, spec: ModelSpec, model: Any, processor: Any, placement: Placement, batch_size: int) -> None:
        self.spec = spec
        self.model = model
        self.processor = processor
        self.placement = placement
        self.batch_size = batch_size
        self.fake_indices = fake_class_indices(model.config.id2label, model_label=f"'{spec.key}' ({spec.model_id})")
        size = getattr(processor, "size", None) or {}
        get: Callable[[str], Any] = size.get if isinstance(size, dict) else lambda k: getattr(size, k, None)
        height, width = get("height"), get("width")
        self.input_size: tuple[int, int] | None = (int(width), int(height)) if height and width else None
        self._normalisation = self._plain_normalisation(processor)
        resample = getattr(processor, "resample", None)
        self._resample = Image.Resampling(int(Image.Resampling.BILINEAR if resample is None else resample))

    def _plain_normalisation(self, processor: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(scale*1/std, mean/std) when the processor only resizes, rescales and normalises, else None."""
        needed = ("do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std")
        if (
            self.input_size is None
            or getattr(processor, "do_center_crop", False)
            or getattr(processor, "do_pad", False)
            or not all(hasattr(processor, n) for n in needed)
        ):
            return None
        scale = float(processor.rescale_factor) if processor.do_rescale else 1.0
        mean = torch.tensor(processor.image_mean if processor.do_normalize else [0.0] * 3).view(1, 3, 1, 1)
        std = torch.tensor(processor.image_std if processor.do_normalize else [1.0] * 3).view(1, 3, 1, 1)
        return scale / std, mean / std

    def _resize(self, img: np.ndarray) -> np.ndarray:
        assert self.input_size is not None  # only called when the processor has a fixed size
        width, height = self.input_size
        if (img.shape[1], img.shape[0]) == (width, height):
            return img
        # PIL with the processor's own filter, as the processor resizes: OpenCV's INTER_AREA/INTER_CUBIC
        # moved fake probabilities by up to 0.026 against the processor's on the tiny test models.
        return np.asarray(Image.fromarray(img).resize((width, height), self._resample))

    def _preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        if self.input_size is not None:
            images = [self._resize(img) for img in images]
        if self._normalisation is not None:
            # Same arithmetic as the processor (rescale, then normalise) without its PIL round trip.
            factor, offset = self._normalisation
            batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() * factor - offset
        else:
            batch = self.processor(images=images, return_tensors="pt")["pixel_values"]
        return batch.to(self.placement.device, dtype=self.placement.dtype)

    def _forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with self.placement.inference():
            logits: torch.Tensor = self.model(pixel_values=pixel_values).logits.float()
            return logits

    def _postprocess(self, logits: torch.Tensor) -> np.ndarray:
        probs = logits.softmax(dim=-1)
        return probs[:, self.fake_indices].sum(dim=-1).clamp(0.0, 1.0).cpu().numpy()

    def fake_probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """Fake probability (0-1) for each RGB uint8 image, computed in batches."""
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            out.append(self._postprocess(self._forward(self._preprocess(chunk))))
        return np.concatenate(out) if out else np.zeros((0,), dtype=np.float32)


def load_classifier(spec: ModelSpec, settings: EngineSettings, placement: Placement) -> Classifier:
    """Load model and image processor from a local dir or the HF cache (downloading if allowed)."""
    local = spec.local_path
    kwargs: dict[str, Any]
    if local is not None:
        if not (local / "config.json").is_file():
            raise ModelUnavailableError(spec.key, spec.model_id, "the directory has no config.json")
        source, kwargs = str(local), {}
    else:
        source = spec.model_id
        kwargs = {"cache_dir": str(settings.cache_dir) if settings.cache_dir else None, "revision": spec.revision}
        if is_cached(spec, settings):
            kwargs["local_files_only"] = True  # no network round-trip when everything is on disk
        elif settings.offline:
            raise ModelUnavailableError(
                spec.key, spec.model_id, "it is not in the model cache and HF_HUB_OFFLINE is set"
            )
    try:
        # Loading straight into the target dtype avoids holding an fp32 copy of the weights.
        model = AutoModelForImageClassification.from_pretrained(source, dtype=placement.dtype, **kwargs)
        processor = AutoImageProcessor.from_pretrained(source, backend=_processor_backend(), **kwargs)
    except Exception as exc:  # any loading failure becomes one typed, named error
        raise ModelUnavailableError(spec.key, spec.model_id, f"loading failed: {_short(exc)}") from exc
    model = model.to(placement.device, dtype=placement.dtype).eval()
    if placement.int8:
        model = quantize_int8(model)
    if placement.attention is not None:
        use_attention(model, placement.attention)
    # Dynamic int8 quantizes each Linear's input with one scale for the whole batch, so an image's
    # probability would depend on what else shares its batch (up to 0.02 measured); one image per
    # forward pass keeps results batch-independent and costs nothing measurable (37.6 vs 36.9 ms/image).
    batch_size = 1 if placement.int8 else settings.batch_size
    return Classifier(spec, model, processor, placement, batch_size)


def use_attention(model: Any, implementation: str) -> None:
    """Switch the model's attention to implementation when its architecture supports it.

    Models without attention (CNNs) or without transformers' attention interface keep what they have.
    """
    if not getattr(model, "_supports_attention_backend", False):
        return
    if implementation == BF16_MATMUL_ATTENTION:
        register_attention()
    with contextlib.suppress(ValueError, ImportError, AttributeError):
        model.set_attn_implementation(implementation)


def quantize_int8(model: Any) -> Any:
    """Every nn.Linear to int8 weights (per output channel) with dynamic activation quantization, in place.

    Uses torch.ao.quantization.quantize_dynamic with the oneDNN int8 kernels (VNNI where the CPU has
    it): measured here about 25% faster per ViT-base image than bf16 weights, where the default x86
    (fbgemm) kernels gained only about 10%. Setting the quantized engine is process-wide; nothing
    else in the engine quantizes. torch marks torch.ao.quantization as deprecated in favour of
    torchao (and quantized tensors as to be removed); both still ship and work in the torch pinned
    here, and their deprecation warnings are silenced for this one call.
    """
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per", category=UserWarning)
        with torch.inference_mode(False), torch.no_grad():
            _copy_all_but_linear_weights(model)
            model = quantize_dynamic(
                model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
            )
    gc.collect()  # the replaced float Linear modules sit in reference cycles that still hold the mapping
    return model


def _copy_all_but_linear_weights(model: Any) -> None:
    """Copy every tensor quantization keeps in float (norms, embeddings, Linear biases) out of the weights file.

    transformers memory-maps the safetensors file, and the mapping lives while any tensor points into it:
    the float biases the int8 layers keep would hold every page of it that quantization read in memory
    (about 330 MB per ViT-base, next to its 90 MB of int8 weights). The Linear weights themselves are
    replaced by int8 copies, so they are left in the file.
    """
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            if type(module) is torch.nn.Linear and name == "weight":  # exactly the type quantize_dynamic swaps
                continue
            module._parameters[name] = torch.nn.Parameter(param.detach().clone(), requires_grad=False)
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer is not None:
                module._buffers[name] = buffer.clone()


class ModelCache:
    """Each model loads once per process; concurrent first requests wait for one load."""

    def __init__(self, settings: EngineSettings, placement: Placement):
        self._settings = settings
        self._placement = placement
        self._loaded: dict[str, Classifier] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.load_count = 0

    def get(self, spec: ModelSpec) -> Classifier:
        """The loaded classifier for spec, loading it on first use."""
        found = self._loaded.get(spec.key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(spec.key, threading.Lock())
        with lock:
            found = self._loaded.get(spec.key)
            if found is None:
                found = load_classifier(spec, self._settings, self._placement)
                self.load_count += 1
                self._loaded[spec.key] = found
            return found

    def loaded_keys(self) -> list[str]:
        """Keys of models currently in memory."""
        return list(self._loaded)
