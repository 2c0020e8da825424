"""Calibration of raw fake probabilities: fitted on labelled scores, it lowers Brier score and ECE on held-out ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from deepfake_detection.engine.calibration import (
    ISOTONIC_MIN_PER_CLASS,
    MIN_PER_CLASS,
    Calibration,
    CalibrationError,
    brier_score,
    expected_calibration_error,
    reliability_bins,
)
from deepfake_detection.engine.calibration_fit import fit_calibration
from tests.support import media, tiny_models


def _labelled_scores(engine, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The tiny dima806 model's raw scores on real photos and on fakes with a weak-to-medium magenta cast.

    Trained on casts of strength 0.3-0.6, it is over-confident out of that range: it says ~0% fake on
    many weak fakes, and ~100% on the ones it sees, which is what calibration is for.
    """
    rng = np.random.default_rng(seed)
    bases = tiny_models._base_images()
    images, labels = [], []
    for i in range(count):
        fake = i % 2 == 1
        img = bases[rng.integers(0, len(bases))]
        if fake:
            img = media.tint(img, strength=rng.uniform(0.0, 0.35))
        images.append(tiny_models._augment(img, rng))
        labels.append(int(fake))
    return engine.classifier("dima806").fake_probabilities(images).astype(np.float64), np.array(labels)


@pytest.fixture(scope="module")
def real_scores(engine):
    """(fit set of 400, held-out set of 600) raw scores and labels of a real tiny model."""
    return _labelled_scores(engine, 400, seed=21), _labelled_scores(engine, 600, seed=22)


def _overconfident(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic scores of an over-confident detector: the true log-odds tripled and shifted towards 'fake'."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    true_log_odds = rng.normal(np.where(labels == 1, 1.0, -1.0), 1.2)
    raw = 1.0 / (1.0 + np.exp(-(3.0 * true_log_odds + 1.0)))
    return raw, labels


@pytest.mark.parametrize("method, expected", [("auto", "isotonic"), ("platt", "platt")])
def test_a_real_tiny_model_s_calibration_lowers_brier_and_ece_on_held_out_images(real_scores, method, expected):
    (p, y), (held_p, held_y) = real_scores
    calibration = fit_calibration(p, y, method=method)
    assert calibration.method == expected
    assert (calibration.n_real, calibration.n_fake) == (200, 200)
    # The cross-validated figures the calibration carries.
    assert calibration.brier_after < 0.8 * calibration.brier_before
    assert calibration.ece_after < 0.5 * calibration.ece_before
    # And on 600 images it never saw.
    brier_before, brier_after = brier_score(held_p, held_y), brier_score(calibration.apply(held_p), held_y)
    ece_before = expected_calibration_error(held_p, held_y)
    ece_after = expected_calibration_error(calibration.apply(held_p), held_y)
    assert brier_before > 0.12 and ece_before > 0.12  # measured: 0.151 and 0.155
    assert brier_after < 0.8 * brier_before and brier_after < 0.11  # measured: 0.092 (isotonic)
    assert ece_after < 0.5 * ece_before and ece_after < 0.08  # measured: 0.055 (isotonic)


def test_an_overconfident_score_distribution_is_corrected_by_both_methods():
    p, y = _overconfident(600, seed=1)
    held_p, held_y = _overconfident(4000, seed=2)
    before = brier_score(held_p, held_y), expected_calibration_error(held_p, held_y)
    assert before[0] == pytest.approx(0.163, abs=0.005) and before[1] == pytest.approx(0.118, abs=0.005)
    for method in ("platt", "isotonic"):
        calibration = fit_calibration(p, y, method=method)
        calibrated = calibration.apply(held_p)
        after = brier_score(calibrated, held_y), expected_calibration_error(calibrated, held_y)
        # Measured: Brier 0.140 (Platt) and 0.141 (isotonic); ECE 0.020 and 0.023.
        assert after[0] < 0.145, method
        assert after[1] < 0.03, method
        assert calibration.ece_after < calibration.ece_before and calibration.brier_after < calibration.brier_before


def test_platt_is_chosen_below_the_isotonic_threshold_and_isotonic_from_it():
    p, y = _overconfident(2000, seed=3)
    real, fake = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    few = np.concatenate([real[: ISOTONIC_MIN_PER_CLASS - 1], fake[:300]])
    enough = np.concatenate([real[:ISOTONIC_MIN_PER_CLASS], fake[:ISOTONIC_MIN_PER_CLASS]])
    assert fit_calibration(p[few], y[few]).method == "platt"
    assert fit_calibration(p[enough], y[enough]).method == "isotonic"
    with pytest.raises(CalibrationError, match="isotonic calibration needs at least 200 examples of each class"):
        fit_calibration(p[few], y[few], method="isotonic")


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_is_monotone_within_0_and_1(method):
    p, y = _overconfident(800, seed=4)
    calibration = fit_calibration(p, y, method=method)
    grid = np.linspace(0.0, 1.0, 2001)
    out = calibration.apply(grid)
    assert out.shape == grid.shape
    assert np.all(np.diff(out) >= 0.0)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out[-1] > out[0]  # it does separate
    assert isinstance(calibration.apply(0.7), float)
    assert calibration.apply(0.7) == pytest.approx(float(calibration.apply(np.array([0.7]))[0]))
    assert calibration.apply([0.0, 1.0]).shape == (2,)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_a_json_round_trip_gives_identical_outputs(method):
    p, y = _overconfident(800, seed=5)
    calibration = fit_calibration(p, y, method=method)
    stored = json.loads(json.dumps(calibration.to_dict()))
    restored = Calibration.from_dict(stored)
    assert restored == calibration
    grid = np.linspace(0.0, 1.0, 1001)
    assert np.array_equal(restored.apply(grid), calibration.apply(grid))
    assert stored["method"] == method and stored["n_real"] + stored["n_fake"] == 800
    assert set(stored) >= {"brier_before", "brier_after", "ece_before", "ece_after", "params", "evaluation"}
    if method == "platt":
        assert set(stored["params"]) == {"coef", "intercept"} and stored["params"]["coef"] > 0
    else:
        assert set(stored["params"]) == {"x", "y"} and len(stored["params"]["x"]) == len(stored["params"]["y"])


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0] * 50, "Calibration refused: all 50 examples are real. It needs both real and fake examples"),
        ([1] * 50, "Calibration refused: all 50 examples are fake."),
        ([0] * 19 + [1] * 31, r"too few examples \(19 real, 31 fake\)\. It needs at least 20 of each\."),
        ([0] * 40 + [1] * 10, r"too few examples \(40 real, 10 fake\)"),
    ],
)
def test_refuses_one_class_or_too_few_examples(labels, message):
    p = np.linspace(0.01, 0.99, len(labels))
    with pytest.raises(CalibrationError, match=message) as err:
        fit_calibration(p, labels)
    assert err.value.message == str(err.value)


