"""Calibration of a detector's raw fake probabilities: the stored map, applying it, and the metrics.

A detector's softmax output is a score, not a probability: out of its training data a "99%" may be
right far less often. ``calibration_fit.fit_calibration`` learns a monotone map from raw score to
calibrated probability (with scikit-learn) and measures, on examples the map was not fitted on, how much
it helps. This module holds what inference needs, with numpy only, so that a detecting process never
loads scikit-learn (about 45 MB of RSS and a second of import). The rules of ``fit_calibration``:

- Method: Platt scaling (a logistic regression on the logit of the raw probability) by default;
  isotonic regression when every class has at least ``ISOTONIC_MIN_PER_CLASS`` examples (it needs
  more data, and then follows any monotone shape). ``method=`` forces one.
- Refusal: ``CalibrationError`` with one class, fewer than ``MIN_PER_CLASS`` examples of a class,
  or scores that do not rise with fakeness (a Platt slope <= 0: the map would have to be reversed).
- Evaluation: stratified ``CV_FOLDS``-fold cross-validation (shuffled with a fixed seed, so
  deterministic): each example is calibrated by a map fitted without it, and the Brier score and the
  expected calibration error (``ECE_BINS`` equal-width bins, see ``expected_calibration_error``) of
  those out-of-fold predictions are reported next to the raw scores' own. The stored map is then
  fitted on all examples.
- Storage: ``Calibration.to_dict()``/``from_dict()`` give a JSON-safe dict (numbers and lists only, no
  pickle): Platt keeps coef and intercept, isotonic its threshold arrays.
- The ensemble's combination: a calibration of the combined probability also keeps its ``basis``, what
  the combined probabilities it was fitted on depended on (each member's key, the ``fingerprint()`` of the
  member calibration then in force or None, and the member's weight); the engine applies it only while
  the members, their calibrations and weights are the same (``DetectionEngine.ensemble_basis``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence, cast, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import EngineError

Method = Literal["platt", "isotonic"]

MIN_PER_CLASS = 20
ISOTONIC_MIN_PER_CLASS = 200
ECE_BINS = 10
CV_FOLDS = 5
CV_SEED = 0
# Raw probabilities are clipped to [EPS, 1 - EPS] before the logit: a softmax can round to exactly 0 or 1.
EPS = 1e-6
FORMAT_VERSION = 1


class CalibrationError(EngineError):
    """A calibration cannot be fitted from these examples, or a stored one cannot be read."""


FloatArray = NDArray[np.float64]


def logit(p: FloatArray) -> FloatArray:
    """Log-odds of probabilities clipped to [EPS, 1 - EPS]."""
    q = np.clip(p, EPS, 1.0 - EPS)
    return cast(FloatArray, np.log(q) - np.log1p(-q))


def brier_score(probabilities: ArrayLike, labels: ArrayLike) -> float:
    """Mean squared difference between the fake probability and the label (1 = fake); 0 is perfect."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2))


def _bin_index(p: FloatArray, bins: int) -> NDArray[np.intp]:
    # Bin b holds [b/bins, (b+1)/bins); the last bin also holds 1.0.
    return cast(NDArray[np.intp], np.minimum((p * bins).astype(np.intp), bins - 1))


def expected_calibration_error(probabilities: ArrayLike, labels: ArrayLike, bins: int = ECE_BINS) -> float:
    """ECE over equal-width bins of the fake probability: sum of (share of examples) x |fake rate - mean p| per bin."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = _bin_index(p, bins)
    total = 0.0
    for b in range(bins):
        inside = index == b
        if inside.any():
            total += float(inside.mean()) * abs(float(y[inside].mean()) - float(p[inside].mean()))
    return total


def reliability_bins(probabilities: ArrayLike, labels: ArrayLike, bins: int = ECE_BINS) -> list[dict[str, float]]:
    """The reliability chart's points: per non-empty bin, its range, count, mean probability and fake rate."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = _bin_index(p, bins)
    points = []
    for b in range(bins):
        inside = index == b
        if inside.any():
            points.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "count": float(inside.sum()),
                    "mean_probability": float(p[inside].mean()),
                    "fake_rate": float(y[inside].mean()),
                }
            )
    return points


