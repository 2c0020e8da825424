"""The OpenVINO backend: Intel's CPU runtime (it runs on AMD AVX2/AVX-512 CPUs too) on the exported model.

The exported ONNX model is stored in OpenVINO's own format (``model.xml``, weights in ``model.bin``), which
OpenVINO memory-maps instead of copying into the process; once the first inference has repacked the weights
into the CPU plugin's own buffers, the mapped file's pages are dropped from the process (they are not read
again): about 85 MB less per ViT-base model (README "Engine: backends").
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import openvino
import torch

from ..memory import drop_mapped_pages
from ..registry import ModelSpec
from .base import Classifier

#: The prepared model in OpenVINO's format; its weights are in WEIGHTS_FILE beside it.
IR_FILE = "model.xml"
WEIGHTS_FILE = "model.bin"

#: OpenVINO's inference precision per engine precision. int8-static runs the QDQ model's quantized
#: MatMuls in int8 and everything else in f32 (measured faster than with bf16 for the rest here).
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8-static": "f32", "int8-static-sym": "f32"}
_COMPILING = threading.Lock()


@lru_cache(maxsize=1)
def shared_core() -> openvino.Core:
    """The process's one OpenVINO Core: every model compiled by it shares one CPU plugin instance.

    A Core per model made each its own plugin (threads, scratch buffers): the second of two int8
    ViT-base models cost about 60 MB more that way (measured, see README "Engine: backends").
    """
    return openvino.Core()


def save_ir(onnx_path: Path, xml_path: Path) -> None:
    """Convert an exported ONNX model to OpenVINO's format (xml_path, weights beside it), unchanged."""
    openvino.save_model(shared_core().read_model(str(onnx_path)), str(xml_path), compress_to_fp16=False)


class OpenVinoClassifier(Classifier):
    """An exported model compiled by OpenVINO for the CPU, tuned for latency."""

    def __init__(
        self,
        spec: ModelSpec,
        id2label: dict[int | str, str],
        processor: Any,
        *,
        model_path: Path,
        precision: str,
        threads: int,
        max_batch: int,
    ) -> None:
        super().__init__(spec, id2label, processor, max_batch=max_batch)
        self.core = shared_core()
        with _COMPILING:  # loads are rare; one compilation at a time keeps the shared Core's use simple
            self.compiled = self.core.compile_model(
                str(model_path),
                "CPU",
                {
                    "INFERENCE_NUM_THREADS": threads,
                    "INFERENCE_PRECISION_HINT": INFERENCE_PRECISION[precision],
                    "PERFORMANCE_HINT": "LATENCY",
                },
            )
        # An infer request is not thread-safe; one request behind a lock (the cores are busy anyway).
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()
        self.backend = f"openvino/{precision}"
        self._warm_up()
        #: Bytes of the memory-mapped weights file dropped from the process once the plugin had repacked them.
        self.weights_pages_dropped = drop_mapped_pages(model_path.with_name(WEIGHTS_FILE))

    def _warm_up(self) -> None:
        """One inference at batch 1: the plugin repacks every weight now, not in the first request."""
        shape = [1 if dim.is_dynamic else dim.get_length() for dim in self.compiled.input(0).get_partial_shape()]
        self._request.infer({0: np.zeros(shape, dtype=np.float32)})

    def _forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with self._lock:
            result = self._request.infer({0: pixel_values.float().numpy()})
            logits = np.array(result[0], dtype=np.float32)  # a copy: the request reuses its buffer
        return torch.from_numpy(logits)

    def release_memory(self) -> bool:
        """Free the compiled model's intermediate buffers (kept per batch size: about 100 MB at batch 8)."""
        with self._lock:
            self.compiled.release_memory()
            self.memory_releases += 1
        return True

    def close(self) -> None:
        del self._request, self.compiled
