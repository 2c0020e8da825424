"""The interface every backend implements: RGB uint8 images in, one fake probability per image out."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Mapping

import numpy as np
import torch
from PIL import Image

from ..labels import fake_class_indices
from ..registry import ModelSpec

#: Every classifier alive in the process, for release_runtime_memory (weak: a dropped model is not kept).
_LIVE: "weakref.WeakSet[Classifier]" = weakref.WeakSet()


def release_runtime_memory() -> int:
    """Ask every live classifier's runtime to free its scratch memory; the number that did. Call only at rest."""
    return sum(bool(classifier.release_memory()) for classifier in list(_LIVE))


class Classifier:
    """A loaded image classifier that answers fake probabilities, batch by batch.

    Preprocessing (resize, rescale, normalise) and postprocessing (softmax, sum of the fake classes)
    are shared; a backend only supplies ``_forward`` (a float32 NCHW batch to float32 logits). Each
    image's probability must not depend on what else shares its batch, so callers (the dynamic
    batcher) may group any images up to ``max_batch``.
    """

    #: "runtime/precision", e.g. "pytorch/bf16" or "onnxruntime/int8-static": part of every verdict.
    backend: str = "pytorch/fp32"

    def __init__(
        self,
        spec: ModelSpec,
        id2label: Mapping[int | str, str],
        processor: Any,
        *,
        max_batch: int,
        input_dtype: torch.dtype = torch.float32,
        input_device: torch.device | None = None,
    ) -> None:
        self.spec = spec
        self.processor = processor
        self.max_batch = max_batch
        self._input_dtype = input_dtype
        self._input_device = input_device or torch.device("cpu")
        self.fake_indices = fake_class_indices(id2label, model_label=f"'{spec.key}' ({spec.model_id})")
        size = getattr(processor, "size", None) or {}
        get: Callable[[str], Any] = size.get if isinstance(size, dict) else lambda k: getattr(size, k, None)
        height, width = get("height"), get("width")
        self.input_size: tuple[int, int] | None = (int(width), int(height)) if height and width else None
        self._normalisation = self._plain_normalisation(processor)
        resample = getattr(processor, "resample", None)
        self._resample = Image.Resampling(int(Image.Resampling.BILINEAR if resample is None else resample))
        #: The agreement self-check that admitted this fast path (None for the fp32 reference itself).
        self.agreement: dict[str, Any] | None = None
        self.memory_releases = 0  # times the runtime freed its scratch memory at rest (release_memory)
        _LIVE.add(self)

    def release_memory(self) -> bool:
        """Free the runtime's scratch memory kept between passes, if it keeps any; True when it did."""
        return False

    @property
    def batch_size(self) -> int:
        """Images per forward pass (the same as max_batch; kept for callers that know it by this name)."""
        return self.max_batch

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.max_batch = value

    def _plain_normalisation(self, processor: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(scale*1/std, mean/std) when the processor only resizes, rescales and normalises, else None."""
        needed = ("do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std")
        if (
            self.input_size is None
            or getattr(processor, "do_center_crop", False)
            or getattr(processor, "do_pad", False)
            or not all(hasattr(processor, n) for n in needed)
        ):
            return None
        scale = float(processor.rescale_factor) if processor.do_rescale else 1.0
        mean = torch.tensor(processor.image_mean if processor.do_normalize else [0.0] * 3).view(1, 3, 1, 1)
        std = torch.tensor(processor.image_std if processor.do_normalize else [1.0] * 3).view(1, 3, 1, 1)
        return scale / std, mean / std

    def _resize(self, img: np.ndarray) -> np.ndarray:
        assert self.input_size is not None  # only called when the processor has a fixed size
        width, height = self.input_size
        if (img.shape[1], img.shape[0]) == (width, height):
            return img
        # PIL with the processor's own filter, as the processor resizes: OpenCV's INTER_AREA/INTER_CUBIC
        # moved fake probabilities by up to 0.026 against the processor's on the tiny test models.
        return np.asarray(Image.fromarray(img).resize((width, height), self._resample))

    def _preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        if self.input_size is not None:
            images = [self._resize(img) for img in images]
        if self._normalisation is not None:
            # Same arithmetic as the processor (rescale, then normalise) without its PIL round trip.
            factor, offset = self._normalisation
            batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() * factor - offset
        else:
            batch = self.processor(images=images, return_tensors="pt")["pixel_values"]
        return batch.to(self._input_device, dtype=self._input_dtype)

    def _forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """float32 logits for a preprocessed batch."""
        raise NotImplementedError

    def _postprocess(self, logits: torch.Tensor) -> np.ndarray:
        probs = logits.float().softmax(dim=-1)
        return probs[:, self.fake_indices].sum(dim=-1).clamp(0.0, 1.0).cpu().numpy()

    def fake_probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """Fake probability (0-1) for each RGB uint8 image, computed in batches of at most max_batch."""
        out = []
        for start in range(0, len(images), self.max_batch):
            chunk = images[start : start + self.max_batch]
            out.append(self._postprocess(self._forward(self._preprocess(chunk))))
        return np.concatenate(out) if out else np.zeros((0,), dtype=np.float32)

    def close(self) -> None:
        """Drop the runtime's resources (the object is unusable afterwards)."""
