"""The agreement self-check: a fast backend must give fp32's verdicts, within a probability bound, on the real weights.

The images are generated with numpy (no file ships with the engine): colour gradients, white and
smooth (1/f) noise, checkerboards, colour blocks, and magenta- and green-cast variants, at several
sizes so the resize runs too. They are deterministic, so every machine checks the same inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

#: Default DEEPFAKE_AGREEMENT_MAX_GAP: largest fake-probability difference a fast path may show against fp32.
DEFAULT_MAX_GAP = 0.02


def _smooth_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Colour noise with a 1/f spectrum: closer to a photograph's statistics than white noise."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / size)
    channels = []
    for _ in range(3):
        spectrum = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) * falloff
        field = np.real(np.fft.ifft2(spectrum))
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-9)
        channels.append(field)
    image: np.ndarray = (np.stack(channels, axis=-1) * 255).astype(np.uint8)
    return image


def _gradient(
    size: tuple[int, int], start: tuple[int, int, int], end: tuple[int, int, int], angle: float
) -> np.ndarray:
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.cos(angle) * xx / max(width - 1, 1) + np.sin(angle) * yy / max(height - 1, 1)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
    colour = np.asarray(start, np.float32) + t[..., None] * (np.asarray(end, np.float32) - np.asarray(start))
    image: np.ndarray = colour.clip(0, 255).astype(np.uint8)
    return image


def _cast(image: np.ndarray, rgb: tuple[int, int, int], strength: float) -> np.ndarray:
    blended = image.astype(np.float32) * (1 - strength) + np.asarray(rgb, np.float32) * strength
    return blended.clip(0, 255).astype(np.uint8)


def generated_images(count: int = 24, *, seed: int = 20261130) -> list[np.ndarray]:
    """count deterministic RGB uint8 images of mixed content and size (the same on every machine)."""
    rng = np.random.default_rng(seed)
    images: list[np.ndarray] = []
    sizes = (32, 96, 224, 300)
    while len(images) < count:
        i = len(images)
        size = sizes[i % len(sizes)]
        kind = i % 6
        if kind == 0:
            colours = rng.integers(0, 256, (2, 3))
            img = _gradient((size, size), tuple(colours[0]), tuple(colours[1]), float(rng.uniform(0, np.pi)))
        elif kind == 1:
            img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        elif kind == 2:
            img = _smooth_noise(rng, size)
        elif kind == 3:
            cell = max(2, size // int(rng.integers(2, 9)))
            yy, xx = np.mgrid[0:size, 0:size]
            board = ((yy // cell + xx // cell) % 2).astype(np.float32)[..., None]
            a, b = rng.integers(0, 256, (2, 3))
            img = (board * a + (1 - board) * b).astype(np.uint8)
        elif kind == 4:
            img = np.zeros((size, size, 3), np.uint8)
            for _ in range(6):
                y0, x0 = rng.integers(0, size, 2)
                h, w = rng.integers(size // 8 + 1, size // 2 + 2, 2)
                img[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 256, 3)
        else:
            img = _smooth_noise(rng, size)
            img = _cast(img, (255, 0, 255) if rng.random() < 0.5 else (0, 200, 0), float(rng.uniform(0.2, 0.5)))
        images.append(np.ascontiguousarray(img))
    return images


def check_images() -> list[np.ndarray]:
    """The fixed self-check set."""
    return generated_images(24, seed=20261130)


def calibration_images() -> list[np.ndarray]:
    """Images for static int8 calibration (a different draw from the self-check set).

    96 rather than 32: with 32 the activation ranges were too narrow for photographs (a test photo
    moved by 0.022 on the tiny SigLIP model, against 0.004 with 96), the generated check images alone
    did not show it.
    """
    return generated_images(96, seed=7)


@dataclass(frozen=True)
class Agreement:
    """How a fast path compared with fp32 on the check images."""

    images: int
    verdicts_agree: int
    max_gap: float
    bound: float

    @property
    def passed(self) -> bool:
        return self.verdicts_agree == self.images and self.max_gap <= self.bound

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def describe(self) -> str:
        return (
            f"{self.verdicts_agree}/{self.images} verdicts agree with fp32, largest probability gap "
            f"{self.max_gap:.4f} (bound {self.bound})"
        )


def compare(reference: Sequence[float] | np.ndarray, fast: Sequence[float] | np.ndarray, *, bound: float) -> Agreement:
    """Agreement of fast against the fp32 reference probabilities (verdict: probability >= 0.5)."""
    expected = np.asarray(reference, dtype=np.float64)
    got = np.asarray(fast, dtype=np.float64)
    gap = float(np.max(np.abs(expected - got))) if len(expected) else 0.0
    if not np.all(np.isfinite(got)):
        gap = float("inf")
    agree = int(np.sum((expected >= 0.5) == (got >= 0.5)))
    return Agreement(images=len(expected), verdicts_agree=agree, max_gap=round(gap, 6), bound=bound)
