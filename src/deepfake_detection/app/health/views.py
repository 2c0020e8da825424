"""/api/health: database and model-cache status."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app

from ..engine_ext import get_engine
from ..extensions import db
from ..schemas_common import respond
from . import schema, service
from .schemas import Health

bp = Blueprint("health", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    """200 when the database answers with the current schema (models may still be missing: they are listed);
    503 otherwise, naming what to do."""
    body, healthy = service.health_report(
        db_engine=db.engine,
        guard=schema.guard(),
        get_engine=get_engine,
        jobs_backend=current_app.config["JOBS_BACKEND"],
        mode=current_app.config["MODE"],
    )
    return respond(Health.model_validate(body), 200 if healthy else 503)


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
