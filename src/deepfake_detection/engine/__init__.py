"""Deepfake detection engine: a plain Python library (no Flask, no database).

Public interface documented in docs/architecture.md ("Engine public interface").
"""

from .calibration import Calibration, CalibrationError, reliability_bins
from .camera import InMemorySmoothingStore, SmoothingStore
from .engine import DetectionEngine
from .ensemble import EnsembleSettings, EnsembleVerdict, MemberResult, MemberVerdict, Segment, VideoSummary
from .errors import (
    DetectionCancelled,
    EngineError,
    InvalidMediaError,
    ModelLabelError,
    ModelUnavailableError,
    UnknownModelError,
)
from .labelled import LabelledScores, calibration_summary, score_labelled_folders
from .registry import ENSEMBLE_KEY, ModelSpec
from .robustness import Stability
from .settings import EngineSettings
from .verdicts import CameraVerdict, FaceResult, FrameResult, ImageVerdict, VideoVerdict
from .video import VideoProbe

__all__ = [
    "DetectionEngine",
    "EngineSettings",
    "ModelSpec",
    "ENSEMBLE_KEY",
    "ImageVerdict",
    "FaceResult",
    "VideoVerdict",
    "FrameResult",
    "CameraVerdict",
    "VideoProbe",
    "SmoothingStore",
    "InMemorySmoothingStore",
    "EngineError",
    "InvalidMediaError",
    "UnknownModelError",
    "ModelUnavailableError",
    "ModelLabelError",
    "DetectionCancelled",
    # Trust pieces (docs/architecture.md, "Trust: calibration, ensemble and robustness").
    # Fitting is engine.calibration_fit (public too), apart so that applying never loads scikit-learn.
    "Calibration",
    "CalibrationError",
    "reliability_bins",
    "LabelledScores",
    "score_labelled_folders",
    "calibration_summary",
    "EnsembleSettings",
    "EnsembleVerdict",
    "MemberResult",
    "MemberVerdict",
    "Segment",
    "VideoSummary",
    "Stability",
]
