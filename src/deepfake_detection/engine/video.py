"""Sample frames from a video with PyAV: one per second by default, seeking past unused frames."""

from __future__ import annotations

import bisect
import math
import os
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import av
import numpy as np

from .device import usable_cpus
from .errors import InvalidMediaError
from .images import fit_within
from .memory import release_freed_memory
from .settings import EngineSettings

# Skipping non-reference frames may move a sample this many frames late; only worth it when samples
# are further apart than that.
NONREF_SKIP_MAX_FRAMES = 4


@dataclass
class VideoInfo:
    """What the container says about the video stream (duration measured if not declared)."""

    duration: float
    fps: float
    width: int
    height: int
    start: float = 0.0
    keyframes: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class VideoProbe:
    """What a quick look at a video file found: its container, stream, and whether a first frame decodes."""

    format_names: tuple[str, ...]  # FFmpeg demuxer names of the container (e.g. "mov", "mp4", ...)
    duration: float
    fps: float
    width: int
    height: int
    first_frame_decodes: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "format_names": list(self.format_names),
            "duration": self.duration,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "first_frame_decodes": self.first_frame_decodes,
        }


@dataclass
class SampledFrame:
    """A decoded, upright RGB frame at a sampled time."""

    time: float
    rgb: np.ndarray


def sample_times(duration: float, *, sample_fps: float, max_frames: int) -> list[float]:
    """Target times: sample_fps per second; when that exceeds max_frames, spread max_frames evenly."""
    if duration <= 0 or sample_fps <= 0:
        return [0.0]
    count = max(1, math.ceil(duration * sample_fps - 1e-9))
    if count <= max_frames:
        return [round(i / sample_fps, 6) for i in range(count)]
    step = duration / max_frames
    return [round(i * step, 6) for i in range(max_frames)]


def _upright(frame: av.VideoFrame, max_side: int | None) -> np.ndarray:
    """The frame as upright RGB, converted straight to at most max_side on its long side."""
    size = fit_within((frame.width, frame.height), max_side)
    if size != (frame.width, frame.height):
        # Scaled while converting from YUV: the full-size RGB frame never exists.
        rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")
    else:
        rgb = frame.to_ndarray(format="rgb24")
    rotation = int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
    # PyAV reports the display matrix angle counterclockwise, which is np.rot90's direction.
    return np.ascontiguousarray(np.rot90(rgb, k=rotation)) if rotation else rgb


def _check_frame_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise InvalidMediaError(
            f"The video's frames are too large ({width}x{height} pixels; the limit is {max_pixels:,} pixels)."
        )


