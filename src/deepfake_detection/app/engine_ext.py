"""The detection engine: one instance per app, created on first use from EngineSettings.from_env()."""

from __future__ import annotations

import threading

from flask import Flask, current_app

from ..engine import DetectionEngine, EngineSettings

ENGINE_KEY = "deepfake_engine"
_create_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Accept an engine handed in through the config (tests share one); else create lazily."""
    given = app.config.get("DETECTION_ENGINE")
    if given is not None:
        app.extensions[ENGINE_KEY] = given


def get_engine(app: Flask | None = None) -> DetectionEngine:
    """The app's DetectionEngine (models load lazily inside it)."""
    app = app or current_app._get_current_object()
    engine = app.extensions.get(ENGINE_KEY)
    if engine is None:
        with _create_lock:
            engine = app.extensions.get(ENGINE_KEY)
            if engine is None:
                engine = DetectionEngine(EngineSettings.from_env())
                app.extensions[ENGINE_KEY] = engine
    return engine
