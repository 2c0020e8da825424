"""Device, numeric precision, attention kernel and CPU allocator tuning, decided in one place."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from .settings import EngineSettings


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AMX or AVX512-BF16)."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def cpu_has_amx_int8() -> bool:
    """True when the CPU has AMX int8 tile instructions (Intel Xeon since Sapphire Rapids)."""
    return "amx_int8" in cpu_flags()


@dataclass(frozen=True)
class Placement:
    """Where and in which precision models run."""

    device: torch.device
    dtype: torch.dtype  # dtype of the weights (and of the input; int8 models take fp32 input)
    autocast: torch.dtype | None  # autocast dtype for the forward pass, if any
    int8: bool = False  # Linear layers quantized to int8 (dynamic activation quantization), CPU only
    attention: str | None = None  # transformers attn_implementation to switch to after loading, if any

    def inference(self) -> contextlib.ExitStack[bool | None]:
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
    activation quantization; the rest of the network stays fp32, except attention's two matmuls, which
    run in bf16 where the CPU has bf16 instructions.
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
        return Placement(
            torch.device("cpu"),
            torch.float32,
            None,
            int8=True,
            attention=BF16_MATMUL_ATTENTION if cpu_supports_bf16() else None,
        )
    if use_cuda:
        device = torch.device("cuda")
        if precision == "fp32":
            return Placement(device, torch.float32, None)
        return Placement(device, torch.float16, None)
    device = torch.device("cpu")
    if precision == "bf16-autocast":
        return Placement(device, torch.float32, torch.bfloat16)
    if precision == "bf16" or (precision == "auto" and cpu_supports_bf16()):
        # torch's fused CPU attention kernel is about 2x slower in bf16 than plain matmuls at ViT's
        # 197 tokens (measured 7.1 vs 3.2 ms per layer at batch 8 on this box).
        return Placement(device, torch.bfloat16, None, attention="eager")
    return Placement(device, torch.float32, None)


BF16_MATMUL_ATTENTION = "deepfake_bf16_matmul"


def bf16_matmul_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Eager attention with both matmuls in bf16, returning the input dtype (transformers' interface).

    int8 models keep activations in fp32, where torch's fused CPU attention costs about twice what bf16
    matmuls do; the quantized Linear layers around it already round far more than bf16 does.
    """
    dtype = query.dtype
    query, key, value = (t.to(torch.bfloat16) for t in (query, key, value))
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = torch.nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(torch.bfloat16)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous().to(dtype)
    return output, None


@lru_cache(maxsize=1)
def register_attention() -> None:
    """Make BF16_MATMUL_ATTENTION known to transformers (once per process)."""
    # Imported here, not at the top: transformers' modelling stack costs about 120 MB of RSS
    # (tests/test_imports.py), which only a process that loads a PyTorch model needs.
    from transformers import AttentionInterface

    AttentionInterface.register(BF16_MATMUL_ATTENTION, bf16_matmul_attention)


# glibc malloc options (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
ALLOCATOR_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper limit on 64-bit
ALLOCATOR_TRIM_THRESHOLD = 256 * 1024 * 1024


@lru_cache(maxsize=1)
def tune_allocator() -> bool:
    """Let glibc malloc keep large freed blocks for reuse instead of unmapping them; True if applied.

    By default every activation over a few MB is a fresh mmap, so each forward pass pays page faults
    for all of its big tensors (a ViT-base GELU input at batch 8 is 19 MB): measured 15-20% of the
    model time here. Process-wide and once; freed memory above 256 MB is still returned to the OS.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, ALLOCATOR_MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, ALLOCATOR_TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):
        return False
