"""`deepfake-server` for real: migrations at start, waitress over HTTP, tokens surviving a restart."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.support import media

from .helpers import PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The console script in a subprocess, stopped by its pid."""

    def __init__(self, instance, port: int):
        env = {**os.environ, "DEEPFAKE_INSTANCE_PATH": str(instance), "HOST": "127.0.0.1", "PORT": str(port)}
        for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URI", "UPLOAD_FOLDER", "DEEPFAKE_MODE"):
            env.pop(name, None)
        script = shutil.which("deepfake-server") or os.path.join(os.path.dirname(sys.executable), "deepfake-server")
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The banner is printed right before waitress binds; then wait for the socket itself.
        for line in self.process.stdout:
            if "running on" in line:
                break
        else:
            raise AssertionError(f"server exited with {self.process.wait()}")
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)  # waiting for a socket to open, not for a timing outcome

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.mark.slow
def test_server_migrates_serves_and_keeps_tokens_across_restarts(tmp_path):
    instance = tmp_path / "instance"
    port = _free_port()
    server = Server(instance, port)
    try:
        assert requests.get(f"{server.url}/api/health", timeout=30).json()["database"]["ok"] is True
        assert requests.get(f"{server.url}/", timeout=10).status_code == 200
        assert requests.get(f"{server.url}/api/docs/", timeout=10).status_code == 200
        requests.post(f"{server.url}/api/auth/register", timeout=10,
                      json={"username": "served", "email": "served@example.com", "password": PASSWORD})
        token = requests.post(f"{server.url}/api/auth/login", timeout=10,
                              json={"username": "served", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        detected = requests.post(f"{server.url}/api/detect/image", headers=headers, timeout=60,
                                 files={"image": ("fake.jpg", media.image_bytes(media.face_photo(fake=True)))})
        assert detected.status_code == 200 and detected.json()["is_fake"] is True
        oversized = requests.post(f"{server.url}/api/detect/image", headers=headers, timeout=60,
                                  files={"image": ("big.jpg", b"\xff\xd8" + b"0" * (11 * 1024 * 1024))})
        assert oversized.status_code == 413 and oversized.json()["success"] is False
        # Chunked, with no Content-Length to check up front: refused all the same.
        def chunks():
            yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"c.jpg\"\r\n\r\n"
            for _ in range(11):
                yield b"\xff" * (1024 * 1024)
            yield b"\r\n--b--\r\n"
        chunked = requests.post(f"{server.url}/api/detect/image", data=chunks(), timeout=60,
                                headers={**headers, "Content-Type": "multipart/form-data; boundary=b"})
        assert chunked.status_code == 413 and chunked.json()["success"] is False
    finally:
        server.stop()
    assert (instance / "deepfake_detection.db").exists() and (instance / "jwt_secret_key.secret").exists()

    server = Server(instance, port)
    try:
        me = requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=10)
        assert me.status_code == 200 and me.json()["user"]["username"] == "served"
        assert requests.get(f"{server.url}/api/history", headers=headers, timeout=10).json()["count"] == 1
    finally:
        server.stop()
