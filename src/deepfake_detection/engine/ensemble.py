"""The ensemble's combination rule and the plain-words verdicts built on it (pure functions, no models).

Rule (``combine``): every member contributes its calibrated fake probability, or its raw one when it
has no calibration. Each probability is clipped to [``CLIP``, 1 - ``CLIP``] (log-odds within about
+-9.2, so one member's 0.0 or 1.0 cannot outvote every other member without limit) and turned into
log-odds; the combined probability is the logistic of their weighted mean (weights from the member,
else ``EnsembleSettings.weights``, else 1). An optional calibration of the combination is applied to it.

Three-way verdict, first match wins for "uncertain":

- the combined probability lies in the closed band ``uncertain_band`` (default [0.35, 0.65]);
- members disagree strongly: at least one on each side of 0.5 (>= 0.5 counts as fake) and the highest
  minus the lowest probability is at least ``disagreement_spread`` (default 0.5); members of weight 0 are
  reported but have no say, in the score or here;
- the robustness self-test says unstable (see robustness.py).

Otherwise "fake" above the band, "real" below it. ``is_fake`` and ``confidence`` keep their documented
meaning and derive from the combined probability alone (is_fake: >= 0.5). A missing face adds a reason
but does not by itself make the verdict uncertain. Each member gets a band: "likely fake" above the
band, "likely real" below it, "uncertain" within it.

Video (``video_segments``): contiguous runs of equal per-frame verdicts become spans from the first to
the last measured time of the run (nothing is invented between measured points). The video is uncertain
when no frame has a fake/real verdict, when most frames are uncertain, or when the fake frames' share of
the frames judged fake or real lies within ``EVEN_SPLIT_MARGIN`` (0.15) of one half. The engine adds one rule: a
video whose members disagree over the whole video (``disagreement`` of their mean probabilities) is
uncertain too, with that reason first.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping, Sequence

from .calibration import Calibration
from .robustness import Stability
from .verdicts import confidence_of

Verdict = Literal["fake", "uncertain", "real"]
Band = Literal["likely fake", "uncertain", "likely real"]

CLIP = 1e-4
EVEN_SPLIT_MARGIN = 0.15
SINGLE_FACE = {
    "fake": "the face looks manipulated",
    "real": "the face looks real",
    "uncertain": "the face is uncertain",
}
NO_FACE_REASON = "no face found: the whole image was judged, which is less reliable"


@dataclass(frozen=True)
class EnsembleSettings:
    """The combination's knobs; ValueError when they make no sense."""

    uncertain_band: tuple[float, float] = (0.35, 0.65)
    disagreement_spread: float = 0.5
    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        low, high = self.uncertain_band
        if not 0.0 <= low <= 0.5 <= high <= 1.0:
            raise ValueError(f"uncertain_band must satisfy 0 <= low <= 0.5 <= high <= 1, got {self.uncertain_band}")
        if not 0.0 < self.disagreement_spread <= 1.0:
            raise ValueError(f"disagreement_spread must be in (0, 1], got {self.disagreement_spread}")
        for key, weight in self.weights.items():
            if not (math.isfinite(weight) and weight >= 0.0):
                raise ValueError(f"weight of {key!r} must be a finite number >= 0, got {weight}")

    def band(self, probability: float) -> Band:
        """A probability's band: likely fake above uncertain_band, likely real below, else uncertain."""
        low, high = self.uncertain_band
        if probability > high:
            return "likely fake"
        if probability < low:
            return "likely real"
        return "uncertain"


@dataclass(frozen=True)
class MemberResult:
    """One model's answer on the media: raw and (when calibrated) calibrated fake probability."""

    key: str
    name: str
    raw_probability: float
    calibrated_probability: float | None = None
    weight: float | None = None  # None: EnsembleSettings.weights, else 1

    @property
    def probability(self) -> float:
        """The probability the ensemble uses: calibrated when available, else raw."""
        return self.raw_probability if self.calibrated_probability is None else self.calibrated_probability


