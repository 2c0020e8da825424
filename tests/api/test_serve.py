"""`deepfake-server` for real: migrations at start, waitress over HTTP, tokens surviving a restart; slow
clients, body limits from the headers, JSON errors from waitress, logs, the command line and the scripts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support import media
from tests.support.servers import SCRIPT, Server, free_port, server_env

from .helpers import PASSWORD


@pytest.mark.slow
def test_server_migrates_serves_and_keeps_tokens_across_restarts(tmp_path):
    instance = tmp_path / "instance"
    port = free_port()
    server = Server(instance, port)
    try:
        assert requests.get(f"{server.url}/api/health", timeout=30).json()["database"]["ok"] is True
        assert requests.get(f"{server.url}/", timeout=10).status_code == 200
        assert requests.get(f"{server.url}/api/docs/", timeout=10).status_code == 200
        requests.post(
            f"{server.url}/api/auth/register",
            timeout=10,
            json={"username": "served", "email": "served@example.com", "password": PASSWORD},
        )
        token = requests.post(
            f"{server.url}/api/auth/login", timeout=10, json={"username": "served", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        detected = requests.post(
            f"{server.url}/api/detect/image",
            headers=headers,
            timeout=60,
            files={"image": ("fake.jpg", media.image_bytes(media.face_photo(fake=True)))},
        )
        assert detected.status_code == 200 and detected.json()["is_fake"] is True
        oversized = requests.post(
            f"{server.url}/api/detect/image",
            headers=headers,
            timeout=60,
            files={"image": ("big.jpg", b"\xff\xd8" + b"0" * (11 * 1024 * 1024))},
        )
        assert oversized.status_code == 413 and oversized.json()["success"] is False

        # Chunked, with no Content-Length to check up front: refused all the same.
        def chunks():
            yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="c.jpg"\r\n\r\n'
            for _ in range(11):
                yield b"\xff" * (1024 * 1024)
            yield b"\r\n--b--\r\n"

        chunked = requests.post(
            f"{server.url}/api/detect/image",
            data=chunks(),
            timeout=60,
            headers={**headers, "Content-Type": "multipart/form-data; boundary=b"},
        )
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


# --- hardening: slow clients, body limits at header time, JSON errors from waitress, logs, command line ---

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server for the hardening tests below."""
    instance = tmp_path_factory.mktemp("served") / "instance"
    server = Server(instance, free_port())
    server.instance = instance
    yield server
    server.stop()


