"""/api/health: database and model-cache status."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from ..detection.service import list_models
from ..engine_ext import get_engine
from ..extensions import db
from . import schema

bp = Blueprint("health", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


@bp.get("/health")
def health():
    """200 when the database answers with the current schema (models may still be missing: they are listed);
    503 otherwise, naming what to do."""
    database_ok = True
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        log.exception("Health check: database unreachable")
        database_ok = False
    state = schema.guard().state(db.engine, fresh=True) if database_ok else None
    schema_ok = state is None or not state.behind
    models = []
    try:
        models = [{"key": m["key"], "model_id": m["model_id"], "cached": m["available"], "default": m["default"]}
                  for m in list_models(engine=get_engine())]
    except Exception:
        log.exception("Health check: engine unavailable")
    default_cached = any(m["cached"] for m in models if m["default"])
    healthy = database_ok and schema_ok
    body = {
        "success": healthy,
        "status": "ok" if healthy and default_cached else ("degraded" if healthy else "error"),
        "database": {"ok": database_ok, "backend": db.engine.dialect.name},
        "schema": {"ok": database_ok and schema_ok, "revision": list(state.database) if state else None,
                   "head": list(state.code) if state else None},
        "models": models,
        "models_cached": sum(1 for m in models if m["cached"]),
        "jobs_backend": current_app.config["JOBS_BACKEND"],
        "mode": current_app.config["MODE"],
    }
    if not database_ok:
        body["message"] = "The database is not reachable"
    elif not schema_ok:
        body["message"] = schema.behind_message(state, mode=current_app.config["MODE"])
        body["command"] = schema.UPGRADE_COMMAND
    elif not default_cached:
        body["message"] = "The default model is not cached yet; fetch it with: deepfake download-models"
    return jsonify(body), 200 if healthy else 503


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
