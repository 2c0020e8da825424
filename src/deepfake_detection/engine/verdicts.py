"""Result dataclasses; to_dict() gives the JSON-safe form used by the API and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def percent(probability: float) -> float:
    """0-1 probability as a percentage with 2 decimals."""
    return round(float(probability) * 100.0, 2)


def confidence_of(fake_probability: float) -> float:
    """Confidence as the spec defines it: percentage of the predicted class."""
    p = float(fake_probability)
    return percent(p if p >= 0.5 else 1.0 - p)


@dataclass
class FaceResult:
    """One classified face; box is in pixels of the original image."""

    box: dict[str, Any]
    detection_score: float
    fake_probability: float
    is_fake: bool
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImageVerdict:
    """Verdict for one image (or one camera frame)."""

    is_fake: bool
    confidence: float
    fake_probability: float
    model_key: str
    model_name: str
    face_found: bool
    faces: list[FaceResult]
    width: int
    height: int
    processing_time_ms: float
    backend: str = ""  # runtime/precision that produced the probabilities, e.g. "onnxruntime/int8-static"
    # Trust (docs/architecture.md "Trust"): three-way verdict, its reasons in plain words, every member's
    # result, the calibrations applied, the robustness self-test, and how many faces were flagged.
    verdict: str | None = None  # "fake", "uncertain" or "real"
    reasons: list[str] | None = None
    members: list[dict[str, Any]] | None = None  # key, name, raw/calibrated probability, band, backend
    calibration: dict[str, Any] | None = None  # None: the scores are the models' raw outputs
    robustness: dict[str, Any] | None = None  # None: the self-test did not run
    faces_summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def trust(self) -> dict[str, Any]:
        """The trust fields alone (what the API stores next to the documented ones)."""
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "members": self.members,
            "calibration": self.calibration,
            "robustness": self.robustness,
            "faces_summary": self.faces_summary,
        }


@dataclass
class FrameResult:
    """One sampled video frame on the timeline."""

    time: float
    fake_probability: float  # the frame's combined probability (one model: its own, calibrated when one applies)
    is_fake: bool
    faces: int
    verdict: str | None = None  # "fake", "uncertain" or "real" (ensemble.combine on this frame)
    members: dict[str, float] | None = None  # ensemble only: each member's probability on this frame

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.members is None:
            data.pop("members")  # a single model's entry: its probability is the entry's own
        return data


@dataclass
class VideoVerdict:
    """Verdict for a video: majority vote over sampled frames."""

    is_fake: bool
    confidence: float
    fake_probability: float
    fake_frames: int
    real_frames: int
    frames_analyzed: int
    frames_skipped: int
    duration: float
    fps: float
    timeline: list[FrameResult]
    model_key: str
    model_name: str
    processing_time_ms: float
    backend: str = ""  # runtime/precision that produced the probabilities, e.g. "openvino/int8-static"
    thumbnail_jpeg: bytes = field(default=b"", repr=False)
    # Trust (docs/architecture.md "Trust"): the video's three-way verdict and its reasons, its spans of equal
    # frame verdicts, the share of fake frames, every member over the whole video, the calibrations applied.
    verdict: str | None = None  # "fake", "uncertain" or "real"
    reasons: list[str] | None = None
    segments: list[dict[str, Any]] | None = None  # [{start, end, verdict}], times in seconds
    segments_text: str | None = None  # e.g. "fake 0-6 s, real 7-9 s"
    fake_share: float | None = None  # fake frames / sampled frames, 0..1
    members: list[dict[str, Any]] | None = None  # key, name, mean raw/calibrated p, fake_frames, band, backend
    calibration: dict[str, Any] | None = None  # None: the scores are the models' raw outputs

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("thumbnail_jpeg")
        data["timeline"] = [frame.to_dict() for frame in self.timeline]
        return data

    def trust(self) -> dict[str, Any]:
        """The trust fields alone (what the API stores next to the documented ones)."""
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "segments": self.segments,
            "segments_text": self.segments_text,
            "fake_share": self.fake_share,
            "members": self.members,
            "calibration": self.calibration,
        }


@dataclass
class CameraVerdict:
    """Smoothed live verdict plus the raw result of this frame."""

    is_fake: bool
    confidence: float
    fake_probability: float
    frame: ImageVerdict
    window_size: int
    frames_in_window: int
    fake_votes: int
    model_key: str
    model_name: str
    backend: str = ""  # runtime/precision that produced the probabilities

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
