"""Engine configuration, read once from DEEPFAKE_* variables (and the standard HF_* ones).

The variables are declared (type, default, limits, meaning) in ``deepfake_detection.settings.EngineEnv``;
``EngineSettings`` is the plain frozen value the engine passes around.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..settings import EngineEnv, ensemble_band, ensemble_weights
from .ensemble import EnsembleSettings


def hub_cache_dir(env: Mapping[str, str]) -> Path:
    """The HuggingFace hub cache as huggingface_hub resolves it (HF_HUB_CACHE, else HF_HOME/hub)."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    # XDG_CACHE_HOME is huggingface_hub's own fallback (not one of ours): read as it reads it.
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
    ensemble_members: str = ""  # comma-separated keys; empty: every model whose weights are available
    robustness: bool = False  # the robustness self-test on images unless detect_image says otherwise
    ensemble: EnsembleSettings = EnsembleSettings()  # uncertain band, disagreement spread, member weights
    device: str = "auto"
    precision: str = "auto"
    backend: str = "auto"
    agreement_max_gap: float = 0.02
    prepared_dir: Path | None = None  # None: <cache_dir>/deepfake-prepared
    torch_threads: int = 0
    tune_allocator: bool = True
    batch_size: int = 8
    batch_window_ms: float = 5.0
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

    @property
    def prepared_cache(self) -> Path:
        """Directory of the prepared fast models."""
        if self.prepared_dir is not None:
            return self.prepared_dir
        return (self.cache_dir or hub_cache_dir(os.environ)) / "deepfake-prepared"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "EngineSettings":
        """Build settings from the environment (or any mapping, for tests); InvalidSettings (a ValueError) if bad."""
        env = os.environ if env is None else env
        declared = EngineEnv.read(env)
        return cls.from_declared(declared, hub_cache=hub_cache_dir(env))

    @classmethod
    def from_declared(cls, declared: EngineEnv, *, hub_cache: Path) -> "EngineSettings":
        """The engine's value from validated variables (``hub_cache``: where huggingface_hub keeps models)."""
        prefetch = declared.DEEPFAKE_VIDEO_PREFETCH
        prepared = declared.DEEPFAKE_PREPARED_CACHE
        return cls(
            cache_dir=declared.DEEPFAKE_MODEL_CACHE.expanduser() if declared.DEEPFAKE_MODEL_CACHE else hub_cache,
            backend=declared.DEEPFAKE_BACKEND,
            agreement_max_gap=declared.DEEPFAKE_AGREEMENT_MAX_GAP,
            prepared_dir=prepared.expanduser() if prepared else None,
            offline=declared.HF_HUB_OFFLINE or declared.DEEPFAKE_OFFLINE,
            default_model=declared.DEEPFAKE_DEFAULT_MODEL,
            extra_models=declared.DEEPFAKE_EXTRA_MODELS,
            model_revisions=declared.DEEPFAKE_MODEL_REVISIONS,
            ensemble_members=declared.DEEPFAKE_ENSEMBLE_MEMBERS,
            robustness=declared.DEEPFAKE_ROBUSTNESS,
            ensemble=EnsembleSettings(
                uncertain_band=ensemble_band(declared.DEEPFAKE_ENSEMBLE_BAND),
                disagreement_spread=declared.DEEPFAKE_ENSEMBLE_SPREAD,
                weights=ensemble_weights(declared.DEEPFAKE_ENSEMBLE_WEIGHTS),
            ),
            device=declared.DEEPFAKE_DEVICE,
            precision=declared.DEEPFAKE_PRECISION,
            torch_threads=declared.DEEPFAKE_TORCH_THREADS,
            tune_allocator=declared.DEEPFAKE_TUNE_ALLOCATOR,
            batch_size=declared.DEEPFAKE_BATCH_SIZE,
            batch_window_ms=declared.DEEPFAKE_BATCH_WINDOW_MS,
            face_detection=declared.DEEPFAKE_FACE_DETECTION,
            face_enhance=declared.DEEPFAKE_FACE_ENHANCE,
            face_margin=declared.DEEPFAKE_FACE_MARGIN,
            face_min_score=declared.DEEPFAKE_FACE_MIN_SCORE,
            max_faces=declared.DEEPFAKE_MAX_FACES,
            max_image_pixels=declared.DEEPFAKE_MAX_IMAGE_PIXELS,
            max_video_pixels=declared.DEEPFAKE_MAX_VIDEO_PIXELS,
            work_max_side=declared.DEEPFAKE_WORK_MAX_SIDE,
            max_large_decodes=declared.DEEPFAKE_MAX_LARGE_DECODES,
            video_sample_fps=declared.DEEPFAKE_VIDEO_SAMPLE_FPS,
            video_max_frames=declared.DEEPFAKE_VIDEO_MAX_FRAMES,
            video_prefetch=None if prefetch == "auto" else prefetch,  # None: the engine decides
            camera_window=declared.DEEPFAKE_CAMERA_WINDOW,
            camera_hysteresis=declared.DEEPFAKE_CAMERA_HYSTERESIS,
            camera_ttl_seconds=declared.DEEPFAKE_CAMERA_TTL,
        )
