"""The one way a stored media file is answered: to its owner only, never cached, never content-sniffed."""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_file


def private_file(path: Path, name: str) -> Response:
    """The file as a download named name, with byte ranges, kept out of shared caches."""
    response = send_file(path, download_name=name, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
