"""The ONNX Runtime backend: an exported model (see export.py) run by ONNX Runtime's CPU provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch

from ..registry import ModelSpec
from .base import Classifier

#: The exported model's input (export.py names it so).
INPUT_NAME = "pixel_values"


class OnnxRuntimeClassifier(Classifier):
    """An exported model run by ONNX Runtime's CPU provider with every graph optimisation on."""

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
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.backend = f"onnxruntime/{precision}"

    def _forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        outputs = self.session.run(None, {INPUT_NAME: pixel_values.float().numpy()})
        return torch.from_numpy(np.asarray(outputs[0], dtype=np.float32))

    def close(self) -> None:
        del self.session
