"""`deepfake-server`: apply migrations, then serve the app with waitress (see http_server)."""

from __future__ import annotations

import logging
import sys

import click
from flask_migrate import upgrade

from ..settings import ServerEnv
from . import create_app
from .config import ConfigurationError
from .http_server import ServerSettings, create_server
from .jobs.backends import recover_interrupted_jobs
from .request_log import install_record_factory

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def prepare(app) -> None:
    """Upgrade the database to the latest migration and fail jobs a previous process left running."""
    with app.app_context():
        upgrade()
    if app.config["JOBS_BACKEND"] == "inprocess":
        # create_app did it too, unless the database was not migrated yet.
        recover_interrupted_jobs(app)


def configure_logging(level: str) -> None:
    """Log to stderr; each line carries the id of the request that logged it (see request_log)."""
    install_record_factory()
    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    # Alembic announces each of its internal plugins at INFO on every start: noise for operators.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _default(name: str):
    """The default declared for a server variable (the options read the same variables)."""
    return ServerEnv.model_fields[name].default


# click reads the variables itself so that a bad value names its option; the defaults and meanings are
# the declared ones (deepfake_detection.settings.ServerEnv).
@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--host", envvar="HOST", default=_default("HOST"), show_envvar=True, help="Address to listen on.")
@click.option(
    "--port",
    envvar="PORT",
    default=_default("PORT"),
    type=click.IntRange(1, 65535),
    show_envvar=True,
    help="Port to listen on.",
)
@click.option(
    "--threads",
    envvar="WAITRESS_THREADS",
    default=_default("WAITRESS_THREADS"),
    type=click.IntRange(min=1),
    show_envvar=True,
    help="Threads serving requests.",
)
@click.option(
    "--connection-limit",
    envvar="WAITRESS_CONNECTION_LIMIT",
    default=_default("WAITRESS_CONNECTION_LIMIT"),
    type=click.IntRange(min=1),
    show_envvar=True,
    help="Open connections served at once.",
)
@click.option(
    "--channel-timeout",
    envvar="WAITRESS_CHANNEL_TIMEOUT",
    default=_default("WAITRESS_CHANNEL_TIMEOUT"),
    type=click.IntRange(min=1),
    show_envvar=True,
    help="Seconds an idle connection is kept.",
)
@click.option(
    "--header-timeout",
    envvar="WAITRESS_HEADER_TIMEOUT",
    default=_default("WAITRESS_HEADER_TIMEOUT"),
    type=click.FloatRange(min=0, min_open=True),
    show_envvar=True,
    help="Seconds a client has to send its request headers (and the body's grace time).",
)
@click.option(
    "--min-body-rate",
    envvar="WAITRESS_MIN_BODY_RATE",
    default=_default("WAITRESS_MIN_BODY_RATE"),
    type=click.IntRange(min=0),
    show_envvar=True,
    help="Bytes/s an upload must average after the grace time, or it is cut off.",
)
@click.option(
    "--log-level",
    envvar="LOG_LEVEL",
    default=_default("LOG_LEVEL"),
    show_envvar=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def cli(host, port, threads, connection_limit, channel_timeout, header_timeout, min_body_rate, log_level) -> int:
    """Apply the database migrations, then serve the web app and the API (Ctrl+C stops it)."""
    configure_logging(log_level.upper())
    settings = ServerSettings(
        host=host,
        port=port,
        threads=threads,
        connection_limit=connection_limit,
        channel_timeout=channel_timeout,
        header_timeout=header_timeout,
        min_body_rate=min_body_rate,
    )
    try:
        app = create_app(upgrade_follows=True)  # prepare() migrates right after
    except ConfigurationError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    prepare(app)
    try:
        server = create_server(app, settings)
    except OSError as exc:
        print(f"Cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1") else host
    print(
        f"Deepfake detection running on http://{shown}:{port} (API under /api, docs at /api/docs)."
        " Press Ctrl+C to stop.",
        flush=True,
    )
    server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: a usage error is one line on stderr and exit status 2, never a traceback."""
    try:
        return cli.main(args=argv, prog_name="deepfake-server", standalone_mode=False) or 0
    except click.exceptions.Exit as exc:  # --help
        return exc.exit_code
    except click.ClickException as exc:
        print(f"deepfake-server: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except click.Abort:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
