"""Turn bytes, paths, PIL images or arrays into a validated RGB array."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import InvalidMediaError
from .memory import large_decode

ImageSource = bytes | bytearray | memoryview | str | os.PathLike[str] | Image.Image | np.ndarray

# EXIF orientation -> the transpose that makes the image upright (what ImageOps.exif_transpose applies).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS = {5, 6, 7, 8}


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidMediaError("The image has no pixels.")
    if width * height > max_pixels:
        raise InvalidMediaError(
            f"The image is too large ({width}x{height} pixels; the limit is {max_pixels:,} pixels)."
        )


@dataclass
class LoadedImage:
    """A decoded upright RGB array, possibly reduced, and the upright size of the original in pixels."""

    rgb: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> tuple[float, float]:
        """(x, y) factors from rgb's pixels to the original's."""
        return self.width / self.rgb.shape[1], self.height / self.rgb.shape[0]


def fit_within(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """size (width, height) shrunk, keeping its aspect ratio, so that its long side is at most max_side."""
    width, height = size
    if not max_side or max(width, height) <= max_side:
        return width, height
    factor = max_side / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _from_array(array: np.ndarray, max_pixels: int, max_side: int | None) -> LoadedImage:
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InvalidMediaError(f"Expected an RGB array of shape (H, W, 3), got {array.shape}.")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and np.nanmax(array) <= 1.0:
            array = array * 255.0
        array = np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
    height, width = array.shape[:2]
    _check_size(width, height, max_pixels)
    rgb = np.ascontiguousarray(array[:, :, :3])
    reduced = fit_within((width, height), max_side)
    if reduced != (width, height):
        rgb = cv2.resize(rgb, reduced, interpolation=cv2.INTER_AREA)
    return LoadedImage(rgb, width, height)


def _from_pil(
    image: Image.Image, max_pixels: int, max_side: int | None, *, owned: bool, decode_limit: int
) -> LoadedImage:
    """Decode (reduced when larger than max_side, see load_image), make upright and RGB.

    owned: the image was opened here, so it may be drafted and closed; a caller's image is left as it is.
    """
    _check_size(image.width, image.height, max_pixels)
    original = image
    try:
        with large_decode(image.width * image.height, limit=decode_limit):
            # Read before any reduction; inside the slot, as PNG's getexif decodes the whole image.
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            width, height = (image.height, image.width) if orientation in _SIDEWAYS else image.size
            reduced = fit_within(image.size, max_side)
            if reduced != image.size:
                # JPEG: decode at 1/2, 1/4 or 1/8 scale straight away (never the full-size pixels).
                drafted = image.draft(None, reduced) if owned else None
                small = image.resize(
                    reduced, Image.Resampling.BICUBIC, box=drafted[1] if drafted else None, reducing_gap=1.5
                )
                method = _TRANSPOSE.get(orientation)
                image = small.transpose(method) if method is not None else small
            else:
                image.load()
                image = ImageOps.exif_transpose(image) or image
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                # Transparent pixels become white, as a viewer would show them, not black.
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            rgb = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
            del image
            if owned:
                original.close()  # frees the decoded pixels now, inside the slot and before the trim
        return LoadedImage(rgb, width, height)
    except InvalidMediaError:
        raise
    except Exception as exc:  # PIL plugins raise many types on bad data (OSError, struct.error, ...)
        raise InvalidMediaError(f"The image is truncated or corrupt ({type(exc).__name__}: {exc}).") from None


def load_image(
    source: ImageSource, *, max_pixels: int, max_side: int | None = None, decode_limit: int = 2
) -> LoadedImage:
    """Decode source to an upright RGB array whose long side is at most max_side; InvalidMediaError if bad.

    Larger images are reduced while decoding: JPEGs are decoded at 1/2, 1/4 or 1/8 scale (PIL's draft
    mode), other formats are decoded and shrunk at once. At most decode_limit decodes of images over
    memory.LARGE_DECODE_PIXELS run at the same time in the process, and freed memory is handed back to
    the OS after each. width and height are the original's (upright), whatever the reduction.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels, max_side)
    if isinstance(source, Image.Image):
        return _from_pil(source, max_pixels, max_side, owned=False, decode_limit=decode_limit)
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
        return _from_pil(image, max_pixels, max_side, owned=True, decode_limit=decode_limit)


def load_rgb(source: ImageSource, *, max_pixels: int) -> np.ndarray:
    """Decode source to an (H, W, 3) uint8 RGB array at full size, upright per EXIF; InvalidMediaError if bad."""
    return load_image(source, max_pixels=max_pixels).rgb
