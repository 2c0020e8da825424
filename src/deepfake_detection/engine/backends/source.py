"""Where a model's files are (a local directory or the HF cache) and what identifies their version."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download, try_to_load_from_cache
from transformers import AutoConfig

from ..errors import ModelUnavailableError
from ..registry import ModelSpec
from ..settings import EngineSettings
from .processor import PlainImageProcessor, read_plain_processor

PROCESSOR_FILE = "preprocessor_config.json"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def is_cached(spec: ModelSpec, settings: EngineSettings) -> bool:
    """True when config, image processor config and weights are on disk (never touches the network)."""
    local = spec.local_path
    if local is not None:
        return (local / "config.json").is_file() and any((local / f).is_file() for f in WEIGHT_FILES)

    def cached(filename: str) -> bool:
        found = try_to_load_from_cache(spec.model_id, filename, cache_dir=settings.cache_dir, revision=spec.revision)
        return isinstance(found, str)

    return cached("config.json") and cached(PROCESSOR_FILE) and any(map(cached, WEIGHT_FILES))


def short_error(exc: BaseException) -> str:
    """First line of an exception's message, at most 300 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def model_source(spec: ModelSpec, settings: EngineSettings) -> tuple[str, dict[str, Any]]:
    """(path or id, from_pretrained keyword arguments); ModelUnavailableError when it cannot be had."""
    local = spec.local_path
    if local is not None:
        if not (local / "config.json").is_file():
            raise ModelUnavailableError(spec.key, spec.model_id, "the directory has no config.json")
        return str(local), {}
    kwargs: dict[str, Any] = {
        "cache_dir": str(settings.cache_dir) if settings.cache_dir else None,
        "revision": spec.revision,
    }
    if is_cached(spec, settings):
        kwargs["local_files_only"] = True  # no network round-trip when everything is on disk
    elif settings.offline:
        raise ModelUnavailableError(spec.key, spec.model_id, "it is not in the model cache and HF_HUB_OFFLINE is set")
    return spec.model_id, kwargs


def processor_backend() -> str:
    """transformers' torchvision image processors when installed, else its PIL ones."""
    return "torchvision" if importlib.util.find_spec("torchvision") else "pil"


def _plain_processor(spec: ModelSpec, kwargs: dict[str, Any]) -> PlainImageProcessor | None:
    """The model's processor read from its preprocessor_config.json when it is a plain one, else None."""
    if spec.local_path is not None:
        return read_plain_processor(spec.local_path / PROCESSOR_FILE)
    try:
        path = hf_hub_download(
            spec.model_id,
            PROCESSOR_FILE,
            cache_dir=kwargs.get("cache_dir"),
            revision=kwargs.get("revision"),
            local_files_only=kwargs.get("local_files_only", False),
        )
    except Exception:  # transformers' loader below tries again and reports what is wrong
        return None
    return read_plain_processor(Path(path))


def load_processor(spec: ModelSpec, source: str, kwargs: dict[str, Any]) -> Any:
    """The model's image processor: read by our reader when plain, else transformers' AutoImageProcessor.

    Raises whatever transformers raises; callers turn it into ModelUnavailableError.
    """
    plain = _plain_processor(spec, kwargs)
    if plain is not None:
        return plain
    # Imported here, not at the top: transformers' image-processing stack costs about 130 MB of RSS
    # (tests/test_imports.py), which a process serving exported ViT/SigLIP models never needs.
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(source, backend=processor_backend(), **kwargs)


def load_processor_and_labels(spec: ModelSpec, settings: EngineSettings) -> tuple[Any, dict[int | str, str]]:
    """The image processor and the id2label mapping, without loading any weights."""
    source, kwargs = model_source(spec, settings)
    try:
        processor = load_processor(spec, source, kwargs)
        config = AutoConfig.from_pretrained(source, **kwargs)
    except Exception as exc:  # any loading failure becomes one typed, named error
        raise ModelUnavailableError(spec.key, spec.model_id, f"loading failed: {short_error(exc)}") from exc
    return processor, dict(config.id2label)


def source_fingerprint(spec: ModelSpec, settings: EngineSettings) -> str:
    """What identifies the weights a prepared model was made from.

    For a hub model the snapshot's commit hash (the revision actually on disk, also when the spec
    names a branch or nothing); for a local directory a hash of its files' names, sizes and
    modification times (cheap, and any rewrite of the weights changes it).
    """
    local = spec.local_path
    if local is not None:
        digest = hashlib.sha256()
        for path in sorted(p for p in Path(local).rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(local)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return "local-" + digest.hexdigest()[:24]
    found = try_to_load_from_cache(spec.model_id, "config.json", cache_dir=settings.cache_dir, revision=spec.revision)
    if isinstance(found, str):
        return Path(found).parent.name  # .../snapshots/<commit>/config.json
    return spec.revision or "unknown"
