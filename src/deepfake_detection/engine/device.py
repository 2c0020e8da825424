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
    dtype: torch.dtype          # dtype of the weights
    autocast: torch.dtype | None  # autocast dtype for the forward pass, if any

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
        if self.autocast is not None:
            return f"{self.device.type}/{str(self.autocast).removeprefix('torch.')}-autocast"
        return f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"


def choose_placement(settings: EngineSettings) -> Placement:
    """CUDA in fp16 when present; CPU in bf16 autocast when supported and allowed; else fp32."""
    wanted = settings.device
    use_cuda = torch.cuda.is_available() and wanted in ("auto", "cuda")
    if wanted == "cuda" and not use_cuda:
        raise ValueError("DEEPFAKE_DEVICE=cuda but no CUDA device is available")
    if use_cuda:
        device = torch.device("cuda")
        if settings.precision == "fp32":
            return Placement(device, torch.float32, None)
        return Placement(device, torch.float16, None)
    device = torch.device("cpu")
    if settings.precision == "bf16" or (settings.precision == "auto" and cpu_supports_bf16()):
        return Placement(device, torch.float32, torch.bfloat16)
    if settings.precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ValueError(f"DEEPFAKE_PRECISION must be auto, fp32 or bf16, got {settings.precision!r}")
    return Placement(device, torch.float32, None)
