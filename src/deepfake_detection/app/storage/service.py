"""Stored media under UPLOAD_FOLDER: images/, videos/ and camera/ with UUID names."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from werkzeug.utils import secure_filename

SUBFOLDERS = ("images", "videos", "camera")


def ensure_folders(*, upload_root: str) -> None:
    """Create the upload root and its sub-folders."""
    for name in SUBFOLDERS:
        Path(upload_root, name).mkdir(parents=True, exist_ok=True)


def display_name(original: str | None, *, fallback: str) -> str:
    """A harmless display name for an uploaded file (path parts and odd characters removed)."""
    # secure_filename drops separators; collapsing dot runs keeps ".." out of what clients display.
    name = re.sub(r"\.{2,}", ".", secure_filename(original or ""))[:200].strip("._")
    return name or fallback


def extension_of(original: str | None) -> str:
    """Lower-case extension without the dot, '' when none."""
    if not original or "." not in original:
        return ""
    return original.rsplit(".", 1)[1].lower().strip()


def new_relative_path(*, folder: str, extension: str) -> str:
    """A fresh UUID-named path relative to the upload root, e.g. images/<uuid>.png."""
    if folder not in SUBFOLDERS:
        raise ValueError(f"unknown upload folder {folder!r}")
    return f"{folder}/{uuid.uuid4().hex}.{extension}"


def absolute_path(*, upload_root: str, relative: str) -> Path:
    """Absolute path of a stored file; refuses anything that would leave the upload root."""
    root = Path(upload_root).resolve()
    path = (root / relative).resolve()
    if root != path and root not in path.parents:
        raise ValueError("stored path escapes the upload folder")
    return path


def write_bytes(*, upload_root: str, relative: str, data: bytes) -> Path:
    """Write bytes atomically (temporary name, then rename) and return the final path."""
    path = absolute_path(upload_root=upload_root, relative=relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return path


def write_stream(*, upload_root: str, relative: str, stream: BinaryIO, limit: int) -> tuple[Path, int]:
    """Copy a stream to a stored file, stopping with OverflowError past ``limit`` bytes."""
    path = absolute_path(upload_root=upload_root, relative=relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    size = 0
    try:
        with open(tmp, "wb") as handle:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise OverflowError(size)
                handle.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path, size


def remove(*, upload_root: str, relative: str | None) -> None:
    """Delete a stored file if it exists (missing files are not an error)."""
    if not relative:
        return
    try:
        absolute_path(upload_root=upload_root, relative=relative).unlink(missing_ok=True)
    except (ValueError, OSError):
        pass
