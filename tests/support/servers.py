"""`deepfake-server` as a user runs it: the console script in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = shutil.which("deepfake-server") or os.path.join(os.path.dirname(sys.executable), "deepfake-server")


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(instance, **extra) -> dict:
    """The environment of an embedded-mode server keeping everything in ``instance``."""
    env = {**os.environ, "DEEPFAKE_INSTANCE_PATH": str(instance), "HOST": "127.0.0.1", **extra}
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URI", "UPLOAD_FOLDER", "DEEPFAKE_MODE", "LOG_LEVEL"):
        env.pop(name, None)
    return env


class Server:
    """The console script in a subprocess (output in a log file), stopped by its pid."""

    def __init__(self, instance, port: int, *args: str, env: dict | None = None):
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log_path = Path(f"{instance}-server-{port}-{time.monotonic_ns()}.log")  # one per start
        with open(self.log_path, "wb") as log:
            # A file, not a pipe: a pipe nobody reads would block the server once its buffer fills.
            self.process = subprocess.Popen(
                [SCRIPT, *args], env=env or server_env(instance, PORT=str(port)), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + 120
            # The banner is printed once waitress has bound its socket.
            while "running on" not in self.log():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server exited with {self.process.poll()}: {self.log()}")
                time.sleep(0.05)  # waiting for the banner, not for a timing outcome
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def log(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def kill_hard(self) -> None:
        """kill -9, as when the machine loses power or the OOM killer strikes."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
