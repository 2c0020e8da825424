"""Engines whose ensemble is made of the cue-trained models (tests/support/cue_models.py)."""

from __future__ import annotations

import os

from deepfake_detection.engine import DetectionEngine, EngineSettings


def ensemble_engine(cue_extra_models: str, members: str, **env: str) -> DetectionEngine:
    """An engine with the cue models registered and ``members`` as its ensemble (more DEEPFAKE_* in ``env``)."""
    settings = {**os.environ, "DEEPFAKE_EXTRA_MODELS": cue_extra_models, "DEEPFAKE_ENSEMBLE_MEMBERS": members, **env}
    return DetectionEngine(EngineSettings.from_env(settings))
