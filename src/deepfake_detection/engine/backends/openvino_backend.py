"""The OpenVINO backend: Intel's CPU runtime (it runs on AMD AVX2/AVX-512 CPUs too) on the exported ONNX model."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import openvino
import torch

from ..registry import ModelSpec
from .base import Classifier

#: OpenVINO's inference precision per engine precision. int8-static runs the QDQ model's quantized
#: MatMuls in int8 and everything else in f32 (measured faster than with bf16 for the rest here).
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8-static": "f32"}
_COMPILING = threading.Lock()


@lru_cache(maxsize=1)
def shared_core() -> openvino.Core:
    """The process's one OpenVINO Core: every model compiled by it shares one CPU plugin instance.

    A Core per model made each its own plugin (threads, scratch buffers): the second of two int8
    ViT-base models cost about 60 MB more that way (measured, see README "Engine: backends").
    """
    return openvino.Core()


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
