"""The Flask API service: ``create_app`` builds it, ``serve`` runs it."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ..web import init_app as init_web
from . import config as config_module
from . import engine_ext, errors, models, request_log, startup, state  # noqa: F401  (models: tables registered)
from .auth import views as auth_views
from .calibration import views as calibration_views
from .database import is_sqlite, sqlite_engine_options
from .detection import views as detection_views
from .extensions import cors, db, jwt, limiter, migrate
from .health import schema
from .health import views as health_views
from .history import views as history_views
from .jobs import backends
from .openapi import views as openapi_views
from .request_parsing import DatabaseIdConverter
from .state import limiter_storage_uri
from .stats import views as stats_views
from .storage.service import ensure_folders

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


def create_app(test_config: dict | None = None, *, upgrade_follows: bool = False) -> Flask:
    """Build the app from the environment (or from ``test_config``, which wins).

    upgrade_follows: the caller migrates the database right after (deepfake-server), so a schema behind
    the code is announced at start, not warned about.
    """
    # First of all: a .env file must give exactly what the environment gives, the mode included.
    config_module.load_env_file()
    test_config = test_config or {}
    # Every variable validated once; values of test_config are validated as if they came from the environment.
    settings = config_module.load_settings(test_config)
    cls = config_module.config_class(settings.api.DEEPFAKE_MODE)
    chosen_instance = test_config.get("INSTANCE_PATH") or settings.api.DEEPFAKE_INSTANCE_PATH
    # Production mode writes only under folders it was given: no ./instance wherever a command runs.
    uses_instance = bool(chosen_instance) or test_config.get("MODE", cls.MODE) != "production"
    instance_path = os.path.abspath(chosen_instance or os.path.join(os.getcwd(), "instance"))
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)

    app.config.from_object(cls)
    app.config.update(test_config)
    app.config.update(config_module.flask_config(settings, cls))  # test_config's values, validated
    app.json.sort_keys = False  # keep the documented field order
    _finish_config(app, uses_instance=uses_instance)

    request_log.init_app(app)  # first, so its timer starts before any other hook can refuse the request
    errors.init_app(app)
    app.url_map.converters["id"] = DatabaseIdConverter  # before any route uses <id:...>
    _init_extensions(app)
    state.init_app(app)
    engine_ext.init_app(app)

    schema.init_app(app, migrations_dir=MIGRATIONS_DIR)
    for feature in (
        auth_views,
        calibration_views,
        detection_views,
        history_views,
        stats_views,
        health_views,
        openapi_views,
    ):
        feature.init_app(app)
    backends.init_app(app)
    _init_web_app(app)
    _trust_proxies(app)
    startup.run(app, upgrade_follows=upgrade_follows)
    return app


def _trust_proxies(app: Flask) -> None:
    """Take the client address from X-Forwarded-For, as set by PROXY_FIX_X_FOR trusted proxies."""
    hops = app.config["PROXY_FIX_X_FOR"]
    if hops:
        # Each trusted proxy appends the address it saw; the entry `hops` from the right is the client's.
        # Anything further left was written by the client and is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)


def _finish_config(app: Flask, *, uses_instance: bool) -> None:
    """Derive paths, secrets, database options and request limits from the loaded settings."""
    cfg = app.config
    config_module.finalise_secrets(cfg, app.instance_path)
    if not uses_instance:
        settings = (("DATABASE_URI", "SQLALCHEMY_DATABASE_URI"), ("UPLOAD_FOLDER", "UPLOAD_FOLDER"))
        missing = [name for name, key in settings if not cfg.get(key)]
        if missing:
            raise config_module.ConfigurationError(
                f"{' and '.join(missing)} must be set in production mode (or DEEPFAKE_INSTANCE_PATH, a folder"
                " for the defaults); the working directory is never written to"
            )
    else:
        os.makedirs(app.instance_path, exist_ok=True)
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "deepfake_detection.db")
    if is_sqlite(cfg["SQLALCHEMY_DATABASE_URI"]):
        options = sqlite_engine_options()
        options.update(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options
    else:
        cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if not cfg.get("UPLOAD_FOLDER"):
        cfg["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    cfg["UPLOAD_FOLDER"] = os.path.abspath(cfg["UPLOAD_FOLDER"])
    # The largest body anyone may send; endpoints lower it for themselves (see detection.views).
    cfg["MAX_CONTENT_LENGTH"] = max(cfg["MAX_IMAGE_SIZE"] * 2, cfg["MAX_VIDEO_SIZE"]) + cfg["UPLOAD_OVERHEAD"]
    cfg["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(cfg)

    ensure_folders(upload_root=cfg["UPLOAD_FOLDER"])


def _init_extensions(app: Flask) -> None:
    """Bind the shared extension objects to this app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    jwt.init_app(app)
    limiter.init_app(app)
    cors.init_app(
        app,
        resources={
            r"/api/*": {
                "origins": app.config["CORS_ORIGINS"],
                "methods": ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                "allow_headers": ["Content-Type", "Authorization", "Idempotency-Key"],
                "expose_headers": ["Idempotent-Replayed"],
            }
        },
    )


def _init_web_app(app: Flask) -> None:
    """Serve the browser app at /."""
    init_web(app)
