"""Score folders of labelled images (real/, fake/) with one model: the examples a calibration is fitted on."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .calibration import Calibration
from .engine import DetectionEngine
from .errors import EngineError

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
) -> LabelledScores:
    """Every image of real_dir (label 0) and fake_dir (label 1) through the model, as detect_image judges it."""
    scores = LabelledScores(model_key=engine.model(model_key).key)
    for label, folder in ((0, real_dir), (1, fake_dir)):
        for path in image_files(folder):
            try:
                verdict = engine.detect_image(path, model_key=scores.model_key)
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