def _exchange(port: int, data: bytes, *, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Send raw bytes, read until the server closes (bounded by timeout): status, headers, body."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer before taking everything; its answer is still to be read
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def _assert_json_error(answer: tuple[int, dict, bytes], status: int) -> dict:
    code, headers, body = answer
    assert code == status, answer
    assert headers["content-type"] == "application/json" and headers["x-request-id"]
    payload = json.loads(body)
    codes = {400: "invalid_input", 413: "too_large", 431: "headers_too_large", 501: "not_implemented"}
    assert payload["success"] is False and payload["code"] == codes[status] and payload["message"]
    return payload


def test_slow_clients_do_not_starve_the_others(served):
    # 150 uploads that declared 50 MB and trickle it a byte at a time: waitress's default limit of 100
    # connections left /api/health unanswered. (It answers in well under a second here; see README.)
    sockets = []
    try:
        for _ in range(150):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sockets.append(sock)
            sock.sendall(
                b"POST /api/detect/video HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000000\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
            )
        for _ in range(3):
            for sock in sockets:
                sock.sendall(b"-")
        health = requests.get(f"{served.url}/api/health", timeout=10)
        assert health.status_code == 200 and health.json()["database"]["ok"] is True
    finally:
        for sock in sockets:
            sock.close()


def test_a_declared_oversized_body_is_refused_at_once_without_reading_it(served):
    headers = (
        b"POST /api/detect/image HTTP/1.1\r\nHost: localhost\r\nContent-Length: 52428800\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n"
    )
    # No body is sent: the answer must come from the headers alone (before, the server waited for 50 MB).
    payload = _assert_json_error(_exchange(served.port, headers + b"\r\n"), 413)
    assert payload["message"] == "Image too large: the limit is 10 MB"
    # A client asking first (Expect: 100-continue) is not invited to send it.
    status, _, _ = _exchange(served.port, headers + b"Expect: 100-continue\r\n\r\n")
    assert status == 413
    # Limits follow the endpoint: 50 MB is fine for a video (it then waits for the body, so only the
    # refusal above is answered at once), 150 MB is not.
    payload = _assert_json_error(
        _exchange(served.port, headers.replace(b"image", b"video").replace(b"52428800", b"157286400") + b"\r\n"), 413
    )
    assert payload["message"] == "Video too large: the limit is 100 MB"


def test_waitress_own_errors_are_json(served):
    _assert_json_error(
        _exchange(
            served.port, b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n"
        ),
        431,
    )
    _assert_json_error(_exchange(served.port, b"get /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"), 400)
    _assert_json_error(
        _exchange(served.port, b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: twelve\r\n\r\n"),
        400,
    )


def test_a_500_is_logged_with_its_traceback_and_request_id(served):
    # The server ran its migrations at start; Alembic's logging set-up used to disable every logger
    # that existed then, so this 500 left no line at all in the server's log.
    requests.post(
        f"{served.url}/api/auth/register",
        timeout=30,
        json={"username": "logged", "email": "logged@example.com", "password": PASSWORD},
    )
    login = requests.post(f"{served.url}/api/auth/login", timeout=30, json={"username": "logged", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}", "X-Request-ID": "support-ticket-42"}
    # A real failure, not a mocked one: the image folder is now a file, so storing the upload fails.
    images = served.instance / "uploads" / "images"
    shutil.rmtree(images)
    images.write_bytes(b"not a folder")
    photo = media.image_bytes(media.face_photo())
    try:
        response = requests.post(
            f"{served.url}/api/detect/image",
            headers=headers,
            timeout=60,
            files={"image": ("face.jpg", photo, "image/jpeg")},
        )
    finally:
        images.unlink()
        images.mkdir()  # the server is shared by the module's other tests
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "support-ticket-42"
    body = response.json()
    assert body["success"] is False and body["request_id"] == "support-ticket-42"
    assert str(served.instance) not in response.text and "Traceback" not in response.text
    deadline = time.monotonic() + 10
    while "POST /api/detect/image 500" not in served.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the log file for the access line, bounded
    log = served.log()
    error_lines = [line for line in log.splitlines() if "Unhandled error on POST /api/detect/image" in line]
    assert error_lines and "[support-ticket-42]" in error_lines[0]
    assert "Traceback (most recent call last)" in log and "FileExistsError" in log
    access = [line for line in log.splitlines() if "POST /api/detect/image 500" in line]
    assert access and "[support-ticket-42]" in access[0] and f"user={login.json()['user']['id']}" in access[0]


def test_slow_requests_are_cut_off(tmp_path):
    port = free_port()
    server = Server(
        tmp_path / "instance", port, env=server_env(tmp_path / "instance", PORT=str(port), WAITRESS_HEADER_TIMEOUT="1")
    )
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=15) as headers_never_end,
            socket.create_connection(("127.0.0.1", port), timeout=15) as body_trickles,
        ):
            headers_never_end.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n")
            body_trickles.sendall(
                b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n{"
            )
            # Each is closed by the server within a few seconds (recv returns b"" at the close).
            assert headers_never_end.recv(100) == b""
            assert body_trickles.recv(100) == b""
    finally:
        server.stop()


def test_port_option_wins_over_the_environment(tmp_path):
    port, env_port = free_port(), free_port()
    instance = tmp_path / "instance"
    server = Server(instance, port, "--port", str(port), env=server_env(instance, PORT=str(env_port)))
    try:
        assert requests.get(f"{server.url}/api/health", timeout=30).status_code == 200
        assert f"http://localhost:{port}" in server.log() and "Ctrl+C" in server.log()
    finally:
        server.stop()


def test_help_prints_usage_and_creates_nothing(tmp_path):
    env = {**os.environ}
    env.pop("DEEPFAKE_INSTANCE_PATH", None)
    result = subprocess.run([SCRIPT, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Usage: deepfake-server" in result.stdout and "--port" in result.stdout and "PORT" in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        ([], {"PORT": "abc"}, "--port"),
        (["--port", "http"], {}, "--port"),
        (["--threads", "0"], {}, "--threads"),
        (["--colour"], {}, "--colour"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, args, env, named):
    result = subprocess.run(
        [SCRIPT, *args], cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert named in result.stderr
    assert list(tmp_path.iterdir()) == []


def _fake_checkout(tmp_path) -> tuple[Path, Path]:
    """scripts/ and pyproject.toml beside an installed-looking .venv whose commands only record their arguments."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    for name in ("python", "deepfake-server", "deepfake"):
        command = bin_dir / name
        command.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
        command.chmod(0o755)
    (bin_dir / "activate").write_text(f'PATH="{bin_dir}:$PATH"\n')
    wanted = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    for stamp in (".installed", ".installed-test"):
        (root / ".venv" / stamp).write_text(wanted + "\n")
    return root, calls


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["scripts/run.sh", "--port", "8080"], ["deepfake-server --port 8080"]),
        (["scripts/run.sh"], ["deepfake-server"]),
        (["scripts/run.sh", "download-models", "--model", "dima806"], ["deepfake download-models --model dima806"]),
        # The lint and the type check run first, on the whole tree; the arguments go to pytest only.
        (
            ["scripts/test.sh", "-k", "serve"],
            [
                "python -m ruff check src tests bench",
                "python -m ruff format --check src tests bench",
                "python -m mypy",
                "python -m pytest -k serve",
            ],
        ),
    ],
)
def test_script_arguments_go_to_the_command_never_to_the_installer(tmp_path, args, expected):
    root, calls = _fake_checkout(tmp_path)
    result = subprocess.run(["bash", *args], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # Installed already: nothing but the command runs (before, `--port` became a pip extra to install).
    assert [line.strip() for line in calls.read_text().splitlines()] == expected
