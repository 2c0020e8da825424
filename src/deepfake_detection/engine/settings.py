"""Engine configuration, read once from DEEPFAKE_* variables (and the standard HF_* ones)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    return default if value is None or value.strip() == "" else value.strip().lower() in _TRUE


def _auto_flag(env: Mapping[str, str], name: str) -> bool | None:
    """A yes/no setting that may also be 'auto' (or unset): None then, for the engine to decide."""
    value = (env.get(name) or "auto").strip().lower()
    if value == "auto":
        return None
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise ValueError(f"{name} must be auto, 1 or 0, got {value!r}")


def _number(env: Mapping[str, str], name: str, default, cast):
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return cast(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc


def hub_cache_dir(env: Mapping[str, str]) -> Path:
    """The HuggingFace hub cache as huggingface_hub resolves it (HF_HUB_CACHE, else HF_HOME/hub)."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


@dataclass(frozen=True)
class EngineSettings:
    """Every engine knob in one place; see the README section 'Engine configuration'."""

    cache_dir: Path | None = None
    offline: bool = False
    default_model: str = "dima806"
    extra_models: str = ""
    model_revisions: str = ""
    device: str = "auto"
    precision: str = "auto"
    torch_threads: int = 0
    tune_allocator: bool = True
    batch_size: int = 8
    face_detection: bool = True
    face_enhance: bool = True
    face_margin: float = 0.25
    face_min_score: float = 0.7
    face_min_size: int = 24
    max_faces: int = 8
    max_image_pixels: int = 40_000_000
    max_video_pixels: int = 3840 * 2160
    work_max_side: int = 2048
    max_large_decodes: int = 2
    video_sample_fps: float = 1.0
    video_max_frames: int = 300
    video_prefetch: bool | None = None  # None: only when torch leaves a CPU free
    camera_window: int = 5
    camera_hysteresis: float = 0.05
    camera_ttl_seconds: int = 600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "EngineSettings":
        """Build settings from the environment (or any mapping, for tests)."""
        env = os.environ if env is None else env
        cache = env.get("DEEPFAKE_MODEL_CACHE")
        return cls(
            cache_dir=Path(cache).expanduser() if cache else hub_cache_dir(env),
            offline=_flag(env, "HF_HUB_OFFLINE", False) or _flag(env, "DEEPFAKE_OFFLINE", False),
            default_model=env.get("DEEPFAKE_DEFAULT_MODEL", "").strip() or "dima806",
            extra_models=env.get("DEEPFAKE_EXTRA_MODELS", ""),
            model_revisions=env.get("DEEPFAKE_MODEL_REVISIONS", ""),
            device=(env.get("DEEPFAKE_DEVICE", "") or "auto").strip().lower(),
            precision=(env.get("DEEPFAKE_PRECISION", "") or "auto").strip().lower(),
            torch_threads=_number(env, "DEEPFAKE_TORCH_THREADS", 0, int),
            tune_allocator=_flag(env, "DEEPFAKE_TUNE_ALLOCATOR", True),
            batch_size=max(1, _number(env, "DEEPFAKE_BATCH_SIZE", 8, int)),
            face_detection=_flag(env, "DEEPFAKE_FACE_DETECTION", True),
            face_enhance=_flag(env, "DEEPFAKE_FACE_ENHANCE", True),
            face_margin=_number(env, "DEEPFAKE_FACE_MARGIN", 0.25, float),
            face_min_score=_number(env, "DEEPFAKE_FACE_MIN_SCORE", 0.7, float),
            max_faces=max(1, _number(env, "DEEPFAKE_MAX_FACES", 8, int)),
            max_image_pixels=_number(env, "DEEPFAKE_MAX_IMAGE_PIXELS", 40_000_000, int),
            max_video_pixels=_number(env, "DEEPFAKE_MAX_VIDEO_PIXELS", 3840 * 2160, int),
            work_max_side=max(0, _number(env, "DEEPFAKE_WORK_MAX_SIDE", 2048, int)),
            max_large_decodes=max(1, _number(env, "DEEPFAKE_MAX_LARGE_DECODES", 2, int)),
            video_sample_fps=_number(env, "DEEPFAKE_VIDEO_SAMPLE_FPS", 1.0, float),
            video_max_frames=max(1, _number(env, "DEEPFAKE_VIDEO_MAX_FRAMES", 300, int)),
            video_prefetch=_auto_flag(env, "DEEPFAKE_VIDEO_PREFETCH"),
            camera_window=max(1, _number(env, "DEEPFAKE_CAMERA_WINDOW", 5, int)),
            camera_hysteresis=_number(env, "DEEPFAKE_CAMERA_HYSTERESIS", 0.05, float),
            camera_ttl_seconds=max(1, _number(env, "DEEPFAKE_CAMERA_TTL", 600, int)),
        )