@dataclass(frozen=True)
class MemberVerdict:
    """A member as reported: its probabilities, weight and band."""

    key: str
    name: str
    raw_probability: float
    calibrated_probability: float | None
    probability: float
    weight: float
    band: Band


@dataclass(frozen=True)
class EnsembleVerdict:
    """The combined answer: probability, three-way verdict, reasons in plain words, and every member."""

    fake_probability: float
    verdict: Verdict
    reasons: list[str]
    members: list[MemberVerdict]
    calibrated: bool  # every member's probability was calibrated
    is_fake: bool
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)


def pct(probability: float) -> str:
    """A probability as a whole percentage ("92%"); never 0% or 100% unless it is exactly 0 or 1."""
    value = round(probability * 100)
    if value == 100 and probability < 1.0:
        value = 99
    elif value == 0 and probability > 0.0:
        value = 1
    return f"{value}%"


def _log_odds(p: float) -> float:
    q = min(max(p, CLIP), 1.0 - CLIP)
    return math.log(q) - math.log1p(-q)


def combine_probabilities(probabilities: Sequence[float], weights: Sequence[float]) -> float:
    """Logistic of the weighted mean of the clipped log-odds (the rule in the module docstring)."""
    if not probabilities or len(probabilities) != len(weights):
        raise ValueError("need one weight per probability, and at least one probability")
    total = sum(weights)
    if not total > 0.0:
        raise ValueError("the weights must not all be 0")
    z = sum(w * _log_odds(p) for p, w in zip(probabilities, weights)) / total
    return 1.0 / (1.0 + math.exp(-z))


def _disagreement(members: Sequence[MemberVerdict], settings: EnsembleSettings) -> str | None:
    members = [m for m in members if m.weight > 0.0]  # a member weighted out has no say
    fake_side = [m for m in members if m.probability >= 0.5]
    real_side = [m for m in members if m.probability < 0.5]
    if not fake_side or not real_side:
        return None
    spread = max(m.probability for m in members) - min(m.probability for m in members)
    if spread < settings.disagreement_spread:
        return None
    ranked = sorted(members, key=lambda m: -m.probability)
    return "models disagree: " + ", ".join(f"{m.name} {pct(m.probability)} fake" for m in ranked)


def combine(
    members: Sequence[MemberResult],
    settings: EnsembleSettings | None = None,
    *,
    robustness: Stability | None = None,
    face_found: bool = True,
    calibration: Calibration | None = None,
) -> EnsembleVerdict:
    """The ensemble verdict of the members' results (rule and thresholds: module docstring)."""
    settings = settings or EnsembleSettings()
    if not members:
        raise ValueError("an ensemble needs at least one member result")
    reported = []
    for m in members:
        weight = m.weight if m.weight is not None else settings.weights.get(m.key, 1.0)
        if not (math.isfinite(weight) and weight >= 0.0):
            raise ValueError(f"weight of {m.key!r} must be a finite number >= 0, got {weight}")
        for value in (m.raw_probability, m.calibrated_probability):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"probabilities of {m.key!r} must lie in [0, 1], got {value}")
        reported.append(
            MemberVerdict(
                key=m.key,
                name=m.name,
                raw_probability=float(m.raw_probability),
                calibrated_probability=None if m.calibrated_probability is None else float(m.calibrated_probability),
                probability=float(m.probability),
                weight=float(weight),
                band=settings.band(m.probability),
            )
        )
    combined = combine_probabilities([m.probability for m in reported], [m.weight for m in reported])
    if calibration is not None:
        combined = calibration.apply(combined)

    what = "the combined score" if len(reported) > 1 else "the score"
    reasons: list[str] = []
    if settings.band(combined) == "uncertain":
        reasons.append(f"{what} is close to the middle ({pct(combined)} fake)")
    disagreement = _disagreement(reported, settings)
    if disagreement:
        reasons.append(disagreement)
    if robustness is not None and not robustness.stable:
        reasons.extend(robustness.reasons())
    if reasons:
        verdict: Verdict = "uncertain"
    else:
        verdict = "fake" if combined >= 0.5 else "real"
        reasons.append(f"{what} is {pct(combined)} fake")
    if not face_found:
        reasons.append(NO_FACE_REASON)
    return EnsembleVerdict(
        fake_probability=combined,
        verdict=verdict,
        reasons=reasons,
        members=reported,
        calibrated=all(m.calibrated_probability is not None for m in reported),
        is_fake=combined >= 0.5,
        confidence=confidence_of(combined),
    )


