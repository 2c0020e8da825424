"""On-disk cache of prepared fast models (exported, quantized, self-checked), built once under a file lock.

An entry is a directory named after its key: the model's id and weights version (hub commit or a
local directory's fingerprint), the backend, the backend's and the exporter's versions, and the
precision. A different revision or runtime version is a different key, so a stale entry is never
used; the new one is built once, while concurrent loaders (threads or processes) wait on the lock and
then use it. Entries are built in a temporary directory and renamed into place: a crash leaves
no half-written entry. Older entries for the same model and backend are removed after a build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock

READY = "READY"
KEY_FILE = "key.json"
FORMAT_VERSION = 1  # bump when what an entry holds changes


def file_digest(path: Path) -> str:
    """sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PreparedStore:
    """Prepared-model entries under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.builds = 0  # entries this process built (tests check that a second load builds nothing)
        self._guard = threading.Lock()

    @staticmethod
    def _slug(key: dict[str, Any]) -> str:
        text = f"{key.get('model_id', 'model')}--{key.get('backend', '')}-{key.get('precision', '')}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]

    def path_for(self, key: dict[str, Any]) -> Path:
        """Where the entry for key lives (whether or not it exists yet)."""
        full = {**key, "format": FORMAT_VERSION}
        digest = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:16]
        return self.root / f"{self._slug(key)}--{digest}"

    def lookup(self, key: dict[str, Any]) -> Path | None:
        """The complete entry for key, or None."""
        path = self.path_for(key)
        return path if (path / READY).is_file() else None

    def lock(self, key: dict[str, Any]) -> FileLock:
        """The inter-process lock guarding key's entry."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path_for(key)) + ".lock")

    def get_or_build(self, key: dict[str, Any], build: Callable[[Path], None]) -> Path:
        """The entry for key, calling build(directory) to fill it when it is missing (once, under the lock)."""
        found = self.lookup(key)
        if found is not None:
            return found
        path = self.path_for(key)
        with self.lock(key):
            found = self.lookup(key)
            if found is not None:
                return found
            building = path.with_name(f"{path.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            building.mkdir(parents=True)
            try:
                build(building)
                (building / KEY_FILE).write_text(json.dumps({**key, "format": FORMAT_VERSION}, indent=2))
                (building / READY).write_text("ok\n")
                shutil.rmtree(path, ignore_errors=True)  # an incomplete leftover under the final name
                building.rename(path)
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
            with self._guard:
                self.builds += 1
            self._remove_stale(path)
            return path

    def _remove_stale(self, current: Path) -> None:
        """Remove other complete entries for the same model, backend and precision (older versions)."""
        prefix = current.name.rsplit("--", 1)[0] + "--"
        for other in self.root.glob(prefix + "*"):
            if other != current and other.is_dir() and "." not in other.name[len(prefix) :]:
                shutil.rmtree(other, ignore_errors=True)

    def read_json(self, entry: Path, name: str) -> dict[str, Any] | None:
        """A JSON file of an entry, or None when absent or unreadable."""
        try:
            data = json.loads((entry / name).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, entry: Path, name: str, data: dict[str, Any]) -> None:
        """Write a JSON file into an entry atomically (readers see the old or the new content)."""
        tmp = entry / f".{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, entry / name)
