"""Media factories shared by every test folder: real photos, tinted 'fakes', videos, bad inputs.

The tiny test models (tiny_models.py) are trained to call an image FAKE when it carries the
colour cast applied by tint(), and REAL otherwise.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

# The visible cue the tiny models learn: a strong magenta cast.
TINT_RGB = np.array([255.0, 0.0, 255.0], dtype=np.float32)
TINT_STRENGTH = 0.45


def tint(rgb: np.ndarray, strength: float = TINT_STRENGTH) -> np.ndarray:
    """Blend an RGB uint8 array towards magenta: the 'fake' cue of the tiny models."""
    out = rgb.astype(np.float32) * (1.0 - strength) + TINT_RGB * strength
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# Extra cues for the cue-trained models (cue_models.py): each of those models learns one of them.
GREEN_RGB = np.array([0.0, 255.0, 0.0], dtype=np.float32)
GREEN_STRENGTH = 0.45
# Per-pixel RGB step of the chroma checkerboard: luma-neutral (0.299*R + 0.587*G + 0.114*B = 0).
PATTERN_STEP = np.array([1.0, -(0.299 + 0.114) / 0.587, 1.0], dtype=np.float32)
PATTERN_AMPLITUDE = 40.0


def magenta_tint(rgb: np.ndarray, strength: float = TINT_STRENGTH) -> np.ndarray:
    """The magenta cue of the cue-trained models (the same cast as tint())."""
    return tint(rgb, strength=strength)


def green_tint(rgb: np.ndarray, strength: float = GREEN_STRENGTH) -> np.ndarray:
    """Blend an RGB uint8 array towards green: the cue of the cue-trained 'green' model."""
    out = rgb.astype(np.float32) * (1.0 - strength) + GREEN_RGB * strength
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def fine_pattern(rgb: np.ndarray, amplitude: float = PATTERN_AMPLITUDE) -> np.ndarray:
    """Add a one-pixel chroma checkerboard (luma unchanged): the fragile cue of the 'pattern' model.

    JPEG's 4:2:0 chroma subsampling averages every 2x2 block, in which the checkerboard sums to zero,
    so a JPEG re-compression (PIL encodes 4:2:0 by default; quality 70 here) erases it, and so does any
    downscale. Visible to a model only at its input size (32x32 for the tiny models).
    """
    h, w = rgb.shape[:2]
    sign = (np.indices((h, w)).sum(axis=0) % 2 * 2 - 1).astype(np.float32)[..., None]
    out = rgb.astype(np.float32) + sign * PATTERN_STEP * amplitude
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def small_face(size: int = 32) -> np.ndarray:
    """The astronaut's face crop scaled to size x size (the tiny models' input size), RGB uint8."""
    from PIL import Image as PILImage

    face = _astronaut()[20:220, 140:340]
    return np.array(PILImage.fromarray(face).resize((size, size), PILImage.Resampling.BOX))


@lru_cache(maxsize=None)
def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@lru_cache(maxsize=None)
def _coffee() -> np.ndarray:
    from skimage import data

    return data.coffee()


def face_photo(fake: bool = False, *, size: tuple[int, int] | None = None) -> Image.Image:
    """A real photo with one face (scikit-image's astronaut, 512x512), tinted when fake.

    size=(width, height) letterboxes it onto a grey canvas (e.g. (1280, 720) for a 720p photo).
    """
    rgb = _astronaut()
    if size is not None:
        rgb = _fit(rgb, size)
    return Image.fromarray(tint(rgb) if fake else rgb.copy())


def no_face_image(fake: bool = False) -> Image.Image:
    """A real photo without a face (scikit-image's coffee cup, 600x400), tinted when fake."""
    rgb = _coffee()
    return Image.fromarray(tint(rgb) if fake else rgb.copy())


def two_faces_photo(fake_right: bool = True) -> Image.Image:
    """Two faces side by side (1024x512): left is real, right is tinted when fake_right."""
    face = _astronaut()
    right = tint(face) if fake_right else face
    return Image.fromarray(np.concatenate([face, right], axis=1))


def image_bytes(img: Image.Image, fmt: str = "JPEG", **save_args) -> bytes:
    """Encode a PIL image (JPEG by default)."""
    buffer = io.BytesIO()
    if fmt.upper() in ("JPEG", "JPG") and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def face_data_url(fake: bool = False, fmt: str = "JPEG") -> str:
    """A face photo as a data URL, the way the web app sends camera frames."""
    data = image_bytes(face_photo(fake=fake), fmt)
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def _fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Letterbox rgb into a grey canvas of size (width, height), keeping the aspect ratio."""
    import cv2

    width, height = size
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    w, h = max(2, int(rgb.shape[1] * scale)), max(2, int(rgb.shape[0] * scale))
    canvas = np.full((height, width, 3), 128, dtype=np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def _fake_for_second(fake: bool | Sequence[bool], second: int) -> bool:
    if isinstance(fake, bool):
        return fake
    return bool(fake[min(second, len(fake) - 1)])


def video_frames(*, seconds: float, fps: int, size: tuple[int, int], fake: bool | Sequence[bool]):
    """Yield (index, rgb) frames: the face photo drifting slowly, tinted during fake seconds."""
    base = _fit(_astronaut(), size)
    tinted = tint(base)
    count = int(round(seconds * fps))
    for i in range(count):
        src = tinted if _fake_for_second(fake, int(i // fps)) else base
        shift = (i % fps) // 3  # a little motion so the encoder has real work to do
        yield i, np.roll(src, shift, axis=1)


def write_video(
    path: str | Path,
    *,
    seconds: float,
    fps: int = 30,
    size: tuple[int, int] = (320, 240),
    fake: bool | Sequence[bool] = False,
    codec: str = "h264",
    rotation: int = 0,
    gop: int | None = None,
    container_format: str | None = None,
) -> Path:
    """Write a real H.264 (or other codec) video with PyAV; fake may be a per-second list.

    size is the displayed size. With rotation (90/180/270, counterclockwise as PyAV reports it)
    the frames are stored sideways plus display-matrix metadata, as phones do, so a player that
    honours the metadata shows them upright.
    """
    import av

    path = Path(path)
    turns = (rotation // 90) % 4
    width, height = size if turns % 2 == 0 else (size[1], size[0])
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for _, rgb in video_frames(seconds=seconds, fps=fps, size=size, fake=fake):
            stored = np.ascontiguousarray(np.rot90(rgb, k=-turns)) if turns else rgb
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


CUE_TINTS = {"magenta": magenta_tint, "green": green_tint}


def write_cue_video(
    path: str | Path, *, cues: Sequence[str | None], fps: int = 10, size: tuple[int, int] = (320, 240)
) -> Path:
    """An H.264 MP4 of len(cues) seconds of the face photo; second i carries the tint cues[i] ("magenta",
    "green") of the cue-trained models, or none (None). The fine pattern would not survive the encoding."""
    import av

    path = Path(path)
    base = _fit(_astronaut(), size)
    frames = {cue: CUE_TINTS[cue](base) for cue in set(cues) if cue is not None}
    frames[None] = base
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(len(cues) * fps):
            rgb = np.roll(frames[cues[i // fps]], (i % fps) // 3, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_vfr_video(
    path: str | Path,
    *,
    frame_times: Sequence[float],
    size: tuple[int, int] = (320, 240),
    fake: bool | Sequence[bool] = False,
) -> Path:
    """Write an H.264 MP4 whose frames sit at the given (irregular) times: variable frame rate."""
    from fractions import Fraction

    import av

    path = Path(path)
    base = _fit(_astronaut(), size)
    tinted = tint(base)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("h264", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for t in frame_times:
            rgb = tinted if _fake_for_second(fake, int(t)) else base
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = int(round(t * 1000))
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_y4m(
    path: str | Path,
    *,
    seconds: float,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    fake: bool | Sequence[bool] = False,
) -> Path:
    """Write a raw YUV4MPEG2 (4:2:0) file, the format Chromium's fake camera plays in a loop."""
    import cv2

    path = Path(path)
    width, height = size
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _, rgb in video_frames(seconds=seconds, fps=fps, size=size, fake=fake):
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


# --- bad inputs -----------------------------------------------------------------------------


def truncated_jpeg() -> bytes:
    """The first half of a valid JPEG."""
    data = image_bytes(face_photo())
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    """A PNG cut in the middle of its pixel data."""
    data = image_bytes(face_photo(), "PNG")
    return data[: len(data) // 2]


NOT_AN_IMAGE = b"This is plain text, not an image.\n" * 10


@lru_cache(maxsize=None)
def decompression_bomb_png(side: int = 12_000) -> bytes:
    """A valid, tiny (~20 KB) 1-bit PNG that decodes to side x side pixels (144 megapixels)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def corrupt_video_bytes() -> bytes:
    """Bytes that are not a video at all (random noise with an .mp4 name in tests)."""
    return np.random.default_rng(7).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes()


def damage_file(path: str | Path, *, start_fraction: float = 0.4, length_fraction: float = 0.1) -> Path:
    """Overwrite a slice in the middle of a file with noise (corrupt frames, container intact)."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    start = int(len(data) * start_fraction)
    length = max(1, int(len(data) * length_fraction))
    noise = np.random.default_rng(11).integers(0, 256, length, dtype=np.uint8).tobytes()
    data[start : start + length] = noise
    path.write_bytes(bytes(data))
    return path


# --- large inputs (memory limits) -------------------------------------------------------------


def flat_png(size: tuple[int, int], colour: tuple[int, int, int] = (90, 140, 200)) -> bytes:
    """A flat-colour RGB PNG of size (width, height): a few KB even at 40 megapixels."""
    return image_bytes(Image.new("RGB", size, colour), "PNG")


def scaled_face_photo(size: tuple[int, int], fake: bool = False) -> Image.Image:
    """face_photo letterboxed and scaled up to size (width, height), e.g. a 16-megapixel photo of a face."""
    import cv2

    width, height = size
    rgb = _astronaut()
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    w, h = int(rgb.shape[1] * scale), int(rgb.shape[0] * scale)
    canvas = np.full((height, width, 3), 128, dtype=np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(tint(canvas) if fake else canvas)


def write_mjpeg(
    path: str | Path,
    *,
    size: tuple[int, int],
    seconds: int = 2,
    fps: int = 1,
    colour: tuple[int, int, int] = (90, 140, 200),
) -> Path:
    """An MJPEG video (AVI by default: the container declares the frame size) of flat-colour frames.

    Flat frames compress to almost nothing, so even 12000x12000 frames make a small file; the one frame
    is encoded once per second of video.
    """
    import av

    path = Path(path)
    width, height = size
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), colour, dtype=np.uint8), format="rgb24")
    frame = frame.reformat(format="yuvj420p")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mjpeg", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p"
        for index in range(seconds * fps):
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_mjpeg_growing_frames(
    path: str | Path, *, first: tuple[int, int], later: tuple[int, int], frames: int = 30
) -> Path:
    """A raw MJPEG stream (concatenated JPEGs, 25 fps) whose first frame is small and the rest large.

    FFmpeg takes the stream's size from the first frame, so the declared size lies about the rest.
    """
    path = Path(path)
    small = image_bytes(Image.new("RGB", first, (90, 140, 200)))
    large = image_bytes(Image.new("RGB", later, (90, 140, 200)))
    path.write_bytes(small + large * (frames - 1))
    return path
