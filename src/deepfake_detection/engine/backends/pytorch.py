"""The PyTorch backend: transformers' model in fp32, bf16 (weights or autocast), fp16 on CUDA, or dynamic int8."""

from __future__ import annotations

import contextlib
import gc
import warnings
from typing import Any

import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
from transformers import AutoModelForImageClassification

from ..device import BF16_MATMUL_ATTENTION, Placement, register_attention
from ..errors import ModelUnavailableError
from ..registry import ModelSpec
from ..settings import EngineSettings
from .base import Classifier
from .source import load_processor, model_source, short_error


class TorchClassifier(Classifier):
    """A transformers model run by PyTorch with the engine's placement."""

    def __init__(self, spec: ModelSpec, model: Any, processor: Any, placement: Placement, batch_size: int) -> None:
        super().__init__(
            spec,
            model.config.id2label,
            processor,
            max_batch=batch_size,
            input_dtype=placement.dtype,
            input_device=placement.device,
        )
        self.model = model
        self.placement = placement
        self.backend = f"pytorch/{placement.label.split('/', 1)[1]}"

    def _forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with self.placement.inference():
            logits: torch.Tensor = self.model(pixel_values=pixel_values).logits.float()
            return logits


def load_torch_model(spec: ModelSpec, settings: EngineSettings, dtype: torch.dtype) -> tuple[Any, Any]:
    """(model in eval mode, image processor) from a local dir or the HF cache (downloading if allowed)."""
    source, kwargs = model_source(spec, settings)
    try:
        # Loading straight into the target dtype avoids holding an fp32 copy of the weights.
        model = AutoModelForImageClassification.from_pretrained(source, dtype=dtype, **kwargs)
        processor = load_processor(spec, source, kwargs)
    except Exception as exc:  # any loading failure becomes one typed, named error
        raise ModelUnavailableError(spec.key, spec.model_id, f"loading failed: {short_error(exc)}") from exc
    return model.eval(), processor


def load_torch_classifier(spec: ModelSpec, settings: EngineSettings, placement: Placement) -> TorchClassifier:
    """The PyTorch classifier for spec with the given placement."""
    model, processor = load_torch_model(spec, settings, placement.dtype)
    model = model.to(placement.device, dtype=placement.dtype)
    if placement.int8:
        model = quantize_int8(model)
    if placement.attention is not None:
        use_attention(model, placement.attention)
    # Dynamic int8 quantizes each Linear's input with one scale for the whole batch, so an image's
    # probability would depend on what else shares its batch (up to 0.02 measured); one image per
    # forward pass keeps results batch-independent and costs nothing measurable (37.6 vs 36.9 ms/image).
    batch_size = 1 if placement.int8 else settings.batch_size
    return TorchClassifier(spec, model, processor, placement, batch_size)


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
