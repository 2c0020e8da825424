"""Files left without their row (a process killed between writing a file and committing its row) are swept
from every media folder: by `sweep-orphan-files`, by `purge-camera-frames`, and when an app starts."""

from __future__ import annotations

import io
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from deepfake_detection.app import create_app
from tests.support import media
from tests.support.servers import Server, free_port, server_env

from .helpers import PASSWORD, dispose_app, register_and_login

HOUR = 3600


def _plant(folder: Path, name: str, *, seconds_old: float) -> Path:
    """A file no row refers to, last written ``seconds_old`` ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"left behind by a crash")
    stamp = time.time() - seconds_old
    os.utime(path, (stamp, stamp))
    return path


def _leftovers(upload_root: Path, *, seconds_old: float) -> list[Path]:
    """One orphan of every kind the service writes: images, videos, thumbnails, frames, half-written .part."""
    return [
        _plant(upload_root / "images", f"{uuid.uuid4().hex}.jpg", seconds_old=seconds_old),
        _plant(upload_root / "images", f"{uuid.uuid4().hex}.png.part", seconds_old=seconds_old),
        _plant(upload_root / "videos", f"{uuid.uuid4().hex}.mp4", seconds_old=seconds_old),
        _plant(upload_root / "videos", f"{uuid.uuid4().hex}.jpg", seconds_old=seconds_old),  # a thumbnail
        _plant(upload_root / "videos", f"{uuid.uuid4().hex}.webm.part", seconds_old=seconds_old),
        _plant(upload_root / "camera", f"{uuid.uuid4().hex}.jpg", seconds_old=seconds_old),
    ]


def _stored_files(upload_root: Path) -> set[Path]:
    return {path for path in upload_root.rglob("*") if path.is_file()}


def test_the_sweep_removes_old_orphans_of_every_folder_and_keeps_everything_else(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    user = register_and_login(client)
    image = client.post(
        "/api/detect/image",
        headers=user.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(media.image_bytes(media.face_photo())), "kept.jpg")},
    )
    assert image.status_code == 200
    clip = media.write_video(tmp_path / "kept.mp4", seconds=2, fps=10)
    with open(clip, "rb") as handle:
        video = client.post(
            "/api/detect/video",
            headers=user.headers,
            content_type="multipart/form-data",
            data={"video": (handle, "kept.mp4")},
        )
    assert video.status_code == 200 and video.get_json()["thumbnail_url"]
    assert (
        client.post("/api/detect/camera", headers=user.headers, json={"image": media.face_data_url()}).status_code
        == 200
    )
    root = Path(app.config["UPLOAD_FOLDER"])
    # The stored media (image, video, thumbnail, frame) are older than the grace period too: kept for their rows.
    for path in _stored_files(root):
        os.utime(path, (time.time() - 2 * HOUR, time.time() - 2 * HOUR))
    stored = _stored_files(root)
    assert len(stored) == 4
    old = _leftovers(root, seconds_old=2 * HOUR)
    fresh = _leftovers(root, seconds_old=60)  # may belong to a request still committing its row
    notes = _plant(root / "images", "README.txt", seconds_old=30 * 24 * HOUR)

    result = app.test_cli_runner().invoke(args=["sweep-orphan-files"])

    assert result.exit_code == 0, result.output
    assert "Removed 6 orphaned file(s)" in result.output
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in [*stored, *fresh, notes])
    history = client.get("/api/history", headers=user.headers).get_json()
    assert history["count"] == 3
    for item in history["history"]:
        assert client.get(f"/api/history/{item['id']}/media", headers=user.headers).status_code == 200

    zero_grace = app.test_cli_runner().invoke(args=["sweep-orphan-files", "--grace-seconds", "0"])
    assert zero_grace.exit_code == 0 and "Removed 6 orphaned file(s)" in zero_grace.output
    assert _stored_files(root) == {*stored, notes}


def test_the_purge_command_sweeps_every_folder_too(make_app):
    app = make_app(CAMERA_FRAME_RETENTION_DAYS=30)
    old = _leftovers(Path(app.config["UPLOAD_FOLDER"]), seconds_old=2 * HOUR)
    result = app.test_cli_runner().invoke(args=["purge-camera-frames"])
    assert result.exit_code == 0, result.output
    assert "removed 1 orphaned frame file(s) and 5 other orphaned media file(s)" in result.output
    assert not any(path.exists() for path in old)


def test_an_app_sweeps_orphans_when_it_starts(make_app):
    app = make_app()
    root = Path(app.config["UPLOAD_FOLDER"])
    old = _leftovers(root, seconds_old=2 * HOUR)
    fresh = _leftovers(root, seconds_old=60)

    restarted = create_app({**app.config, "DETECTION_ENGINE": None})
    try:
        assert not any(path.exists() for path in old)
        assert all(path.exists() for path in fresh)
    finally:
        dispose_app(restarted)

    no_grace = create_app({**app.config, "DETECTION_ENGINE": None, "ORPHAN_FILE_GRACE_SECONDS": 0})
    try:
        assert not any(path.exists() for path in fresh)
    finally:
        dispose_app(no_grace)


def _rows_and_files(instance: Path) -> tuple[set[str], set[str]]:
    """Paths the database names, and the files present, both relative to the upload folder."""
    root = instance / "uploads"
    with sqlite3.connect(instance / "deepfake_detection.db") as connection:
        named = {
            row[0]
            for row in connection.execute(
                "SELECT file_path FROM image UNION SELECT file_path FROM video UNION SELECT thumbnail_path FROM video "
                "UNION SELECT frame_path FROM camera_detection"
            )
            if row[0]
        }
    present = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    return named, present


@pytest.mark.slow
def test_after_kill_9_during_uploads_the_restarted_server_leaves_no_orphan(tmp_path):
    instance = tmp_path / "instance"
    port = free_port()
    # Every thread uploads as one user: the per-user active video job limit is not what this test is about.
    server = Server(instance, port, env=server_env(instance, PORT=str(port), MAX_ACTIVE_VIDEO_JOBS_PER_USER="0"))
    clip = media.write_video(tmp_path / "clip.mp4", seconds=2, fps=10).read_bytes()
    photo = media.image_bytes(media.face_photo(fake=True))
    try:
        requests.post(
            f"{server.url}/api/auth/register",
            timeout=30,
            json={"username": "uploader", "email": "uploader@example.com", "password": PASSWORD},
        )
        token = requests.post(
            f"{server.url}/api/auth/login", timeout=30, json={"username": "uploader", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        answered = []
        stop = threading.Event()

        def upload(kind: str) -> None:
            while not stop.is_set():
                files = {"image": ("face.jpg", photo)} if kind == "image" else {"video": ("clip.mp4", clip)}
                try:
                    response = requests.post(
                        f"{server.url}/api/detect/{kind}?async=true", headers=headers, files=files, timeout=60
                    )
                except requests.RequestException:
                    return  # the server was killed under this request
                answered.append((kind, response.status_code))

        kinds = ("image", "image", "image", "video", "video")
        threads = [threading.Thread(target=upload, args=(kind,)) for kind in kinds]
        for thread in threads:
            thread.start()

        def enough() -> bool:
            kinds = [kind for kind, _ in answered]
            return kinds.count("image") >= 3 and kinds.count("video") >= 3

        deadline = time.monotonic() + 120
        while not enough() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the uploads' progress, with a deadline
        assert enough(), f"uploads answered before the kill: {answered}"
        server.kill_hard()  # mid-upload: the other threads' requests are in flight
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.stop()
    assert {status for _, status in answered} <= {200, 202}

    # What a write cut short by the kill leaves: a .part, and a file whose row never committed.
    root = instance / "uploads"
    _leftovers(root, seconds_old=0)
    named, present = _rows_and_files(instance)
    assert present - named  # there is something to sweep

    # The killed process is gone: no grace period for its files.
    env = server_env(instance, PORT=str(port), ORPHAN_FILE_GRACE_SECONDS="0", MAX_ACTIVE_VIDEO_JOBS_PER_USER="0")
    server = Server(instance, port, env=env)
    try:
        named, present = _rows_and_files(instance)
        assert present == named, f"files without a row: {sorted(present - named)}"
        assert not [path for path in root.rglob("*.part")]
        listed = requests.get(f"{server.url}/api/history", headers=headers, timeout=30).json()
        assert listed["count"] >= 1, (answered, listed, sorted(named))
    finally:
        server.stop()
