"""Upload checks: the extension is allowed AND the content decodes as what the extension claims."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from PIL import Image as PILImage

from ...engine import InvalidMediaError
from ..domain_errors import InvalidInput, InvalidMedia, TooLarge
from ..serialization import size_text

# Extension -> the PIL format names its content may have.
IMAGE_FORMATS = {
    "jpg": {"JPEG", "MPO"},
    "jpeg": {"JPEG", "MPO"},
    "png": {"PNG"},
    "webp": {"WEBP"},
    "bmp": {"BMP"},
    "gif": {"GIF"},
}
# Extension -> the FFmpeg demuxer names its content may have.
VIDEO_FORMATS = {
    "mp4": {"mp4", "mov"},
    "m4v": {"mp4", "mov"},
    "mov": {"mov", "mp4"},
    "avi": {"avi"},
    "mkv": {"matroska"},
    "webm": {"webm", "matroska"},
}
VIDEO_EXTENSIONS = set(VIDEO_FORMATS)
# Frames per second the live camera may send (the web app offers these), and the one it starts with.
CAMERA_FRAME_RATES = (0.5, 1, 2)
CAMERA_DEFAULT_FRAME_RATE = 1
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(;[\w-]+=[\w.-]+)*;base64,", re.IGNORECASE)


def client_limits(*, max_image_size: int, max_video_size: int, camera_retention_days: int | None) -> dict:
    """What a client may send, from the values the checks themselves use (so a page never hard-codes them).

    The camera part also says how long analysed frames are kept (days; None: until the user deletes them).
    """
    return {
        "image": {"max_bytes": max_image_size, "extensions": list(IMAGE_FORMATS)},
        "video": {"max_bytes": max_video_size, "extensions": list(VIDEO_FORMATS)},
        # A camera frame is an image after base64 decoding: the image limit applies to its bytes.
        "camera": {
            "max_bytes": max_image_size,
            "frame_rates": list(CAMERA_FRAME_RATES),
            "default_rate": CAMERA_DEFAULT_FRAME_RATE,
            "retention_days": camera_retention_days,
        },
    }


def check_image_extension(extension: str) -> None:
    """400 unless the extension is an allowed image type."""
    if extension not in IMAGE_FORMATS:
        allowed = ", ".join(sorted(IMAGE_FORMATS))
        raise InvalidMedia(
            f"Unsupported image type '.{extension}'. Allowed: {allowed}"
            if extension
            else f"The image file needs an extension. Allowed: {allowed}"
        )


def check_video_extension(extension: str) -> None:
    """400 unless the extension is an allowed video type."""
    if extension not in VIDEO_EXTENSIONS:
        allowed = ", ".join(sorted(VIDEO_EXTENSIONS))
        raise InvalidMedia(
            f"Unsupported video type '.{extension}'. Allowed: {allowed}"
            if extension
            else f"The video file needs an extension. Allowed: {allowed}"
        )


def check_image_content(data: bytes, *, extension: str) -> None:
    """400 when the bytes are empty or are not the image format the extension claims.

    Only the header is read here; full decoding (truncation, bombs) is the engine's job.
    """
    if not data:
        raise InvalidMedia("The uploaded image is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with PILImage.open(io.BytesIO(data)) as image:
                actual = image.format
        except PILImage.DecompressionBombError:
            raise InvalidMedia("The image is too large (decompression bomb)") from None
        except Exception:
            raise InvalidMedia("The uploaded file is not a valid image") from None
    if actual not in IMAGE_FORMATS[extension]:
        raise InvalidMedia(f"The file content is {actual}, not the .{extension} image its name claims")


def check_video_content(path, *, extension: str, engine) -> None:
    """400 unless the file is the container its extension claims, with a decodable frame (engine probe)."""
    try:
        probe = engine.probe_video(path)
    except InvalidMediaError as exc:
        raise InvalidMedia(exc.message) from None
    if not set(probe.format_names) & VIDEO_FORMATS[extension]:
        raise InvalidMedia(f"The file content is not a .{extension} video")
    if not probe.first_frame_decodes:
        raise InvalidMedia("The video has no decodable frame.")


def decode_base64_image(value: str, *, limit: int) -> bytes:
    """Bytes of a data URL or bare base64 string; 400 when malformed, 413 past ``limit``."""
    match = _DATA_URL.match(value)
    if match:
        mime = (match.group("mime") or "").lower()
        if mime and not mime.startswith("image/"):
            raise InvalidInput(f"The data URL must hold an image, not {mime}")
        value = value[match.end() :]
    elif value.startswith("data:"):
        raise InvalidInput("Malformed data URL: expected data:image/...;base64,<data>")
    value = "".join(value.split())
    # Base64 is 4/3 of the bytes: refuse before decoding something huge.
    if len(value) * 3 // 4 > limit:
        raise TooLarge(f"Camera frame too large: the limit is {size_text(limit)}")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("The image is not valid base64") from None
    if not data:
        raise InvalidMedia("The camera frame is empty")
    return data
