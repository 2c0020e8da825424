"""Fitting a calibration from labelled examples, with scikit-learn (see calibration.py for the rules).

Kept apart from calibration.py, and scikit-learn imported only when fitting (about 45 MB of RSS that a
server or worker which only detects never needs; tests/test_imports.py): detection needs just the stored
map, which calibration.py applies with numpy.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .calibration import (
    CV_FOLDS,
    CV_SEED,
    ISOTONIC_MIN_PER_CLASS,
    MIN_PER_CLASS,
    Calibration,
    CalibrationError,
    FloatArray,
    Method,
    apply_params,
    brier_score,
    expected_calibration_error,
    logit,
)

# Weak L2 penalty: Platt's two numbers are fitted, not shrunk (sklearn's default C=1 would pull the slope to 0).
PLATT_C = 1e4


def _fit_params(method: Method, p: FloatArray, y: NDArray[np.int_]) -> dict[str, Any]:
    # Imported here, not at the top: see the module docstring.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if method == "platt":
        model = LogisticRegression(C=PLATT_C, solver="lbfgs", max_iter=1000)
        model.fit(logit(p).reshape(-1, 1), y)
        coef, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
        if not coef > 0:
            raise CalibrationError(
                "Calibration refused: the model's scores do not rise with fakeness on these examples "
                "(higher scores are not more often fake), so no increasing calibration fits them. "
                "Check that the real and fake examples are not swapped."
            )
        return {"coef": coef, "intercept": intercept}
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.clip(p, 0.0, 1.0), y)
    return {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}


def _validated(probabilities: ArrayLike, labels: ArrayLike) -> tuple[FloatArray, NDArray[np.int_]]:
    try:
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        raw_labels = np.asarray(labels).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"Calibration refused: the scores and labels must be numbers ({exc}).") from exc
    if p.shape != raw_labels.shape:
        raise CalibrationError(
            f"Calibration refused: {p.size} scores but {raw_labels.size} labels; give one label per score."
        )
    if not np.all(np.isfinite(p)) or np.any((p < 0.0) | (p > 1.0)):
        raise CalibrationError("Calibration refused: every raw fake probability must be a number between 0 and 1.")
    if raw_labels.dtype.kind not in "biuf" or not np.all(np.isin(raw_labels, (0, 1))):
        raise CalibrationError("Calibration refused: labels must be 0 (real) or 1 (fake).")
    y: NDArray[np.int_] = raw_labels.astype(np.int_)
    return p, y


def fit_calibration(
    probabilities: ArrayLike, labels: ArrayLike, *, method: Method | Literal["auto"] = "auto"
) -> Calibration:
    """Fit a calibration of raw fake probabilities from labels (1 = fake, 0 = real); rules in calibration.py.

    Raises CalibrationError, with a message for the person who supplied the examples, when they cannot
    support a calibration; nothing is fitted then.
    """
    p, y = _validated(probabilities, labels)
    n_fake = int(y.sum())
    n_real = int(y.size - n_fake)
    if n_fake == 0 or n_real == 0:
        only = "real" if n_fake == 0 else "fake"
        raise CalibrationError(
            f"Calibration refused: all {y.size} examples are {only}. "
            f"It needs both real and fake examples, at least {MIN_PER_CLASS} of each."
        )
    if min(n_real, n_fake) < MIN_PER_CLASS:
        raise CalibrationError(
            f"Calibration refused: too few examples ({n_real} real, {n_fake} fake). "
            f"It needs at least {MIN_PER_CLASS} of each."
        )
    if method == "auto":
        chosen: Method = "isotonic" if min(n_real, n_fake) >= ISOTONIC_MIN_PER_CLASS else "platt"
    elif method == "isotonic" and min(n_real, n_fake) < ISOTONIC_MIN_PER_CLASS:
        raise CalibrationError(
            f"Calibration refused: isotonic calibration needs at least {ISOTONIC_MIN_PER_CLASS} examples of each "
            f"class ({n_real} real, {n_fake} fake given); use Platt scaling."
        )
    elif method in ("platt", "isotonic"):
        chosen = method
    else:
        raise CalibrationError(f"Unknown calibration method {method!r}: use auto, platt or isotonic.")

    from sklearn.model_selection import StratifiedKFold  # here, not at the top: see the module docstring

    out_of_fold = np.empty_like(p)
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=CV_SEED)
    for train, test in folds.split(p.reshape(-1, 1), y):
        out_of_fold[test] = apply_params(chosen, _fit_params(chosen, p[train], y[train]), p[test])
    params = _fit_params(chosen, p, y)
    return Calibration(
        method=chosen,
        n_real=n_real,
        n_fake=n_fake,
        brier_before=brier_score(p, y),
        brier_after=brier_score(out_of_fold, y),
        ece_before=expected_calibration_error(p, y),
        ece_after=expected_calibration_error(out_of_fold, y),
        params=params,
    )
