"""The model registry: the three documented detectors plus operator-configured extras."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .errors import UnknownModelError
from .settings import EngineSettings

# The virtual model key of the ensemble (engine.DetectionEngine.ensemble_members); no model may take it.
ENSEMBLE_KEY = "ensemble"


@dataclass(frozen=True)
class ModelSpec:
    """One selectable detector: a HuggingFace model id or a local model directory."""

    key: str
    model_id: str
    name: str
    description: str
    revision: str | None = None
    is_default: bool = False

    @property
    def local_path(self) -> Path | None:
        """The model directory when model_id points at one on disk, else None."""
        path = Path(self.model_id).expanduser()
        local = path.is_absolute() or self.model_id.startswith((".", "~")) or path.is_dir()
        return path if local else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description of the model."""
        return asdict(self)


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "dima806", "dima806/deepfake_vs_real_image_detection", "Dima806 Deepfake Detector", "General purpose detection"
    ),
    ModelSpec(
        "deep-fake-v2",
        "prithivMLmods/Deep-Fake-Detector-v2-Model",
        "Deep Fake Detector v2",
        "Advanced detection with Vision Transformer",
    ),
    ModelSpec(
        "open-deepfake", "prithivMLmods/open-deepfake-detection", "Open Deepfake Detection", "SigLIP-based detection"
    ),
)


def _parse_extra_models(text: str) -> list[ModelSpec]:
    """Parse DEEPFAKE_EXTRA_MODELS: a JSON list of objects, or 'key=id_or_path' items split by ',' or ';'."""
    text = text.strip()
    if not text:
        return []
    if text[0] in "[{":
        items = json.loads(text)
        items = [items] if isinstance(items, dict) else items
        specs = []
        for item in items:
            if not isinstance(item, dict) or not item.get("key") or not item.get("model_id"):
                raise ValueError("DEEPFAKE_EXTRA_MODELS entries need at least 'key' and 'model_id'")
            specs.append(
                ModelSpec(
                    key=str(item["key"]),
                    model_id=str(item["model_id"]),
                    name=str(item.get("name") or item["key"]),
                    description=str(item.get("description") or f"Custom model {item['model_id']}"),
                    revision=item.get("revision") or None,
                )
            )
        return specs
    specs = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        key, sep, model_id = part.partition("=")
        if not sep or not key.strip() or not model_id.strip():
            raise ValueError(f"DEEPFAKE_EXTRA_MODELS item {part!r} is not key=model_id_or_path")
        model_id, _, revision = model_id.strip().partition("@")
        specs.append(ModelSpec(key.strip(), model_id, key.strip(), f"Custom model {model_id}", revision or None))
    return specs


def _parse_revisions(text: str) -> dict[str, str]:
    pairs = (p.partition("=") for p in text.replace(";", ",").split(",") if p.strip())
    return {k.strip(): v.strip() for k, _, v in pairs if v.strip()}


class ModelRegistry:
    """Ordered, immutable set of ModelSpecs built from settings."""

    def __init__(self, settings: EngineSettings):
        revisions = _parse_revisions(settings.model_revisions)
        specs: dict[str, ModelSpec] = {}
        for spec in (*BUILTIN_MODELS, *_parse_extra_models(settings.extra_models)):
            if spec.key == ENSEMBLE_KEY:
                raise ValueError(f"DEEPFAKE_EXTRA_MODELS: the key {ENSEMBLE_KEY!r} is reserved for the ensemble")
            specs[spec.key] = replace(spec, revision=revisions.get(spec.key, spec.revision))
        if settings.default_model not in specs:
            raise ValueError(f"DEEPFAKE_DEFAULT_MODEL {settings.default_model!r} is not a known model key")
        self.default_key = settings.default_model
        self._specs = {k: replace(s, is_default=(k == self.default_key)) for k, s in specs.items()}

    def all(self) -> list[ModelSpec]:
        """Every model, built-ins first."""
        return list(self._specs.values())

    def get(self, key: str | None) -> ModelSpec:
        """The spec for key (None or '' means the default); UnknownModelError otherwise."""
        key = key or self.default_key
        try:
            return self._specs[key]
        except KeyError:
            raise UnknownModelError(str(key), list(self._specs)) from None