class VideoReader:
    """Open a video file and yield frames at target times; corrupt packets are skipped and counted.

    Streams whose frames exceed max_pixels are refused from the size the container declares, before
    any frame is decoded, and again on any decoded frame (a declared size can lie). Frames larger than
    max_side on their long side are returned scaled down to it (0: never). Both default to the
    DEEPFAKE_MAX_VIDEO_PIXELS and DEEPFAKE_WORK_MAX_SIDE settings.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_pixels: int | None = None, max_side: int | None = None):
        self.path = str(path)
        if max_pixels is None or max_side is None:  # callers without settings get the configured ones
            settings = EngineSettings.from_env()
            max_pixels = settings.max_video_pixels if max_pixels is None else max_pixels
            max_side = settings.work_max_side if max_side is None else max_side
        self.max_pixels = max_pixels
        self.max_side = max_side or None
        if not os.path.isfile(self.path):
            raise InvalidMediaError(f"No such video file: {os.path.basename(self.path)}")
        if os.path.getsize(self.path) == 0:
            raise InvalidMediaError("The video is empty (0 bytes).")
        self.skipped = 0
        self.decoded = 0  # frames the decoder produced, for tests and the benchmark
        self.container = self._open()
        try:
            self.stream = self.container.streams.video[0]
        except IndexError:
            self.close()
            raise InvalidMediaError("The file has no video stream.") from None
        try:
            _check_frame_size(self.stream.codec_context.width, self.stream.codec_context.height, max_pixels)
        except InvalidMediaError:
            self.close()
            raise
        self.info = self._probe()

    def _configure_decoder(self, *, timestamps: bool) -> None:
        # FFmpeg's default (AUTO) prefers frame threading, which on 2 cores decoded no faster than one
        # thread here, single-slice stream or not; slice threading was never slower and decoded a
        # two-slice 720p clip 1.7x faster. With more cores frame threading pays, so AUTO stays.
        self.stream.thread_type = "SLICE" if usable_cpus() <= 2 else "AUTO"
        # Raw streams without timestamps are timed by counting frames, so nothing may be skipped.
        self._may_skip_nonref = timestamps

    def _skip_nonref_frames_if_harmless(self, targets: list[float]) -> None:
        """Skip decoding frames nothing refers to (most B-frames) when samples are far apart.

        Not decoding them halves H.264 decoding, but a sample then lands on the next decoded frame,
        a few frames late: harmless at 30 fps and 1 sample/s, wrong when the video itself has about
        one frame per sample (a 1 fps video would lose every other sample).
        """
        spacing = min((b - a for a, b in zip(targets, targets[1:])), default=math.inf)
        harmless = spacing > NONREF_SKIP_MAX_FRAMES * self.frame_interval
        self.stream.codec_context.skip_frame = "NONREF" if self._may_skip_nonref and harmless else "DEFAULT"

    def _open(self) -> Any:
        try:
            return av.open(self.path, mode="r", metadata_errors="ignore")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidMediaError(f"The file is not a readable video ({type(exc).__name__}).") from None

    def close(self) -> None:
        """Release the container, and hand the decoder's freed frame buffers back to the OS."""
        try:
            self.container.close()
        except Exception:  # closing a broken container must never mask the real error
            pass
        if self.decoded:
            release_freed_memory()

    @property
    def format_names(self) -> tuple[str, ...]:
        """The container's FFmpeg demuxer names (one format may answer to several, e.g. mov,mp4,m4a)."""
        return tuple(name for name in self.container.format.name.split(",") if name)

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _probe(self) -> VideoInfo:
        """Demux (without decoding) once: exact keyframe times, duration and frame rate, then rewind.

        Reading packets is cheap next to decoding, and it is more trustworthy than the declared
        duration (wrong for some VFR files, absent for raw streams) or the index (decode order).
        """
        stream, base = self.stream, self.stream.time_base
        start = float(stream.start_time * base) if stream.start_time is not None and base else 0.0
        keyframes: list[float] = []
        end, packets, summed = 0.0, 0, 0.0
        try:
            for packet in self.container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet
                packets += 1
                length = float(packet.duration * base) if packet.duration and base else 0.0
                summed += length
                if packet.pts is not None and base:
                    t = float(packet.pts * base) - start
                    end = max(end, t + length)
                    if packet.is_keyframe:
                        keyframes.append(max(0.0, t))
        except av.error.FFmpegError:
            pass  # a damaged tail: what was read so far still describes the video
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        duration = end or summed
        if duration <= 0 and stream.duration is not None and base:
            duration = float(stream.duration * base)
        if duration <= 0 and packets and fps:
            duration = packets / fps
        if packets and duration > 0 and (not fps or not end):
            fps = packets / duration
        self.frame_interval = duration / packets if packets and duration > 0 else (1.0 / fps if fps else 0.04)
        self.container.close()
        self.container = self._open()
        self.stream = self.container.streams.video[0]
        self._configure_decoder(timestamps=end > 0)
        if packets == 0:
            self.close()
            raise InvalidMediaError("The video has no decodable frame.")
        return VideoInfo(
            duration=round(duration, 3),
            fps=round(fps, 3),
            width=stream.width,
            height=stream.height,
            start=start,
            keyframes=sorted(set(keyframes)),
        )

    def _decode_from(self, seek_to: float | None) -> Iterator[av.VideoFrame]:
        """Seek (now, not lazily) to the keyframe at seek_to, then return a frame iterator."""
        if seek_to is not None:
            offset = int((seek_to + self.info.start) / self.stream.time_base)
            try:
                self.container.seek(offset, stream=self.stream, backward=True)
            except av.error.FFmpegError:
                pass  # not seekable after all: decoding simply continues from here
        return self._decode_packets()

    def _decode_packets(self) -> Iterator[av.VideoFrame]:
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError:  # the container itself is damaged from here on
                self.skipped += 1
                return
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.skipped += 1
                continue
            for frame in frames:
                self.decoded += 1
                _check_frame_size(frame.width, frame.height, self.max_pixels)
                if frame.is_corrupt:
                    self.skipped += 1
                    continue
                yield frame

    def frames_at(self, targets: list[float]) -> Iterator[SampledFrame]:
        """Yield at most one frame per target time (the first frame at or after it)."""
        self._skip_nonref_frames_if_harmless(targets)
        keyframes = self.info.keyframes
        position = -math.inf  # time of the last decoded frame
        frames: Iterator[av.VideoFrame] | None = None
        index = 0
        eps = 1e-3
        while index < len(targets):
            target = targets[index]
            # Seek when a keyframe lies between where we are and the target: the frames in between
            # would be decoded only to be thrown away.
            k = bisect.bisect_right(keyframes, target + eps) - 1
            if frames is None or (k >= 0 and keyframes[k] > position + eps and index > 0):
                frames = self._decode_from(keyframes[k] if (k >= 0 and index > 0) else None)
            found = None
            for frame in frames:
                if frame.time is not None:
                    t = float(frame.time) - self.info.start
                else:  # raw streams carry no timestamps: count frames instead
                    t = max(position, -self.frame_interval) + self.frame_interval
                position = t
                if t + eps >= target:
                    found = frame
                    break
            if found is None:
                return  # end of stream: the remaining targets lie past the last frame
            # One frame can serve only one target; later targets it already passed are dropped.
            try:
                rgb = _upright(found, self.max_side)
            except (av.error.FFmpegError, ValueError):
                self.skipped += 1
                rgb = None
            if rgb is not None:
                yield SampledFrame(time=round(max(0.0, position), 3), rgb=rgb)
            index += 1
            while index < len(targets) and targets[index] <= position + eps:
                index += 1