def test_the_minimum_is_enough():
    p, y = _overconfident(400, seed=6)
    real, fake = np.flatnonzero(y == 0)[:MIN_PER_CLASS], np.flatnonzero(y == 1)[:MIN_PER_CLASS]
    chosen = np.concatenate([real, fake])
    calibration = fit_calibration(p[chosen], y[chosen])
    assert (calibration.n_real, calibration.n_fake, calibration.method) == (20, 20, "platt")


@pytest.mark.parametrize(
    "probabilities, labels, message",
    [
        ([0.5] * 40 + [1.5] * 40, [0] * 40 + [1] * 40, "between 0 and 1"),
        ([0.5] * 79 + [float("nan")], [0] * 40 + [1] * 40, "between 0 and 1"),
        ([0.5] * 80, [0] * 40 + [2] * 40, "labels must be 0 \\(real\\) or 1 \\(fake\\)"),
        ([0.5] * 80, [0] * 40 + [0.5] * 40, "labels must be 0"),
        ([0.5] * 80, [0] * 40, "80 scores but 40 labels"),
        ([0.5] * 80, ["0"] * 40 + ["1"] * 40, "labels must be 0"),
        ([0.5] * 80, [0] * 40 + [float("nan")] * 40, "labels must be 0"),
    ],
)
def test_refuses_bad_examples(probabilities, labels, message):
    with pytest.raises(CalibrationError, match=message):
        fit_calibration(probabilities, labels)


def test_refuses_scores_that_fall_with_fakeness():
    p, y = _overconfident(400, seed=7)
    with pytest.raises(CalibrationError, match="scores do not rise with fakeness"):
        fit_calibration(1.0 - p, y, method="platt")


def test_boolean_labels_are_accepted():
    p, y = _overconfident(300, seed=8)
    assert fit_calibration(p, y.astype(bool)) == fit_calibration(p, y)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"format": 99},
        {"format": 1, "method": "magic", "params": {}},
        {"format": 1, "method": "platt", "params": {"coef": -1.0, "intercept": 0.0}},
        {"format": 1, "method": "isotonic", "params": {"x": [0.0, 1.0], "y": [1.0, 0.0]}},
    ],
)
def test_unreadable_stored_calibrations_are_refused(broken):
    stored = {"n_real": 20, "n_fake": 20, "brier_before": 0.2, "brier_after": 0.1, "ece_before": 0.2}
    stored.update({"ece_after": 0.1, **broken})
    with pytest.raises(CalibrationError, match="The stored calibration cannot be read"):
        Calibration.from_dict(stored)


def test_metrics_on_known_numbers():
    p = np.array([0.05, 0.15, 0.95, 0.95])
    y = np.array([0, 1, 1, 0])
    assert brier_score(p, y) == pytest.approx((0.05**2 + 0.85**2 + 0.05**2 + 0.95**2) / 4)
    # Bins: [0, 0.1) holds 0.05 (rate 0), [0.1, 0.2) holds 0.15 (rate 1), [0.9, 1] holds both 0.95s (rate 0.5).
    assert expected_calibration_error(p, y) == pytest.approx(0.25 * 0.05 + 0.25 * 0.85 + 0.5 * 0.45)
    assert expected_calibration_error([1.0], [1]) == 0.0  # 1.0 falls in the last bin
    points = reliability_bins(p, y)
    assert [(pt["low"], pt["count"], pt["fake_rate"]) for pt in points] == [(0.0, 1, 0.0), (0.1, 1, 1.0), (0.9, 2, 0.5)]


def test_applying_a_calibration_does_not_load_scikit_learn():
    # Detection processes import calibration.py and ensemble.py; only fitting (calibration_fit.py) needs sklearn.
    code = (
        "import sys\n"
        "import deepfake_detection.engine.calibration, deepfake_detection.engine.ensemble\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
