"""Load detectors (lazily, once per process, thread-safely) with the backend chosen for this machine."""

from __future__ import annotations

import threading

from .backends import BackendChoice, backend_chain, load_with_fallback
from .backends.base import Classifier
from .backends.pytorch import quantize_int8, use_attention
from .backends.source import WEIGHT_FILES, is_cached
from .device import Placement
from .prepared import PreparedStore
from .registry import ModelSpec
from .settings import EngineSettings

__all__ = ["Classifier", "ModelCache", "WEIGHT_FILES", "is_cached", "load_classifier", "quantize_int8", "use_attention"]


def load_classifier(
    spec: ModelSpec, settings: EngineSettings, placement: Placement, store: PreparedStore | None = None
) -> Classifier:
    """The classifier for spec from the first backend of this machine's chain that loads and agrees with fp32."""
    store = store or PreparedStore(settings.prepared_cache)
    return load_with_fallback(spec, settings, backend_chain(settings, placement), store)


class ModelCache:
    """Each model loads once per process; concurrent first requests wait for one load."""

    def __init__(self, settings: EngineSettings, placement: Placement):
        self._settings = settings
        self._placement = placement
        self.store = PreparedStore(settings.prepared_cache)
        self.chain: list[BackendChoice] = backend_chain(settings, placement)
        self._loaded: dict[str, Classifier] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.load_count = 0

    def get(self, spec: ModelSpec) -> Classifier:
        """The loaded classifier for spec, loading it on first use."""
        found = self._loaded.get(spec.key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(spec.key, threading.Lock())
        with lock:
            found = self._loaded.get(spec.key)
            if found is None:
                found = load_with_fallback(spec, self._settings, self.chain, self.store)
                self.load_count += 1
                self._loaded[spec.key] = found
            return found

    def loaded_keys(self) -> list[str]:
        """Keys of models currently in memory."""
        return list(self._loaded)

    def loaded(self) -> dict[str, Classifier]:
        """The classifiers currently in memory, by key."""
        return dict(self._loaded)
