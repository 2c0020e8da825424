"""Device and numeric precision, decided in one place."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache

import torch

from .settings import EngineSettings


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AMX or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            flags = set()
            for line in handle:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    except OSError:
        return False
    return bool(flags & {"amx_bf16", "avx512_bf16"})


@dataclass(frozen=True)
class Placement:
    """Where and in which precision models run."""

    device: torch.device
    dtype: torch.dtype          # dtype of the weights (and of the input; int8 models take fp32 input)
    autocast: torch.dtype | None  # autocast dtype for the forward pass, if any
    int8: bool = False          # Linear layers quantized to int8 (dynamic activation quantization), CPU only

    def inference(self):
        """Context manager for a forward pass: no autograd, plus autocast when chosen."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast is not None:
            stack.enter_context(torch.autocast(self.device.type, dtype=self.autocast))
        return stack

    @property
    def label(self) -> str:
        """Short human description, e.g. 'cpu/bf16-autocast'."""
        if self.int8:
            return f"{self.device.type}/int8-dynamic"
        if self.autocast is not None:
            return f"{self.device.type}/{str(self.autocast).removeprefix('torch.')}-autocast"
        return f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"


PRECISIONS = ("auto", "fp32", "bf16", "bf16-autocast", "fp16", "int8")


def choose_placement(settings: EngineSettings) -> Placement:
    """CUDA in fp16 when present; on CPU bf16 when the CPU has bf16 instructions; else fp32.

    On CPU, 'bf16' casts the weights once (measured about 2x faster than autocast, which re-casts
    every weight on every call, and half the memory); 'bf16-autocast' keeps fp32 weights.
    'int8' (CPU only, opt-in) loads fp32 weights and quantizes every Linear layer to int8 with dynamic
    activation quantization; the rest of the network stays fp32.
    DEEPFAKE_PRECISION=fp32 forces fp32 everywhere.
    """
    precision = settings.precision
    if precision not in PRECISIONS:
        raise ValueError(f"DEEPFAKE_PRECISION must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    wanted = settings.device
    use_cuda = torch.cuda.is_available() and wanted in ("auto", "cuda")
    if wanted == "cuda" and not use_cuda:
        raise ValueError("DEEPFAKE_DEVICE=cuda but no CUDA device is available")
    if precision == "int8":
        if wanted == "cuda":
            raise ValueError("DEEPFAKE_PRECISION=int8 runs on the CPU only; use DEEPFAKE_DEVICE=cpu or auto")
        return Placement(torch.device("cpu"), torch.float32, None, int8=True)
    if use_cuda:
        device = torch.device("cuda")
        if precision == "fp32":
            return Placement(device, torch.float32, None)
        return Placement(device, torch.float16, None)
    device = torch.device("cpu")
    if precision == "bf16-autocast":
        return Placement(device, torch.float32, torch.bfloat16)
    if precision == "bf16" or (precision == "auto" and cpu_supports_bf16()):
        return Placement(device, torch.bfloat16, None)
    return Placement(device, torch.float32, None)
