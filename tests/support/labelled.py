"""Labelled example images for calibration tests: graded strengths of the tiny models' cue, classes overlapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import media


def labelled_image(fake: bool, index: int) -> Image.Image:
    """A small no-face photo; fakes carry more of the tiny models' magenta cue, with overlap between the classes."""
    rng = np.random.default_rng(index + (1000 if fake else 0))
    strength = rng.uniform(0.15, 0.6) if fake else rng.uniform(0.0, 0.3)
    rgb = np.asarray(media.no_face_image(False).resize((120, 80)))
    return Image.fromarray(media.tint(rgb, strength))


def write_labelled_folders(root: Path, per_class: int) -> tuple[Path, Path]:
    """root/real and root/fake with per_class PNGs each; returns both folders."""
    folders = []
    for label in ("real", "fake"):
        folder = root / label
        folder.mkdir(parents=True)
        for index in range(per_class):
            labelled_image(label == "fake", index).save(folder / f"{index}.png")
        folders.append(folder)
    return folders[0], folders[1]
