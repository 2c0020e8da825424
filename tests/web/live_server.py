"""Run the real app for the browser tests: migrate, then serve on a free port and print it.

Started as a subprocess by conftest.py so the server has its own environment (tiny model cache,
temporary database and upload folder) and its own interpreter (no GIL contention with the browser
driver). Prints "LISTENING <port>" once it accepts connections.
"""

from __future__ import annotations

import sys

from werkzeug.serving import make_server

from deepfake_detection.app import create_app
from deepfake_detection.app.serve import prepare


def main() -> int:
    """Build, migrate and serve until terminated."""
    app = create_app()
    prepare(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"LISTENING {server.server_port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
