"""Slow-client benchmark: how fast `deepfake-server` answers /api/health while N clients trickle uploads.

Starts the real console script on a free loopback port (temporary instance folder), opens N connections
that each declare a 50 MB video upload and then send it one byte per connection per round, and times
GET /api/health while the trickle goes on. Prints JSON: health latency p50/max and how many of the
trickling connections the server still held open at the end (the rest it cut off as too slow).

Usage:  python bench/slow_clients_bench.py [--connections 150] [--probes 20] [-- extra deepfake-server args]
Figures go in the README section "Running, tests and CI".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

UPLOAD_HEADERS = (
    b"POST /api/detect/video HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000000\r\n"
    b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(folder: Path, port: int, extra: list[str]) -> subprocess.Popen:
    script = shutil.which("deepfake-server") or os.path.join(os.path.dirname(sys.executable), "deepfake-server")
    log = folder / "server.log"
    env = {**os.environ, "DEEPFAKE_INSTANCE_PATH": str(folder / "instance"), "HOST": "127.0.0.1", "PORT": str(port)}
    with open(log, "wb") as out:
        process = subprocess.Popen([script, *extra], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while "running on" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"server did not start: {log.read_text(errors='replace')}")
        time.sleep(0.1)
    return process


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=150)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("server_args", nargs="*", help="extra deepfake-server arguments (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slow-clients-") as tmp:
        port = _free_port()
        process = _start_server(Path(tmp), port, args.server_args)
        url = f"http://127.0.0.1:{port}/api/health"
        requests.get(url, timeout=30)  # warm-up: first request opens the database
        sockets, stop = [], threading.Event()
        try:
            for _ in range(args.connections):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(UPLOAD_HEADERS)
                sockets.append(sock)
            cut_off = set()

            def trickle():
                while not stop.is_set():
                    for sock in sockets:
                        if sock not in cut_off:
                            try:
                                sock.sendall(b"-")
                            except OSError:
                                cut_off.add(sock)
                    stop.wait(0.5)

            threading.Thread(target=trickle, daemon=True).start()
            latencies, failures = [], 0
            for _ in range(args.probes):
                started = time.perf_counter()
                try:
                    ok = requests.get(url, timeout=10).status_code == 200
                except requests.RequestException:
                    ok = False
                latencies.append(time.perf_counter() - started)
                failures += not ok
                time.sleep(0.25)
        finally:
            stop.set()
            for sock in sockets:
                sock.close()
            process.terminate()
            process.wait(timeout=30)
    print(
        json.dumps(
            {
                "connections": args.connections,
                "probes": args.probes,
                "failed_probes": failures,
                "health_p50_ms": round(statistics.median(latencies) * 1000, 1),
                "health_max_ms": round(max(latencies) * 1000, 1),
                "trickling_connections_cut_off": len(cut_off),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
