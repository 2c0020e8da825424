"""`deepfake-server`: apply migrations, then serve the app with waitress (HOST/PORT, default 127.0.0.1:5000)."""

from __future__ import annotations

import logging
import os
import sys


def prepare(app) -> None:
    """Upgrade the database to the latest migration and fail jobs a previous process left running."""
    from flask_migrate import upgrade

    from .jobs.backends import recover_interrupted_jobs

    with app.app_context():
        upgrade()
    if app.config["JOBS_BACKEND"] == "inprocess":
        # create_app did it too, unless the database was not migrated yet.
        recover_interrupted_jobs(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces each of its internal plugins at INFO on every start: noise for operators.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from waitress import serve

    from . import create_app
    from .config import ConfigurationError

    try:
        app = create_app()
    except ConfigurationError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    prepare(app)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    threads = int(os.environ.get("WAITRESS_THREADS", "8"))
    print(f"Deepfake detection running on http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
          " (API under /api, docs at /api/docs)", flush=True)
    serve(app, host=host, port=port, threads=threads, max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1024)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
