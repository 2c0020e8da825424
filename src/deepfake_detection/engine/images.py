"""Turn bytes, paths, PIL images or arrays into a validated RGB array."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidMediaError

ImageSource = bytes | bytearray | memoryview | str | os.PathLike | Image.Image | np.ndarray


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidMediaError("The image has no pixels.")
    if width * height > max_pixels:
        raise InvalidMediaError(
            f"The image is too large ({width}x{height} pixels; the limit is {max_pixels:,} pixels)."
        )


def _from_array(array: np.ndarray, max_pixels: int) -> np.ndarray:
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InvalidMediaError(f"Expected an RGB array of shape (H, W, 3), got {array.shape}.")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and np.nanmax(array) <= 1.0:
            array = array * 255.0
        array = np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
    _check_size(array.shape[1], array.shape[0], max_pixels)
    return np.ascontiguousarray(array[:, :, :3])


def _from_pil(image: Image.Image, max_pixels: int) -> np.ndarray:
    _check_size(image.width, image.height, max_pixels)
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels become white, as a viewer would show them, not black.
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        rgb = image.convert("RGB")
        return np.asarray(rgb, dtype=np.uint8).copy()
    except InvalidMediaError:
        raise
    except Exception as exc:  # PIL plugins raise many types on bad data (OSError, struct.error, ...)
        raise InvalidMediaError(f"The image is truncated or corrupt ({type(exc).__name__}: {exc}).") from None


def load_rgb(source: ImageSource, *, max_pixels: int) -> np.ndarray:
    """Decode source to an (H, W, 3) uint8 RGB array, upright per EXIF; InvalidMediaError if bad."""
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    if isinstance(source, Image.Image):
        return _from_pil(source, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidMediaError(f"No such image file: {path.name}")
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        raise InvalidMediaError(f"Unsupported image source type {type(source).__name__}.")
    if not data:
        raise InvalidMediaError("The image is empty (0 bytes).")
    with warnings.catch_warnings():
        # Our own pixel limit applies; PIL's bomb warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise InvalidMediaError("The image is too large (decompression bomb).") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError):
            raise InvalidMediaError("The file is not a supported image.") from None
        except Exception as exc:  # any other parser failure on hostile headers
            raise InvalidMediaError(f"The file is not a supported image ({type(exc).__name__}).") from None
        try:
            image.seek(0)  # animated formats: the first frame
        except EOFError:
            pass
        return _from_pil(image, max_pixels)
