"""Typed engine errors; every one carries a human-readable message."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidMediaError(EngineError):
    """The input is empty, corrupt, not an image/video, too large, or has no decodable frame."""


class UnknownModelError(EngineError):
    """The requested model key is not in the registry."""

    def __init__(self, key: str, known: list[str]):
        super().__init__(f"Unknown model '{key}'. Available models: {', '.join(known)}.")
        self.key = key
        self.known = known


class ModelUnavailableError(EngineError):
    """The model's weights are not cached while offline, or could not be downloaded or loaded."""

    def __init__(self, key: str, model_id: str, reason: str):
        self.key = key
        self.model_id = model_id
        self.command = f"deepfake download-models --model {key}"
        super().__init__(f"Model '{key}' ({model_id}) is not available: {reason}. Fetch it with: {self.command}")


class ModelLabelError(EngineError):
    """The model's labels cannot be mapped to fake/real."""


class DetectionCancelled(EngineError):
    """The caller asked to stop a running detection."""

    def __init__(self, message: str = "Detection was cancelled."):
        super().__init__(message)