class InlineFrames:
    """Prefetcher's interface without the thread: each frame is prepared when the consumer asks for it."""

    def __init__(self, frames: Iterator[Any], *, prepare: Callable[[Any], Any]):
        self._frames = frames
        self._prepare = prepare

    def __enter__(self) -> "InlineFrames":
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for frame in self._frames:
            yield frame, self._prepare(frame)


def frame_pipeline(
    frames: Iterator[Any], *, prepare: Callable[[Any], Any], prefetch: bool, depth: int = 8
) -> Prefetcher | InlineFrames:
    """(frame, prepare(frame)) pairs, prepared ahead in a background thread when prefetch is true."""
    return Prefetcher(frames, prepare=prepare, depth=depth) if prefetch else InlineFrames(frames, prepare=prepare)


class Prefetcher:
    """Run a frame iterator and a prepare(frame) step in a background thread; items are (frame, prepared).

    Decoding (PyAV), face detection (OpenCV) and inference (torch) all release the GIL, so
    preparing the next frames while the model works on the current ones shortens the wall time.
    Use as a context manager: leaving it stops and joins the thread before the reader is closed.
    """

    _END = object()

    def __init__(self, frames: Iterator[Any], *, prepare: Callable[[Any], Any], depth: int = 8):
        self._frames = frames
        self._prepare = prepare
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="video-prefetch", daemon=True)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for frame in self._frames:
                if not self._put((frame, self._prepare(frame))):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)
            return
        self._put(self._END)

    def __enter__(self) -> "Prefetcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
