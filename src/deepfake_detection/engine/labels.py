"""Map a model's own class labels (config.id2label) to fake/real by name."""

from __future__ import annotations

import re
from typing import Mapping

from .errors import ModelLabelError

FAKE_NAMES = frozenset(
    {
        "fake",
        "deepfake",
        "deepfakes",
        "ai",
        "aigenerated",
        "generated",
        "synthetic",
        "artificial",
        "manipulated",
        "spoof",
        "forged",
        "altered",
    }
)
REAL_NAMES = frozenset(
    {
        "real",
        "realism",
        "authentic",
        "genuine",
        "original",
        "human",
        "bonafide",
        "pristine",
        "natural",
        "live",
        "nature",
    }
)


def _normalise(label: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(label).lower())


def fake_class_indices(id2label: Mapping[int | str, str], *, model_label: str) -> list[int]:
    """Return the class indices meaning 'fake'; refuse labels that are not all fake or real."""
    if not id2label:
        raise ModelLabelError(f"Model {model_label} declares no class labels (config.id2label).")
    fake, real, unknown = [], [], []
    for index, label in id2label.items():
        name = _normalise(label)
        if name in FAKE_NAMES:
            fake.append(int(index))
        elif name in REAL_NAMES:
            real.append(int(index))
        else:
            unknown.append(str(label))
    if unknown or not fake or not real:
        labels = ", ".join(f"{k}: {v!r}" for k, v in sorted(id2label.items(), key=lambda kv: int(kv[0])))
        raise ModelLabelError(
            f"Model {model_label} has labels {{{labels}}} that cannot be mapped to fake/real; "
            f"every label must be one of fake={sorted(FAKE_NAMES)} or real={sorted(REAL_NAMES)}."
        )
    return sorted(fake)