# --- video ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A contiguous span of sampled frames with the same verdict, from its first to its last frame time."""

    start: float
    end: float
    verdict: Verdict


@dataclass(frozen=True)
class VideoSummary:
    """A video's spans, its share of fake frames, and the verdict with its reasons."""

    segments: list[Segment]
    fake_share: float  # fake frames / all sampled frames
    verdict: Verdict
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return asdict(self)

    def text(self) -> str:
        """The segments in plain words, e.g. "fake 0-6 s, real 7-9 s"."""
        return ", ".join(f"{s.verdict} {_seconds(s.start)}-{_seconds(s.end)} s" for s in self.segments)


def _seconds(t: float) -> str:
    return f"{t:.1f}".rstrip("0").rstrip(".")


def _frame_verdict(value: str | bool) -> Verdict:
    if isinstance(value, bool):
        return "fake" if value else "real"
    if value in ("fake", "uncertain", "real"):
        return value  # type: ignore[return-value]  # narrowed by the membership test
    raise ValueError(f"a frame verdict must be 'fake', 'uncertain', 'real' or a bool, got {value!r}")


def disagreement(verdict: EnsembleVerdict, settings: EnsembleSettings | None = None) -> str | None:
    """The "models disagree: ..." reason of a combined verdict's members, or None when they do not disagree."""
    return _disagreement(verdict.members, settings or EnsembleSettings())


def video_segments(
    times: Sequence[float], verdicts: Sequence[str | bool], *, even_split_margin: float = EVEN_SPLIT_MARGIN
) -> VideoSummary:
    """Spans, fake share and the video's verdict from per-frame times and verdicts (bool: is_fake)."""
    if len(times) != len(verdicts):
        raise ValueError(f"{len(times)} times but {len(verdicts)} verdicts")
    if any(b < a for a, b in zip(times, times[1:])):
        raise ValueError("frame times must not decrease")
    frames = [_frame_verdict(v) for v in verdicts]
    segments: list[Segment] = []
    for t, v in zip(times, frames):
        if segments and segments[-1].verdict == v:
            segments[-1] = Segment(segments[-1].start, float(t), v)
        else:
            segments.append(Segment(float(t), float(t), v))
    fake, real = frames.count("fake"), frames.count("real")
    total = len(frames)
    if total == 0:
        return VideoSummary([], 0.0, "uncertain", ["no frame was judged"])
    fake_share = fake / total
    decided = fake + real
    if decided == 0 or (total - decided) * 2 > total:
        return VideoSummary(
            segments, fake_share, "uncertain", [f"most frames are uncertain ({total - decided} of {total})"]
        )
    decided_share = fake / decided
    if abs(decided_share - 0.5) <= even_split_margin:
        reason = f"the frames split nearly evenly: {fake} fake, {real} real"
        return VideoSummary(segments, fake_share, "uncertain", [reason])
    verdict: Verdict = "fake" if decided_share > 0.5 else "real"
    return VideoSummary(segments, fake_share, verdict, [f"{fake} of {total} frames judged fake"])


# --- faces ------------------------------------------------------------------------------------------


def face_summary(verdicts: Sequence[str | bool]) -> str:
    """How many faces were flagged, e.g. "1 of 2 faces looks manipulated" (bool: is_fake)."""
    faces = [_frame_verdict(v) for v in verdicts]
    if not faces:
        return "no face found"
    fake, unsure, total = faces.count("fake"), faces.count("uncertain"), len(faces)
    if total == 1:
        return SINGLE_FACE[faces[0]]
    if fake == 0:
        text = f"none of the {total} faces looks manipulated"
    else:
        text = f"{fake} of {total} faces {'looks' if fake == 1 else 'look'} manipulated"
    if unsure:
        text += f" ({unsure} uncertain)"
    return text
