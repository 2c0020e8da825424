"""Robustness self-test: does a verdict survive re-compression and rescaling of the crop it was made on?

A detector that keys on fragile traces (a fine pattern, the grid of one JPEG encoder) changes its mind
when the same picture is saved again, which ordinary sharing does all the time. ``variants`` makes,
from one RGB uint8 crop, the versions the self-test scores next to the original:

- ``jpeg``: re-encoded by PIL as JPEG at quality ``JPEG_QUALITY`` (70) with PIL's default 4:2:0 chroma
  subsampling, and decoded again;
- ``rescale``: scaled to half size (each side halved, at least 1 pixel) with a box filter (the mean of
  each 2x2 block: the averaging a downscale does, without ringing), then back to the original size
  with a bicubic filter.

``stability`` compares the probabilities: unstable when a variant lands on the other side of 0.5
than the original (the verdict flips) or moves by more than ``MAX_SHIFT`` (0.3) in either direction.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray
from PIL import Image

JPEG_QUALITY = 70
MAX_SHIFT = 0.3
VARIANTS = ("jpeg", "rescale")
# How each variant is named in plain words ("the verdict changed after ...").
VARIANT_DESCRIPTIONS = {"jpeg": "JPEG re-compression", "rescale": "half-size down- and up-scaling"}

RGBImage = NDArray[np.uint8]


def _check_rgb(rgb: RGBImage) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an RGB uint8 array of shape (height, width, 3), got {rgb.dtype} {rgb.shape}")


def jpeg_variant(rgb: RGBImage, quality: int = JPEG_QUALITY) -> RGBImage:
    """The crop after a JPEG re-encode at quality (PIL, 4:2:0) and decode."""
    _check_rgb(rgb)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()


def rescale_variant(rgb: RGBImage) -> RGBImage:
    """The crop scaled to half size (box filter) and back to its own size (bicubic)."""
    _check_rgb(rgb)
    height, width = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((max(1, width // 2), max(1, height // 2)), Image.Resampling.BOX)
    return np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), dtype=np.uint8).copy()


def variants(rgb: RGBImage) -> dict[str, RGBImage]:
    """Every variant of the crop, by name, in VARIANTS order."""
    return {"jpeg": jpeg_variant(rgb), "rescale": rescale_variant(rgb)}


@dataclass(frozen=True)
class Stability:
    """The self-test's answer for one crop: the original's and each variant's fake probability."""

    stable: bool
    original: float
    variants: dict[str, float]
    flipped: list[str] = field(default_factory=list)  # variants whose verdict is the opposite
    shifted: list[str] = field(default_factory=list)  # variants that moved by more than max_shift, same side
    max_shift: float = MAX_SHIFT

    def reasons(self) -> list[str]:
        """Plain-words reasons why the verdict is not stable (empty when it is)."""
        out = [f"the verdict changed after {VARIANT_DESCRIPTIONS.get(n, n)}" for n in self.flipped]
        for name in self.shifted:
            moved = round(abs(self.variants[name] - self.original) * 100)
            out.append(f"the score moved by {moved} points after {VARIANT_DESCRIPTIONS.get(name, name)}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, reasons included."""
        return {**asdict(self), "reasons": self.reasons()}


def stability(original_p: float, variant_ps: Mapping[str, float], threshold: float = MAX_SHIFT) -> Stability:
    """Stable unless a variant flips the verdict across 0.5 or moves the probability by more than threshold."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    original = float(original_p)
    scores = {name: float(p) for name, p in variant_ps.items()}
    fake = original >= 0.5
    flipped = [name for name, p in scores.items() if (p >= 0.5) != fake]
    shifted = [name for name, p in scores.items() if name not in flipped and abs(p - original) > threshold]
    return Stability(
        stable=not flipped and not shifted,
        original=original,
        variants=scores,
        flipped=flipped,
        shifted=shifted,
        max_shift=threshold,
    )