@dataclass(frozen=True)
class Calibration:
    """A fitted map from raw fake probability to calibrated fake probability, with how it was measured."""

    method: Method
    n_real: int
    n_fake: int
    brier_before: float
    brier_after: float
    ece_before: float
    ece_after: float
    params: dict[str, Any] = field(repr=False)
    evaluation: str = f"stratified {CV_FOLDS}-fold cross-validation"
    # The combination's calibration only: what its combined probabilities depended on (module docstring).
    basis: dict[str, Any] | None = field(default=None, repr=False)

    @overload
    def apply(self, probabilities: float) -> float: ...
    @overload
    def apply(self, probabilities: Sequence[float] | FloatArray) -> FloatArray: ...
    def apply(self, probabilities: float | Sequence[float] | FloatArray) -> float | FloatArray:
        """Calibrated fake probabilities (monotone non-decreasing in the raw ones, within [0, 1])."""
        scalar = np.ndim(probabilities) == 0
        p = np.asarray(probabilities, dtype=np.float64)
        out = apply_params(self.method, self.params, p)
        return float(out) if scalar else out

    def fingerprint(self) -> str:
        """A short hash of the stored form: equal for equal calibrations, different when anything differs."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (plain numbers and lists), for the database."""
        stored: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "method": self.method,
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            "brier_before": self.brier_before,
            "brier_after": self.brier_after,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "evaluation": self.evaluation,
            "params": {k: (list(v) if isinstance(v, list) else v) for k, v in self.params.items()},
        }
        if self.basis is not None:
            stored["basis"] = json.loads(json.dumps(self.basis))
        return stored

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibration":
        """The calibration to_dict() described; CalibrationError when the dict is not one."""
        try:
            if data.get("format") != FORMAT_VERSION:
                raise ValueError(f"unknown format {data.get('format')!r}")
            method = data["method"]
            params = dict(data["params"])
            if method == "platt":
                params = {"coef": float(params["coef"]), "intercept": float(params["intercept"])}
                if not (math.isfinite(params["coef"]) and params["coef"] > 0 and math.isfinite(params["intercept"])):
                    raise ValueError("coef must be positive and finite")
            elif method == "isotonic":
                x = [float(v) for v in params["x"]]
                y = [float(v) for v in params["y"]]
                if len(x) != len(y) or not x or np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
                    raise ValueError("the isotonic thresholds must be non-decreasing and of equal length")
                params = {"x": x, "y": y}
            else:
                raise ValueError(f"unknown method {method!r}")
            basis = data.get("basis")
            if basis is not None and not isinstance(basis, dict):
                raise ValueError("the basis must be a mapping")
            return cls(
                method=method,
                n_real=int(data["n_real"]),
                n_fake=int(data["n_fake"]),
                brier_before=float(data["brier_before"]),
                brier_after=float(data["brier_after"]),
                ece_before=float(data["ece_before"]),
                ece_after=float(data["ece_after"]),
                params=params,
                evaluation=str(data.get("evaluation", cls.evaluation)),
                basis=basis,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"The stored calibration cannot be read: {exc}.") from exc


def apply_params(method: Method, params: dict[str, Any], p: FloatArray) -> FloatArray:
    """Calibrated probabilities of p under a method and its stored parameters."""
    if method == "platt":
        z = float(params["coef"]) * logit(p) + float(params["intercept"])
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
    x = np.asarray(params["x"], dtype=np.float64)
    y = np.asarray(params["y"], dtype=np.float64)
    # Linear between thresholds, flat beyond the ends: what IsotonicRegression(out_of_bounds="clip") predicts.
    return np.clip(np.interp(np.clip(p, 0.0, 1.0), x, y), 0.0, 1.0)
