"""A model's input preparation read straight from its preprocessor_config.json, for the plain processors.

ViT and SigLIP processors only resize to a fixed size, rescale and normalise; ``Classifier`` does that
arithmetic itself and needs nothing but these numbers. Reading them from the JSON spares a process
that serves exported models transformers' image-processing stack (about 130 MB of RSS: it imports
the model-loading machinery, torch.distributed and sympy). Anything this reader does not know for
certain is left to transformers' own AutoImageProcessor.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

#: Processor types whose whole work is resize -> rescale -> normalise (to RGB first, which inputs already are).
PLAIN_TYPES = frozenset(
    {
        "ViTImageProcessor",
        "ViTImageProcessorFast",
        "ViTImageProcessorPil",
        "SiglipImageProcessor",
        "SiglipImageProcessorFast",
        "SiglipImageProcessorPil",
    }
)
#: Keys that must be written out in the file: transformers' per-class defaults are not guessed here.
REQUIRED_KEYS = (
    "do_resize",
    "size",
    "resample",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
)
#: Keys that would change the arithmetic when true (cropping, padding, other resizing modes).
UNSUPPORTED_WHEN_TRUE = ("do_center_crop", "do_pad", "do_reduce_labels", "do_thumbnail", "do_align_long_axis")


@dataclass(frozen=True)
class PlainImageProcessor:
    """The numbers a plain processor applies, under transformers' attribute names (what Classifier reads)."""

    size: dict[str, int]
    resample: int
    do_rescale: bool
    rescale_factor: float
    do_normalize: bool
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    image_processor_type: str


def _channels(value: Any) -> tuple[float, float, float] | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * 3
    if not isinstance(value, list) or len(value) != 3:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return None
    return (float(value[0]), float(value[1]), float(value[2]))


def plain_processor(config: dict[str, Any]) -> PlainImageProcessor | None:
    """The plain processor a preprocessor_config.json describes, or None when it is anything else."""
    kind = config.get("image_processor_type")
    if kind not in PLAIN_TYPES or any(key not in config for key in REQUIRED_KEYS):
        return None
    if any(config.get(key) for key in UNSUPPORTED_WHEN_TRUE) or config["do_resize"] is not True:
        return None
    size = config["size"]
    if not isinstance(size, dict) or set(size) != {"height", "width"}:
        return None
    height, width = size["height"], size["width"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)):
        return None
    resample = config["resample"]
    if not isinstance(resample, int) or resample not in {int(r) for r in Image.Resampling}:
        return None
    factor, mean, std = config["rescale_factor"], _channels(config["image_mean"]), _channels(config["image_std"])
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or mean is None or std is None:
        return None
    if not all(isinstance(config[k], bool) for k in ("do_rescale", "do_normalize")) or 0.0 in std:
        return None
    return PlainImageProcessor(
        size={"height": height, "width": width},
        resample=resample,
        do_rescale=config["do_rescale"],
        rescale_factor=float(factor),
        do_normalize=config["do_normalize"],
        image_mean=mean,
        image_std=std,
        image_processor_type=kind,
    )


def read_plain_processor(path: Path) -> PlainImageProcessor | None:
    """plain_processor of the JSON file at path; None when it is missing, unreadable or not plain."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return plain_processor(config) if isinstance(config, dict) else None
