"""Score folders of labelled images (real/, fake/) with one model or the ensemble: what a calibration is fitted on."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .calibration import Calibration
from .engine import DetectionEngine
from .errors import EngineError
from .registry import ENSEMBLE_KEY

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


@dataclass
class LabelledScores:
    """Raw fake probabilities with their labels (1 = fake), and the files that could not be scored."""

    model_key: str
    probabilities: list[float] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    @property
    def counts(self) -> tuple[int, int]:
        """(real, fake) examples scored."""
        fake = sum(self.labels)
        return len(self.labels) - fake, fake


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files under folder (recursively, sorted); other files are not examples."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def score_labelled_folders(
    engine: DetectionEngine,
    *,
    real_dir: str | os.PathLike[str],
    fake_dir: str | os.PathLike[str],
    model_key: str | None = None,
    member_calibrations: Mapping[str, Calibration] | None = None,
) -> LabelledScores:
    """Every image of real_dir (label 0) and fake_dir (label 1) through the model, as detect_image judges it.

    A model's score is its raw probability. The ensemble's is its combined probability with
    ``member_calibrations`` applied to the members (never a calibration of the combination: that is what
    these scores fit).
    """
    key = ENSEMBLE_KEY if model_key == ENSEMBLE_KEY else engine.model(model_key).key
    calibrations = {k: c for k, c in (member_calibrations or {}).items() if k != ENSEMBLE_KEY}
    scores = LabelledScores(model_key=key)
    for label, folder in ((0, real_dir), (1, fake_dir)):
        for path in image_files(folder):
            try:
                if key == ENSEMBLE_KEY:
                    verdict = engine.detect_image(path, model_key=key, calibrations=calibrations)
                else:
                    verdict = engine.detect_image(path, model_key=key)
            except EngineError as exc:
                scores.skipped.append((str(path), exc.message))
                continue
            scores.probabilities.append(verdict.fake_probability)
            scores.labels.append(label)
    return scores


def calibration_summary(calibration: Calibration) -> str:
    """One line for people: method, examples, and Brier score and ECE before and after."""
    return (
        f"{calibration.method} calibration from {calibration.n_real} real and {calibration.n_fake} fake examples: "
        f"Brier score {calibration.brier_before:.4f} -> {calibration.brier_after:.4f}, "
        f"ECE {calibration.ece_before:.4f} -> {calibration.ece_after:.4f} ({calibration.evaluation})"
    )
